"""Turning whatever image arrives into the tensor a model expects.

`to_rgb` handles every PIL mode a library scan or an upload may carry (transparency is
composited on white: it's paper; 16-bit scans are scaled, not clipped). The resize/crop/
normalise steps are built by timm or open_clip from the model's `ImagePreprocess` row.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

from .specs import EmbedderSpec, ImagePreprocess

if TYPE_CHECKING:
    import torch

PAPER_WHITE = (255, 255, 255)
# Beyond this aspect ratio a shortest-side resize would blow up the long side (a 1×5000 strip
# becomes 224×1,120,000 px); the centre crop only ever sees the middle, so trim first.
MAX_SHORTEST_ASPECT = 4.0


def open_image(data: bytes) -> Image.Image:
    """Decode uploaded bytes into a loaded RGB image, honouring EXIF orientation (phones)."""
    image = Image.open(io.BytesIO(data))
    image = ImageOps.exif_transpose(image)
    image.load()
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB without losing content."""
    mode = image.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if mode == "RGB" and not has_alpha:
        return image
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(image)
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, PAPER_WHITE + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    # CMYK, YCbCr, LAB, HSV, L, 1, P: PIL's conversions (Adobe-inverted CMYK JPEGs are
    # already un-inverted by the JPEG decoder).
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey: scale to 8 bit (PIL's own convert clips everything above 255)."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16") or (values.size and values.max() > 255 and values.max() <= 65535
                                         and values.min() >= 0):
        scaled = values / 257.0
    elif values.size and (values.min() < 0 or values.max() > 255):
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    else:
        scaled = values
    grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def trim_extreme_aspect(image: Image.Image, preprocess: ImagePreprocess) -> Image.Image:
    """For shortest-side + centre crop only: cut a very long strip down to its centre.

    The result differs from the untrimmed path only by resampling rounding, and keeps the
    memory of one resize bounded.
    """
    if preprocess.resize_mode != "shortest":
        return image
    width, height = image.size
    short, long = min(width, height), max(width, height)
    if long <= short * MAX_SHORTEST_ASPECT:
        return image
    keep = int(round(short * MAX_SHORTEST_ASPECT))
    start = (long - keep) // 2
    box = (start, 0, start + keep, height) if width > height else (0, start, width, start + keep)
    return image.crop(box)


def build_image_transform(spec: EmbedderSpec) -> Callable[[Image.Image], "torch.Tensor"]:
    """The library's own eval transform for this model, configured from its spec row."""
    pre = _require_preprocess(spec)
    if spec.library == "timm":
        from timm.data import create_transform

        # crop_pct=1 + squash: resize to size×size, the CenterCrop timm appends is then a no-op.
        return create_transform(
            input_size=(3, pre.size, pre.size),
            interpolation=pre.interpolation,
            mean=pre.mean,
            std=pre.std,
            crop_pct=1.0,
            crop_mode="squash" if pre.resize_mode == "squash" else "center",
        )
    from open_clip.transform import PreprocessCfg, image_transform_v2

    cfg = PreprocessCfg(
        size=pre.size,
        mode="RGB",
        mean=pre.mean,
        std=pre.std,
        interpolation=pre.interpolation,
        resize_mode=pre.resize_mode,
    )
    return image_transform_v2(cfg, is_train=False)


def _require_preprocess(spec: EmbedderSpec) -> ImagePreprocess:
    if spec.preprocess is None:
        raise ValueError(f"embedder {spec.name!r} takes no tensor input")
    return spec.preprocess
