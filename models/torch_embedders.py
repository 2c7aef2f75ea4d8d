"""The neural embedders: timm's ViT and open_clip's CLIP/SigLIP behind one batched code path.

Networks are built by their own libraries from the spec row. `weights="pretrained"` loads
local files only (see `weights.py`); `weights="random"` builds the same architecture under a
fixed seed, so any two processes get the same weights and therefore the same vectors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .base import Precision, WeightsKind
from .errors import MissingDependency
from .preprocess import build_image_transform, to_rgb, trim_extreme_aspect
from .specs import EmbedderSpec, ImagePreprocess
from .tokenizers import HashingTokenizer
from .weights import LocatedWeights, hub_offline, locate_weights

Tokenizer = Callable[[Sequence[str]], torch.Tensor]


class TorchEmbedder:
    """Batching, inference mode, device placement, optional bf16 autocast, L2 normalisation."""

    def __init__(
        self,
        spec: EmbedderSpec,
        model: torch.nn.Module,
        *,
        version: str,
        weights: WeightsKind,
        device: str,
        precision: Precision = "fp32",
        batch_size: int = 16,
        tokenizer: Tokenizer | None = None,
    ):
        self.spec = spec
        self.name = spec.name
        self.version = version
        self.weights = weights
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.preprocess: ImagePreprocess | None = spec.preprocess
        self.tokenizer = tokenizer
        self.model = model.eval().to(device)
        # Channels-last lets oneDNN/cuDNN run the patch-embedding convolution without a layout copy.
        self.model.to(memory_format=torch.channels_last)
        self._transform = build_image_transform(spec)

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def supports_text(self) -> bool:
        return self.tokenizer is not None

    def preprocess_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Images of any mode and size → the model's normalised input batch [n, 3, H, W] (CPU)."""
        pre = self.preprocess
        assert pre is not None
        return torch.stack([self._transform(trim_extreme_aspect(to_rgb(im), pre)) for im in images])

    def embed_images(self, images: Sequence[Image.Image], batch_size: int | None = None) -> np.ndarray:
        images = list(images)
        step = batch_size or self.batch_size
        chunks = [
            self.encode_image_batch(self.preprocess_images(images[i : i + step]))
            for i in range(0, len(images), step)
        ]
        return self._stack(chunks)

    def embed_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        if self.tokenizer is None:
            raise TypeError(f"embedder {self.name!r} has no text encoder")
        texts = list(texts)
        step = batch_size or self.batch_size
        chunks = []
        for i in range(0, len(texts), step):
            tokens = self.tokenizer(texts[i : i + step]).to(self.device)
            with self._inference():
                chunks.append(self._normalised(self._encode_texts(tokens)))
        return self._stack(chunks)

    def encode_image_batch(self, batch: torch.Tensor) -> np.ndarray:
        """A prepared input batch → L2-normalised float32 vectors (used by the bench too)."""
        batch = batch.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with self._inference():
            return self._normalised(self._encode_images(batch))

    def _encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _encode_texts(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        autocast: Any = (
            torch.autocast(device_type, dtype=torch.bfloat16)
            if self.precision == "bf16"
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            yield

    @staticmethod
    def _normalised(vectors: torch.Tensor) -> np.ndarray:
        return F.normalize(vectors.float(), dim=-1).cpu().numpy().astype(np.float32, copy=False)

    def _stack(self, chunks: list[np.ndarray]) -> np.ndarray:
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(chunks)


class TimmViTEmbedder(TorchEmbedder):
    """timm ViT without its classifier: the forward pass returns the final-layer CLS token
    (after the final LayerNorm), as Hugging Face's `last_hidden_state[:, 0]`."""

    def _encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch)


class OpenClipEmbedder(TorchEmbedder):
    """open_clip's image and text towers (projected embeddings)."""

    def _encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(batch)

    def _encode_texts(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(tokens)


def build_torch_embedder(
    spec: EmbedderSpec,
    weights: WeightsKind,
    *,
    weights_dir: str | None,
    seed: int,
    device: str,
    precision: Precision,
    batch_size: int,
) -> TorchEmbedder:
    """Build the network named by `spec` with pretrained (local files) or seeded random weights."""
    located = locate_weights(spec, weights_dir) if weights == "pretrained" else None
    with hub_offline(), _seeded(seed):
        if spec.library == "timm":
            model, tokenizer = _build_timm(spec, located), None
        else:
            model, tokenizer = _build_open_clip(spec, located)
    if located is not None:
        assert spec.hub is not None
        version = f"{spec.name}:{spec.architecture}:{spec.hub.tag}@{located.revision[:12]}"
    else:
        version = f"{spec.name}:{spec.architecture}:random-seed{seed}"
        if isinstance(tokenizer, HashingTokenizer):
            version += f":{tokenizer.label}"
    cls = TimmViTEmbedder if spec.library == "timm" else OpenClipEmbedder
    return cls(
        spec, model, version=version, weights=weights, device=device,
        precision=precision, batch_size=batch_size, tokenizer=tokenizer,
    )


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator for the build without disturbing the caller's RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _build_timm(spec: EmbedderSpec, located: LocatedWeights | None) -> torch.nn.Module:
    import timm

    if located is None:
        return timm.create_model(spec.architecture, pretrained=False, num_classes=0)
    assert spec.hub is not None
    return timm.create_model(
        f"{spec.architecture}.{spec.hub.tag}",
        pretrained=True,
        num_classes=0,
        pretrained_cfg_overlay={"file": str(located.weights_file)},
    )


def _build_open_clip(
    spec: EmbedderSpec, located: LocatedWeights | None
) -> tuple[torch.nn.Module, Tokenizer]:
    import open_clip

    # The tokenizer first: a missing dependency should fail before a 1.5 GB load, not after.
    text_cfg = open_clip.get_model_config(spec.architecture)["text_cfg"]
    tokenizer: Tokenizer
    if "hf_tokenizer_name" not in text_cfg:
        tokenizer = open_clip.get_tokenizer(spec.architecture)  # CLIP's BPE ships with open_clip
    elif located is None:
        tokenizer = HashingTokenizer(text_cfg["vocab_size"], text_cfg["context_length"])
    else:
        tokenizer = _hf_tokenizer(spec, located, text_cfg)
    model = open_clip.create_model(
        spec.architecture,
        pretrained=str(located.weights_file) if located else None,
        require_pretrained=located is not None,
        **dict(spec.architecture_options),
    )
    return model, tokenizer


def _hf_tokenizer(spec: EmbedderSpec, located: LocatedWeights, text_cfg: dict) -> Tokenizer:
    """The real multilingual tokenizer, from the files next to the weights (never the network)."""
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise MissingDependency(
            f"{spec.name}'s multilingual tokenizer needs the `transformers` package "
            f"(pip install transformers); it reads tokenizer.json next to the weights"
        ) from None
    from open_clip.tokenizer import HFTokenizer

    tokenizer_dir = located.extra_files[0].parent
    return HFTokenizer(
        str(tokenizer_dir),
        context_length=text_cfg["context_length"],
        **text_cfg.get("tokenizer_kwargs", {}),
    )
