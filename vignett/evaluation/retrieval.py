"""Exact-retrieval evaluation: degrade an indexed image, search by upload, record the target's rank.

This reproduces the paper's protocol against the PUBLIC GraphQL API (never Elasticsearch), so it
measures what a user gets: the upload path, the server's embedder and the index together.
Everything random is drawn from a numpy Generator seeded per target, so the same seed gives the
same transforms (and, on the same index, the same ranks), whatever the order or the subset.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from .targets import Target, TargetSet

TOP_KS: tuple[int, ...] = (1, 5, 10, 50)
SEARCH_DEPTH = 50  # ranks beyond this are misses
MAX_ROTATION_DEG = 10.0
MAX_CROP_FRACTION = 0.15
SCALE_RANGE = (0.8, 1.2)
JPEG_QUALITY_ALONE = 30
CARRIER_JPEG_QUALITY = 95  # non-JPEG conditions: near-lossless, keeps uploads small
# Each single-degradation condition reuses the combined draw's parameters for that degradation,
# so "rotation only" isolates exactly the rotation the combined query also had.
CONDITIONS: tuple[str, ...] = ("combined", "rotation", "crop", "scale", "jpeg30")

UPLOAD_QUERY = ("query($img: Upload!, $model: Model!, $first: Int!) { search(image: $img, model: $model, "
                "first: $first) { edges { node { id } } } }")


@dataclass(frozen=True)
class Transform:
    """One query's degradation. Identity values (0, 1.0, None) mean 'not applied'."""

    rotation_deg: float = 0.0
    crop_left: float = 0.0
    crop_top: float = 0.0
    crop_right: float = 0.0
    crop_bottom: float = 0.0
    scale_x: float = 1.0
    scale_y: float = 1.0
    jpeg_quality: int | None = None


@dataclass(frozen=True)
class QueryRecord:
    """One upload query and where the target came back (None: not in the first SEARCH_DEPTH)."""

    condition: str
    model: str
    target: str
    doc_id: str
    transform: Transform
    rank: int | None
    width: int
    height: int
    copies: int = 1  # indexed copies of the target, any of which counts as the hit


@dataclass
class ConditionSummary:
    """Top-k counts for one (condition, model)."""

    condition: str
    model: str
    queries: int = 0
    hits: dict[str, int] = field(default_factory=lambda: {f"top{k}": 0 for k in TOP_KS})

    def percent(self, key: str) -> float:
        return 100.0 * self.hits[key] / self.queries if self.queries else 0.0


def target_rng(seed: int, target: Target) -> np.random.Generator:
    """A Generator per target, keyed by content: independent of order and of which others were sampled."""
    return np.random.default_rng([seed, int(target.sha1[:16], 16)])


def draw_transform(rng: np.random.Generator) -> Transform:
    """The combined degradation: rotation ±10°, four independent crops ≤15 %, independent x/y scale."""
    rotation = float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    crops = [float(c) for c in rng.uniform(0.0, MAX_CROP_FRACTION, size=4)]
    sx, sy = (float(s) for s in rng.uniform(*SCALE_RANGE, size=2))
    return Transform(rotation, crops[0], crops[1], crops[2], crops[3], sx, sy)


def condition_transform(combined: Transform, condition: str) -> Transform:
    """The part of the combined draw a condition keeps (jpeg30 has no geometric change)."""
    identity = Transform()
    if condition == "combined":
        return combined
    if condition == "rotation":
        return replace(identity, rotation_deg=combined.rotation_deg)
    if condition == "crop":
        return replace(identity, crop_left=combined.crop_left, crop_top=combined.crop_top,
                       crop_right=combined.crop_right, crop_bottom=combined.crop_bottom)
    if condition == "scale":
        return replace(identity, scale_x=combined.scale_x, scale_y=combined.scale_y)
    if condition == "jpeg30":
        return replace(identity, jpeg_quality=JPEG_QUALITY_ALONE)
    raise ValueError(f"unknown condition {condition!r}; known: {', '.join(CONDITIONS)}")


def apply_transform(image: Image.Image, t: Transform) -> Image.Image:
    """Rotate (bicubic, white fill, expanded canvas), crop each side, then scale (Lanczos)."""
    out = image.convert("RGB")
    if t.rotation_deg:
        out = out.rotate(t.rotation_deg, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    if any((t.crop_left, t.crop_top, t.crop_right, t.crop_bottom)):
        w, h = out.size
        box = (round(w * t.crop_left), round(h * t.crop_top),
               w - round(w * t.crop_right), h - round(h * t.crop_bottom))
        out = out.crop(box)
    if (t.scale_x, t.scale_y) != (1.0, 1.0):
        w, h = out.size
        out = out.resize((max(1, round(w * t.scale_x)), max(1, round(h * t.scale_y))), Image.Resampling.LANCZOS)
    return out


def encode(image: Image.Image, t: Transform) -> bytes:
    """JPEG bytes: the condition's quality, or a near-lossless carrier quality otherwise."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=t.jpeg_quality or CARRIER_JPEG_QUALITY)
    return buffer.getvalue()


class ApiError(RuntimeError):
    """The API refused or failed a query; the evaluation stops rather than count it as a miss."""


def search_by_upload(client: httpx.Client, content: bytes, model: str, first: int = SEARCH_DEPTH) -> list[str]:
    """Document ids for an upload search (GraphQL multipart spec, with the CSRF preflight header)."""
    operations = {"query": UPLOAD_QUERY, "variables": {"img": None, "model": model.upper(), "first": first}}
    response = client.post(
        "/graphql", headers={"GraphQL-Require-Preflight": "1"},
        data={"operations": json.dumps(operations), "map": '{"0": ["variables.img"]}'},
        files={"0": ("query.jpg", content, "image/jpeg")},
    )
    try:
        body = response.json()
    except ValueError:
        raise ApiError(f"HTTP {response.status_code}: {response.text[:200]}") from None
    if body.get("errors"):
        raise ApiError("; ".join(e.get("message", "?") for e in body["errors"]))
    return [edge["node"]["id"] for edge in body["data"]["search"]["edges"]]


def rank_of(copies: tuple[str, ...], ids: list[str]) -> int | None:
    """The first position (1-based) holding any copy of the target; None past SEARCH_DEPTH."""
    return next((position for position, doc_id in enumerate(ids, 1) if doc_id in copies), None)


def run_evaluation(client: httpx.Client, targets: list[Target], models: list[str], seed: int,
                   conditions: tuple[str, ...] = CONDITIONS, progress=None) -> list[QueryRecord]:
    """Every target × condition × model: degrade, upload, record the rank."""
    records: list[QueryRecord] = []
    for target in targets:
        combined = draw_transform(target_rng(seed, target))
        with Image.open(io.BytesIO(target.content)) as original:
            original.load()
            for condition in conditions:
                t = condition_transform(combined, condition)
                degraded = apply_transform(original, t)
                content = encode(degraded, t)
                for model in models:
                    ids = search_by_upload(client, content, model)
                    records.append(QueryRecord(condition, model, target.source, target.doc_id, t,
                                               rank_of(target.copies or (target.doc_id,), ids), *degraded.size,
                                               copies=len(target.copies) or 1))
        if progress:
            progress(target)
    return records


def summarise(records: list[QueryRecord]) -> list[ConditionSummary]:
    """Top-k counts per (condition, model), in CONDITIONS order then model order of appearance."""
    table: dict[tuple[str, str], ConditionSummary] = {}
    for r in records:
        s = table.setdefault((r.condition, r.model), ConditionSummary(r.condition, r.model))
        s.queries += 1
        for k in TOP_KS:
            if r.rank is not None and r.rank <= k:
                s.hits[f"top{k}"] += 1
    order = {c: i for i, c in enumerate(CONDITIONS)}
    return sorted(table.values(), key=lambda s: order.get(s.condition, len(order)))


def format_table(summaries: list[ConditionSummary]) -> str:
    header = f"{'condition':<10} {'model':<7} {'n':>4}  " + "  ".join(f"{f'Top-{k}':>13}" for k in TOP_KS)
    lines = [header, "-" * len(header)]
    for s in summaries:
        cells = "  ".join(f"{s.hits[f'top{k}']:>4} ({s.percent(f'top{k}'):5.1f}%)" for k in TOP_KS)
        lines.append(f"{s.condition:<10} {s.model:<7} {s.queries:>4}  {cells}")
    return "\n".join(lines)


def summary_json(summaries: list[ConditionSummary], target_set: TargetSet, seed: int, models: list[str]) -> dict:
    return {
        "protocol": {
            "seed": seed, "models": models, "search_depth": SEARCH_DEPTH,
            "rotation_deg": MAX_ROTATION_DEG, "crop_max_fraction_per_side": MAX_CROP_FRACTION,
            "scale_range": list(SCALE_RANGE), "jpeg_quality_alone": JPEG_QUALITY_ALONE,
            "carrier_jpeg_quality": CARRIER_JPEG_QUALITY,
            "dedup": target_set.dedup,
            "found": target_set.found, "unique_by_content": target_set.unique_by_content,
            "duplicates_dropped": target_set.duplicates_dropped, "targets": len(target_set.targets),
            "targets_with_copies": sum(len(t.copies) > 1 for t in target_set.targets),
        },
        "results": _nested(summaries),
    }


def _nested(summaries: list[ConditionSummary]) -> dict:
    out: dict[str, dict] = {}
    for s in summaries:
        out.setdefault(s.condition, {})[s.model] = {
            "queries": s.queries,
            **{f"Top-{k}": {"count": s.hits[f"top{k}"], "percent": round(s.percent(f"top{k}"), 2)} for k in TOP_KS},
        }
    return out


CSV_FIELDS = ["condition", "model", "target", "doc_id", "rank", "width", "height", "copies",
              *Transform.__dataclass_fields__]


def write_csv(records: list[QueryRecord], path: Path) -> None:
    """Every query with its transform parameters and rank (empty rank: beyond SEARCH_DEPTH)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in records:
            writer.writerow({"condition": r.condition, "model": r.model, "target": r.target, "doc_id": r.doc_id,
                             "rank": "" if r.rank is None else r.rank, "width": r.width, "height": r.height,
                             "copies": r.copies,
                             **{k: ("" if v is None else v) for k, v in asdict(r.transform).items()}})
