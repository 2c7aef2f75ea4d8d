"""Shared pieces of the index benchmarks (bench/recall.py, bench/latency.py).

Synthetic vectors come from a clustered distribution because real image embeddings are
clustered (pictures of one kind sit together); uniform random vectors on the sphere would make
HNSW look worse and quantisation look better than they are on real data. The machine
description goes into every JSON so numbers from different hosts are never compared blindly.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"


@dataclass(frozen=True)
class ClusteredSpace:
    """`clusters` unit-length centres in `dim` dimensions; points are centre + Gaussian noise
    of norm about `spread`, re-normalised (all vectors in the index are L2-normalised)."""

    centres: np.ndarray
    spread: float

    @classmethod
    def create(cls, rng: np.random.Generator, dim: int, clusters: int = 200, spread: float = 0.8) -> ClusteredSpace:
        return cls(normalise(rng.standard_normal((clusters, dim)).astype(np.float32)), spread)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        clusters, dim = self.centres.shape
        which = rng.integers(0, clusters, n)
        noise = rng.standard_normal((n, dim)).astype(np.float32) * (self.spread / np.sqrt(dim))
        return normalise(self.centres[which] + noise)


def normalise(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def machine() -> dict[str, object]:
    """CPU model, cores and memory: enough to tell whether two result files are comparable."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_bytes": memory,
            "memory_gib": round(memory / 2**30, 1), "platform": platform.platform(),
            "python": platform.python_version()}


def code_version() -> dict[str, object]:
    """The commit the numbers were measured on, and whether the tree had uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (no interpolation: an observed value)."""
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def latency_summary(times_ms: list[float]) -> dict[str, float]:
    ordered = sorted(times_ms)
    if not ordered:
        return {"n": 0, "median_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 3),
            "p95_ms": round(percentile(ordered, 0.95), 3), "p99_ms": round(percentile(ordered, 0.99), 3)}


def store_bytes(client, index: str) -> int:
    """Primary store size of one concrete index (after force-merge: comparable across options)."""
    stats = client.indices.stats(index=index, metric="store")
    return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])
