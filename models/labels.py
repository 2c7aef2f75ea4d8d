"""Human class labels: read them from Label Studio, the paper's JSON or a CSV; keep the training set.

Every reader returns `LabelRecord`s keyed by what the source names the picture with (a
document id, an image URL or a file path); matching keys to indexed documents is the indexing
layer's job. Class names are checked against the configured class list (aliases allowed), so a
typo in an export is an error naming the label, not a new class.

The training set is one CSV (`image,label,labelled_by,labelled_at,source`): importing merges
into it, the newest label for an image winning, and its hash identifies a trained model's data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

LabelFormat = Literal["auto", "label-studio", "paper-json", "csv"]
LABEL_FORMATS: tuple[str, ...] = ("auto", "label-studio", "paper-json", "csv")
_KEY_COLUMNS = ("image", "file", "path", "url", "id", "image_id", "document_id")
_LABEL_COLUMNS = ("label", "class", "choice")


class LabelError(ValueError):
    """A label file cannot be read or names a class that is not configured."""


@dataclass(frozen=True)
class LabelRecord:
    """One human decision: picture `image` belongs to class `label`."""

    image: str
    label: str
    labelled_by: str = ""
    labelled_at: str = ""
    source: str = ""


@dataclass(frozen=True)
class ClassList:
    """The configured classes (order kept for reports) and the alternative names accepted."""

    classes: tuple[str, ...]
    aliases: dict[str, str]

    @classmethod
    def from_settings(cls, classes: Sequence[str], aliases: Sequence[str]) -> "ClassList":
        """`aliases` are "Other name=Configured class" strings."""
        mapping: dict[str, str] = {}
        for entry in aliases:
            alias, sep, target = entry.partition("=")
            if not sep or target.strip() not in classes:
                raise LabelError(f"class alias {entry!r} must be 'name=one of {list(classes)}'")
            mapping[alias.strip().casefold()] = target.strip()
        mapping.update({c.casefold(): c for c in classes})
        return cls(tuple(classes), mapping)

    def canonical(self, name: str, where: str = "") -> str:
        found = self.aliases.get(name.strip().casefold())
        if found is None:
            raise LabelError(
                f"unknown class {name!r}{' in ' + where if where else ''}; configured classes: "
                + ", ".join(self.classes)
                + " (add it to classifier.classes, or map it with classifier.class_aliases)"
            )
        return found


def read_labels(path: Path, class_list: ClassList, fmt: LabelFormat = "auto") -> list[LabelRecord]:
    """Every label in `path`, classes made canonical; `fmt="auto"` looks at the content."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LabelError(f"cannot read labels from {path}: {exc}") from None
    fmt = _detect_format(text) if fmt == "auto" else fmt
    readers = {"label-studio": _read_label_studio, "paper-json": _read_paper_json, "csv": _read_csv}
    if fmt not in readers:
        raise LabelError(f"unknown label format {fmt!r}; one of {', '.join(LABEL_FORMATS)}")
    source = f"{fmt}:{path.name}"
    records = readers[fmt](text, source)
    return [replace(r, label=class_list.canonical(r.label, f"{path}")) for r in records]


def _detect_format(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "label-studio"
    if stripped.startswith("{"):
        return "paper-json"
    return "csv"


def _read_label_studio(text: str, source: str) -> list[LabelRecord]:
    """Label Studio's JSON export (tasks with annotations) or its JSON-MIN export."""
    tasks = _load_json(text, source)
    if not isinstance(tasks, list):
        raise LabelError(f"{source}: a Label Studio export is a JSON list of tasks")
    records: list[LabelRecord] = []
    for task in tasks:
        if "annotations" not in task:  # JSON-MIN: {"image": url, "choice": name, "annotator": ...}
            image = task.get("image") or task.get("url")
            choice = task.get("choice") or task.get("label")
            choices = choice.get("choices", []) if isinstance(choice, dict) else [choice]
            if image and len(choices) == 1 and choices[0]:
                records.append(LabelRecord(str(image), choices[0], str(task.get("annotator", "")),
                                           str(task.get("updated_at", task.get("created_at", ""))), source))
            continue
        records.extend(_label_studio_task(task, source))
    return records


def _label_studio_task(task: dict[str, Any], source: str) -> list[LabelRecord]:
    """The newest non-cancelled annotation with exactly one choice (multi-choice is ambiguous)."""
    data = task.get("data", {})
    image = data.get("image") or data.get("url") or next(iter(data.values()), None)
    annotations = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
    annotations.sort(key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
    for annotation in reversed(annotations):
        choices = [
            choice
            for result in annotation.get("result", [])
            if result.get("type") == "choices"
            for choice in result.get("value", {}).get("choices", [])
        ]
        if len(choices) == 1 and image:
            who = annotation.get("completed_by", "")
            if isinstance(who, dict):
                who = who.get("email") or who.get("id", "")
            when = annotation.get("updated_at") or annotation.get("created_at") or ""
            return [LabelRecord(str(image), choices[0], str(who), str(when), source)]
    return []


def _read_paper_json(text: str, source: str) -> list[LabelRecord]:
    """The CHR24 paper's `labelled_data.json`: {class: {image url: true|false}}.

    An image is labelled with the class marked true; images marked true for several classes
    (or none) are ambiguous and left out.
    """
    data = _load_json(text, source)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise LabelError(f"{source}: expected {{class: {{image url: true|false}}}}")
    positives: dict[str, list[str]] = {}
    for label, images in data.items():
        for image, flag in images.items():
            if flag is True:
                positives.setdefault(image, []).append(label)
    return [LabelRecord(image, labels[0], "", "", source) for image, labels in positives.items() if len(labels) == 1]


def _read_csv(text: str, source: str) -> list[LabelRecord]:
    """`image,label` rows (image: document id, URL or path), with or without a header."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(cell.strip() for cell in r)]
    if not rows:
        return []
    header = [c.strip().casefold() for c in rows[0]]
    key_col = next((header.index(c) for c in _KEY_COLUMNS if c in header), None)
    label_col = next((header.index(c) for c in _LABEL_COLUMNS if c in header), None)
    if key_col is None or label_col is None:
        key_col, label_col, body = 0, 1, rows
    else:
        body = rows[1:]
    by = header.index("labelled_by") if "labelled_by" in header else None
    at = header.index("labelled_at") if "labelled_at" in header else None
    records = []
    for number, row in enumerate(body, start=2 if body is not rows else 1):
        if len(row) <= max(key_col, label_col):
            raise LabelError(f"{source} line {number}: expected 'image,label', got {row!r}")
        records.append(LabelRecord(
            row[key_col].strip(), row[label_col].strip(),
            row[by].strip() if by is not None and by < len(row) else "",
            row[at].strip() if at is not None and at < len(row) else "",
            source,
        ))
    return records


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelError(f"{source} is not valid JSON: {exc}") from None


# -- the training-set file -------------------------------------------------------------------

def load_training_set(path: Path) -> list[LabelRecord]:
    """The stored training set (empty when the file does not exist yet)."""
    if not Path(path).exists():
        return []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        names = {f.name for f in fields(LabelRecord)}
        return [LabelRecord(**{k: v for k, v in row.items() if k in names}) for row in csv.DictReader(fh)]


def merge_training_set(
    path: Path, new: Iterable[LabelRecord], *, labelled_by: str = "", now: str | None = None
) -> list[LabelRecord]:
    """Add `new` to the stored set (a newer label for the same image replaces the old one)."""
    stamp = now or datetime.now(timezone.utc).isoformat(timespec="seconds")
    merged = {r.image: r for r in load_training_set(path)}
    for record in new:
        merged[record.image] = replace(
            record,
            labelled_by=record.labelled_by or labelled_by,
            labelled_at=record.labelled_at or stamp,
        )
    records = sorted(merged.values(), key=lambda r: r.image)
    write_training_set(path, records)
    return records


def write_training_set(path: Path, records: Sequence[LabelRecord]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[f.name for f in fields(LabelRecord)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in records)
    tmp.replace(path)


def training_set_hash(images: Sequence[str], labels: Sequence[str]) -> str:
    """Identifies the data a model saw: the sorted (image, label) pairs, not who or when."""
    digest = hashlib.sha256()
    for image, label in sorted(zip(images, labels)):
        digest.update(f"{image}\t{label}\n".encode())
    return digest.hexdigest()[:16]
