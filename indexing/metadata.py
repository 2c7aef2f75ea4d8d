"""Book metadata (title, author, year, language) joined onto pictures by book id.

Read from a CSV (header with `book_id` and any of title, author, year, language) or a JSON
file (a list of such objects, or an object keyed by book id).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .documents import BookMetadata


class MetadataError(ValueError):
    """The metadata file cannot be read; the message names the file and the row."""


def load_metadata(path: Path) -> dict[str, BookMetadata]:
    path = Path(path)
    if not path.exists():
        raise MetadataError(f"metadata file {path} does not exist")
    if path.suffix.lower() == ".json":
        rows = _json_rows(path)
    else:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    books: dict[str, BookMetadata] = {}
    for number, row in enumerate(rows, start=1):
        book_id = str(row.get("book_id") or "").strip()
        if not book_id:
            raise MetadataError(f"{path}: row {number} has no book_id")
        books[book_id] = BookMetadata(
            book_id=book_id,
            title=str(row.get("title") or "").strip(),
            author=str(row.get("author") or "").strip(),
            year=_year(row.get("year"), path, number),
            language=str(row.get("language") or "").strip(),
        )
    return books


def _json_rows(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MetadataError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict):
        return [{"book_id": key, **value} for key, value in data.items()]
    if isinstance(data, list):
        return data
    raise MetadataError(f"{path}: expected a list of books or an object keyed by book id")


def _year(value: object, path: Path, row: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip()[:4])
    except ValueError:
        raise MetadataError(f"{path}: row {row}: year {value!r} is not a year") from None
