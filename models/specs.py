"""What each named embedder is and produces, without loading torch: the one list of models.

The index mapping and the API read `dim` and `element_type`; the embedders built by
`models.registry.create_embedder` read the rest (architecture, where the pretrained weights
live on the hub, how an image is prepared). Changing a model means changing its row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ResizeMode = Literal["squash", "shortest"]
Interpolation = Literal["bilinear", "bicubic"]

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class ImagePreprocess:
    """How an RGB image becomes the model's input tensor (as timm/open_clip describe it).

    `squash`: resize both sides to `size` (aspect ratio not kept, nothing cropped).
    `shortest`: resize the shortest side to `size`, then take the centre `size`×`size` crop.
    """

    size: int
    resize_mode: ResizeMode
    interpolation: Interpolation
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class HubWeights:
    """Where a model's pretrained files live: a Hugging Face hub repo and the files to load.

    `weight_files` are alternatives (first found wins: safetensors before pickles);
    `extra_files` are all required (e.g. the tokenizer of a multilingual text tower).
    """

    repo_id: str
    tag: str
    weight_files: tuple[str, ...]
    extra_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmbedderSpec:
    """Static facts about one embedder."""

    name: str
    dim: int
    element_type: Literal["float", "bit"]
    multimodal: bool
    description: str
    # Which library builds the network and which of its architectures (None: not a network).
    library: Literal["timm", "open_clip", "imagehash"] = "imagehash"
    architecture: str = ""
    preprocess: ImagePreprocess | None = None
    hub: HubWeights | None = None
    # Library options that are part of the architecture (e.g. OpenAI CLIP's QuickGELU).
    architecture_options: tuple[tuple[str, object], ...] = field(default=())


# ViT: the weights of google/vit-base-patch16-224 (the paper's ViT), as timm ports them from the
# same Google JAX checkpoint (ImageNet-21k pretrain, ImageNet-1k fine-tune at 224). The paper
# fed it through the Hugging Face ViTImageProcessor: 224×224 bilinear squash, mean=std=0.5.
_VIT = EmbedderSpec(
    "vit", 768, "float", False,
    "timm ViT-B/16 224, CLS token (google/vit-base-patch16-224 weights)",
    library="timm",
    architecture="vit_base_patch16_224",
    preprocess=ImagePreprocess(224, "squash", "bilinear", HALF, HALF),
    hub=HubWeights(
        "timm/vit_base_patch16_224.orig_in21k_ft_in1k", "orig_in21k_ft_in1k",
        ("model.safetensors", "pytorch_model.bin"),
    ),
)
_CLIP = EmbedderSpec(
    "clip", 512, "float", True,
    "open_clip ViT-B-32, OpenAI weights",
    library="open_clip",
    architecture="ViT-B-32",
    preprocess=ImagePreprocess(224, "shortest", "bicubic", OPENAI_MEAN, OPENAI_STD),
    hub=HubWeights(
        "timm/vit_base_patch32_clip_224.openai", "openai",
        ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
    ),
    architecture_options=(("force_quick_gelu", True),),
)
_SIGLIP = EmbedderSpec(
    "siglip", 768, "float", True,
    "open_clip ViT-B-16-SigLIP-i18n-256 (multilingual)",
    library="open_clip",
    architecture="ViT-B-16-SigLIP-i18n-256",
    preprocess=ImagePreprocess(256, "squash", "bicubic", HALF, HALF),
    hub=HubWeights(
        "timm/ViT-B-16-SigLIP-i18n-256", "webli",
        ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
        extra_files=("tokenizer_config.json", "tokenizer.json", "special_tokens_map.json"),
    ),
)
_PHASH = EmbedderSpec("phash", 64, "bit", False, "imagehash perceptual hash, 64 bits")

EMBEDDER_SPECS: dict[str, EmbedderSpec] = {
    spec.name: spec for spec in (_VIT, _CLIP, _SIGLIP, _PHASH)
}


def embedder_spec(name: str) -> EmbedderSpec:
    try:
        return EMBEDDER_SPECS[name]
    except KeyError:
        raise KeyError(
            f"unknown embedder {name!r}; known: {', '.join(EMBEDDER_SPECS)}"
        ) from None
