"""Vectors for labelled image files, cached on disk so `classify evaluate` re-runs in seconds.

One `.npz` per embedder version holds the rows computed so far, keyed by the image's path and
a fingerprint of the file (size + mtime): a changed file is embedded again, a new embedder
version starts a new cache, and an interrupted run keeps what it finished.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .base import Embedder

def cache_file_for(cache_dir: Path, embedder_version: str) -> Path:
    """`<cache_dir>/<version made file-safe>.npz`."""
    return Path(cache_dir) / (re.sub(r"[^A-Za-z0-9._-]+", "_", embedder_version) + ".npz")


def file_fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def embed_files_cached(
    paths: Sequence[Path],
    embedder: Embedder,
    cache_dir: Path,
    *,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """One row per path (the embedder's dtype and width), in the order given."""
    precision = getattr(embedder, "precision", "fp32")  # bf16 rows differ: a cache of their own
    cache_file = cache_file_for(cache_dir, f"{embedder.version}-{precision}")
    cached = _read_cache(cache_file)
    keys = [str(Path(p).resolve()) for p in paths]
    prints = [file_fingerprint(Path(p)) for p in paths]
    todo = [i for i, (k, f) in enumerate(zip(keys, prints)) if cached.get(k, (None,))[0] != f]
    if progress:
        progress(len(paths) - len(todo))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        images = [_open_rgb(Path(paths[i])) for i in chunk]
        rows = embedder.embed_images(images)
        for i, row in zip(chunk, rows):
            cached[keys[i]] = (prints[i], row)
        _write_cache(cache_file, cached)  # small (a few MB): saved per batch, so a stop loses little
        if progress:
            progress(len(chunk))
    return np.stack([cached[k][1] for k in keys]) if keys else np.zeros((0, embedder.dim))


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _read_cache(path: Path) -> dict[str, tuple[str, np.ndarray]]:
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as data:
        return {
            str(k): (str(f), v)
            for k, f, v in zip(data["keys"], data["fingerprints"], data["vectors"])
        }


def _write_cache(path: Path, rows: dict[str, tuple[str, np.ndarray]]) -> None:
    """Write to a temporary file and rename, so a crash never leaves half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(rows)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        keys=np.array(keys, dtype=str),
        fingerprints=np.array([rows[k][0] for k in keys], dtype=str),
        vectors=np.stack([rows[k][1] for k in keys]),
    )
    tmp.replace(path)


def embed_label_files(
    paths: Sequence[Path],
    names: Sequence[str],
    *,
    weights: str,
    cache_dir: Path,
    device: str = "cpu",
    seed: int = 0,
    precision: str = "fp32",
    weights_dir: str | None = None,
    batch_size: int = 16,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Vectors of every file for each embedder `names` (cached), and each embedder's version."""
    from .registry import create_embedder

    vectors: dict[str, np.ndarray] = {}
    versions: dict[str, str] = {}
    for name in names:
        embedder = create_embedder(
            name, weights, device, weights_dir=weights_dir, seed=seed,
            precision=precision, batch_size=batch_size,  # type: ignore[arg-type]
        )
        report = (lambda n, _name=name: progress(_name, n)) if progress else None
        vectors[name] = embed_files_cached(paths, embedder, cache_dir, batch_size=batch_size, progress=report)
        versions[name] = embedder.version
    return vectors, versions
