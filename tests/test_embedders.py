"""Embedders on real shared images with random weights (no hub is reachable here), the
pretrained loading path on a hub cache built from those random weights, the clear failure
when weights are missing, the preprocessing of each model against its definition, and the
perceptual-hash baseline."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torchvision.transforms import functional as TF

from vignett.models import (
    EMBEDDER_SPECS,
    Embedder,
    WeightsDownloadError,
    WeightsNotAvailable,
    create_embedder,
    create_embedders,
    hamming_distances,
    open_image,
    to_rgb,
)
from vignett.models.preprocess import build_image_transform
from vignett.models.weights import check_hub_reachable, locate_weights

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IMAGES = DATA / "images"
# Few images keep the module fast on a 2-core CPU: two embedded by every network, a third for odd modes.
SAMPLE = [
    "chr24-nln/3-tiger.jpg",
    "nls-chapbooks/104820870.3.jpg",
    "openclipart-outofdomain/geography__world_map_01.jpg",
]
EMBEDDED = 2
NETWORKS = ("vit", "clip", "siglip")

# No skip: without the shared images these tests must fail, not pass quietly.
assert IMAGES.is_dir(), f"shared images not found at {IMAGES}"


class NetworkTouched(AssertionError):
    pass


def _refuse(*args, **kwargs):
    raise NetworkTouched(f"network access attempted: {args[1:]!r}")


@pytest.fixture(scope="module", autouse=True)
def few_threads():
    """The test machine has 2 cores; more threads than cores only adds contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def sample_images() -> list[Image.Image]:
    paths = [IMAGES / name for name in SAMPLE]
    missing = [p for p in paths if not p.is_file()]
    if missing:  # the exact files may change; any three real images will do
        paths = sorted(IMAGES.glob("chr24-nln/*.jpg"))[:3]
    return [Image.open(p).convert("RGB") for p in paths]


@pytest.fixture(scope="module")
def nets():
    """Each network once per module, built with random weights and with sockets refused."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _refuse)
        mp.setattr(socket, "getaddrinfo", _refuse)
        return {
            name: create_embedder(name, weights="random", device="cpu", seed=0, batch_size=8)
            for name in NETWORKS
        }


@pytest.fixture(scope="module")
def batch_vectors(nets, sample_images):
    return {name: nets[name].embed_images(sample_images[:EMBEDDED]) for name in NETWORKS}


# --- vectors -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NETWORKS)
def test_random_vectors_have_the_spec_shape_and_unit_norm(name, nets, batch_vectors):
    net, vectors = nets[name], batch_vectors[name]
    assert vectors.shape == (EMBEDDED, EMBEDDER_SPECS[name].dim) and vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])  # different images, different vectors
    assert net.weights == "random" and net.version.startswith(f"{name}:") and "random-seed0" in net.version
    assert isinstance(net, Embedder) and net.dim == vectors.shape[1]


@pytest.mark.parametrize("name", NETWORKS)
def test_batch_equals_single_and_same_image_same_vector(name, nets, batch_vectors, sample_images):
    net = nets[name]
    singles = np.concatenate([net.embed_images([image]) for image in sample_images[:EMBEDDED]])
    np.testing.assert_allclose(batch_vectors[name], singles, atol=2e-5)
    again = net.embed_images([sample_images[0]])
    np.testing.assert_array_equal(again[0], singles[0])


def test_random_weights_are_the_same_in_another_process(nets, sample_images, tmp_path):
    """Same seed → same weights → the same vector from a fresh interpreter."""
    image_path = tmp_path / "image.png"
    sample_images[0].save(image_path)
    out = tmp_path / "vector.npy"
    script = (
        "import sys, numpy, torch; from PIL import Image; torch.set_num_threads(1);"
        "from vignett.models import create_embedder;"
        "e = create_embedder('clip', weights='random', device='cpu', seed=0);"
        f"numpy.save(r'{out}', e.embed_images([Image.open(r'{image_path}')]))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    mine = nets["clip"].embed_images([Image.open(image_path)])
    np.testing.assert_allclose(np.load(out), mine, atol=1e-5)


@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_text_encoders_give_unit_vectors(name, nets):
    texts = ["et fyrtårn ved kysten", "a tiger in the jungle", ""]
    vectors = nets[name].embed_texts(texts)
    assert vectors.shape == (3, EMBEDDER_SPECS[name].dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    single = nets[name].embed_texts(texts[:1])
    np.testing.assert_allclose(single[0], vectors[0], atol=2e-5)  # batch equals single
    np.testing.assert_array_equal(nets[name].embed_texts(texts[:1]), single)  # deterministic


def test_siglip_random_mode_says_its_tokenizer_is_a_stand_in(nets):
    assert nets["siglip"].version == "siglip:ViT-B-16-SigLIP-i18n-256:random-seed0:hash-tokenizer"
    assert nets["clip"].version == "clip:ViT-B-32:random-seed0"  # CLIP's real BPE ships with open_clip
    with pytest.raises(TypeError):
        nets["vit"].embed_texts(["no text tower"])


# --- preprocessing -----------------------------------------------------------------------


def _normalise(image: Image.Image, name: str) -> torch.Tensor:
    pre = EMBEDDER_SPECS[name].preprocess
    return TF.normalize(TF.to_tensor(image), pre.mean, pre.std)


@pytest.fixture(scope="module")
def wide_image(sample_images) -> Image.Image:
    return sample_images[0].resize((400, 100))


def test_vit_gets_a_224_squash_resize_without_crop(nets, wide_image):
    got = nets["vit"].preprocess_images([wide_image])[0]
    expected = _normalise(wide_image.resize((224, 224), Image.Resampling.BILINEAR), "vit")
    assert got.shape == (3, 224, 224)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_clip_gets_a_centre_crop_of_a_shortest_side_224_resize(nets, wide_image):
    got = nets["clip"].preprocess_images([wide_image])[0]
    resized = wide_image.resize((896, 224), Image.Resampling.BICUBIC)
    expected = _normalise(resized.crop((336, 0, 560, 224)), "clip")
    assert got.shape == (3, 224, 224)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_siglip_gets_a_256_squash_resize(nets, wide_image):
    got = nets["siglip"].preprocess_images([wide_image])[0]
    expected = _normalise(wide_image.resize((256, 256), Image.Resampling.BICUBIC), "siglip")
    assert got.shape == (3, 256, 256)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_very_long_strip_is_trimmed_before_the_shortest_side_resize(nets, sample_images):
    """Trimming only keeps memory bounded: the crop the model sees is (almost) unchanged."""
    strip = sample_images[1].resize((1600, 100))
    trimmed = nets["clip"].preprocess_images([strip])[0]
    untrimmed = build_image_transform(EMBEDDER_SPECS["clip"])(strip)
    assert (trimmed - untrimmed).abs().mean() < 0.02


def test_modes_are_converted_to_rgb_on_white_paper():
    transparent_red = Image.new("RGBA", (2, 2), (255, 0, 0, 0))
    assert to_rgb(transparent_red).getpixel((0, 0)) == (255, 255, 255)
    half_black = Image.new("LA", (2, 2), (0, 128))
    assert to_rgb(half_black).getpixel((0, 0)) == (127, 127, 127)
    palette = Image.new("P", (2, 2), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    assert to_rgb(palette).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("CMYK", (2, 2), (0, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("CMYK", (2, 2), (0, 0, 0, 255))).getpixel((0, 0)) == (0, 0, 0)
    sixteen = Image.fromarray(np.array([[30000, 65535]], dtype=np.uint16))
    assert sixteen.mode.startswith("I;16")
    assert [to_rgb(sixteen).getpixel((x, 0)) for x in (0, 1)] == [(117, 117, 117), (255, 255, 255)]
    assert to_rgb(Image.new("L", (1, 1), 40)).getpixel((0, 0)) == (40, 40, 40)


def test_odd_modes_and_sizes_embed(nets, sample_images):
    base = sample_images[2]
    odd = [
        base.convert("L"),
        base.convert("P", palette=Image.Palette.ADAPTIVE),
        base.convert("CMYK"),
        base.convert("RGBA"),
        base.convert("LA"),
        Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257)),
        Image.new("RGB", (1, 1), (10, 20, 30)),
        base.resize((3000, 1)),
        base.resize((1, 3000)),
    ]
    vectors = nets["clip"].embed_images(odd)
    assert vectors.shape == (len(odd), 512) and np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the 16-bit copy of the grey image is the grey image
    np.testing.assert_allclose(vectors[5], vectors[0], atol=1e-5)
    for name in ("vit", "siglip"):
        size = EMBEDDER_SPECS[name].preprocess.size
        assert nets[name].preprocess_images(odd[-3:]).shape == (3, 3, size, size)


def test_open_image_decodes_an_upload_and_applies_exif_orientation(sample_images):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    sample_images[0].convert("CMYK").save(buffer, format="JPEG", exif=exif)
    image = open_image(buffer.getvalue())
    assert image.mode == "RGB" and image.size == sample_images[0].size[::-1]


# --- pretrained weights ------------------------------------------------------------------


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """weights_dir and every hub cache location point at empty folders."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.setenv(var, str(tmp_path / "hub-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    (tmp_path / "weights").mkdir()
    return tmp_path / "weights"


@pytest.mark.parametrize("name", NETWORKS)
def test_missing_pretrained_weights_fail_clearly(name, empty_caches):
    started = time.monotonic()
    with pytest.raises(WeightsNotAvailable) as caught:
        create_embedder(name, weights="pretrained", device="cpu", weights_dir=str(empty_caches))
    message = str(caught.value)
    assert name in message and EMBEDDER_SPECS[name].hub.repo_id in message
    assert str(empty_caches) in message and "vignett models download" in message
    assert caught.value.model == name
    assert time.monotonic() - started < 5


def test_pretrained_is_the_default_and_settings_never_fall_back(empty_caches):
    from vignett.config import load_settings

    settings = load_settings(env={"VIGNETT_MODELS_WEIGHTS_DIR": str(empty_caches)}).models
    assert settings.weights == "pretrained"
    with pytest.raises(WeightsNotAvailable):
        create_embedder("clip", device="cpu", weights_dir=str(empty_caches))
    with pytest.raises(WeightsNotAvailable):
        create_embedders(settings)


def _fake_hub_snapshot(cache: Path, repo_id: str, filename: str, tensors: dict) -> str:
    """Lay out files exactly as huggingface_hub's cache does (refs/main → snapshots/<rev>)."""
    from safetensors.torch import save_file

    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(snapshot / filename))
    return revision


@pytest.mark.parametrize("name", ["vit", "clip"])
def test_pretrained_loading_reads_local_hub_files(name, nets, batch_vectors, sample_images, empty_caches):
    """The production loading path (timm / open_clip from a local file), fed the random weights
    of the module's network saved as a hub snapshot, reproduces that network's vectors."""
    spec = EMBEDDER_SPECS[name]
    tensors = dict(nets[name].model.state_dict())
    if name == "vit":  # the real checkpoint carries its ImageNet classifier; timm drops it
        tensors["head.weight"] = torch.zeros(1000, 768)
        tensors["head.bias"] = torch.zeros(1000)
    revision = _fake_hub_snapshot(empty_caches, spec.hub.repo_id, spec.hub.weight_files[0], tensors)
    del tensors
    assert locate_weights(spec, str(empty_caches)).revision == revision

    loaded = create_embedder(name, weights="pretrained", device="cpu", weights_dir=str(empty_caches))
    assert loaded.weights == "pretrained"
    assert loaded.version == f"{name}:{spec.architecture}:{spec.hub.tag}@{revision[:12]}"
    np.testing.assert_allclose(loaded.embed_images(sample_images[:EMBEDDED]), batch_vectors[name], atol=1e-5)


def test_download_fails_fast_and_clearly_when_the_hub_is_unreachable(monkeypatch, tmp_path):
    import huggingface_hub.constants as hub_constants

    from vignett.cli import main

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "ENDPOINT", "https://model-hub.invalid")
    started = time.monotonic()
    result = CliRunner().invoke(
        main, ["models", "download", "clip", "--weights-dir", str(tmp_path), "--timeout", "2"]
    )
    assert result.exit_code == 1, result.output
    assert "cannot reach" in result.output and "vignett models download" in result.output
    assert time.monotonic() - started < 15
    # a host that never answers: the timeout, not the operating system, ends the wait
    monkeypatch.setattr(hub_constants, "ENDPOINT", "https://10.255.255.1")
    started = time.monotonic()
    with pytest.raises(WeightsDownloadError):
        check_hub_reachable(1.0)
    assert time.monotonic() - started < 5


def test_models_list_reports_each_model_and_where_weights_are(empty_caches):
    from vignett.cli import main

    result = CliRunner().invoke(
        main, ["models", "list", "--json"], env={"VIGNETT_MODELS_WEIGHTS_DIR": str(empty_caches)}
    )
    assert result.exit_code == 0, result.output
    import json

    rows = {row["name"]: row for row in map(json.loads, result.output.splitlines())}
    assert set(rows) == set(EMBEDDER_SPECS)
    assert rows["siglip"]["dim"] == 768 and rows["phash"]["element_type"] == "bit"
    assert rows["vit"]["weights"] == "missing" and str(empty_caches) in rows["vit"]["where"]
    assert rows["phash"]["weights"] == "found"


# --- perceptual hash ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def phash_corpus():
    paths = sorted(IMAGES.glob("nls-chapbooks/*.jpg"))[:40] + sorted(IMAGES.glob("chr24-nln/*.jpg"))[:20]
    images = [Image.open(p).convert("RGB") for p in paths]
    embedder = create_embedder("phash")
    return embedder, images, embedder.embed_images(images)


def test_phash_rows_are_packed_bits_in_imagehash_order(phash_corpus):
    import imagehash

    embedder, images, packed = phash_corpus
    assert packed.shape == (len(images), 8) and packed.dtype == np.uint8
    assert bytes(packed[0]).hex() == str(imagehash.phash(images[0]))
    assert embedder.weights == "none" and embedder.version.startswith("phash:imagehash-")


@pytest.mark.parametrize("index", [0, 7, 23])
def test_phash_finds_an_exact_copy_and_a_jpeg_resave(phash_corpus, index):
    embedder, images, packed = phash_corpus
    copy = images[index].copy()
    distances = hamming_distances(embedder.embed_images([copy])[0], packed)
    assert distances[index] == 0 and np.sort(distances)[1] > 0

    buffer = io.BytesIO()
    images[index].save(buffer, format="JPEG", quality=60)
    resaved = Image.open(io.BytesIO(buffer.getvalue()))
    distances = hamming_distances(embedder.embed_images([resaved])[0], packed)
    assert distances[index] <= 4
    assert np.argmin(distances) == index and np.sort(distances)[1] > distances[index]
