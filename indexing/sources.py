"""What an ingest reads: ALTO files and plain images found under the paths it is given.

A folder is walked recursively. `*.xml` files are ALTO (METS files are recognised and left
out; their pages arrive through the ALTO files they point to); image files (jpg, png, tif,
webp) each become one document, for collections without ALTO and for evaluation sets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".gif", ".bmp"})
# Folder names that say what a folder holds rather than which book it is.
CONTAINER_FOLDERS = frozenset({"alto", "ocr", "fulltext", "text", "xml", "max", "images", "img"})
NLN_PAGE = re.compile(r"^(?P<book>.+)_(?P<page>\d{3,5})$")


class SourceError(ValueError):
    """A path given to ingest does not exist or holds nothing vignett can read."""


@dataclass(frozen=True)
class SourceFile:
    """One file to ingest and the book it belongs to."""

    path: Path
    kind: Literal["alto", "image"]
    root: Path
    book_id: str

    @property
    def relative(self) -> str:
        try:
            return self.path.relative_to(self.root).as_posix()
        except ValueError:
            return self.path.name


def discover_sources(paths: list[Path]) -> list[SourceFile]:
    """Every ALTO and image file under `paths`, sorted, each with its book id."""
    found: list[SourceFile] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise SourceError(f"{path} does not exist; give ALTO files, image files or folders")
        root = path if path.is_dir() else path.parent
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            kind = _kind_of(file)
            if kind is not None:
                found.append(SourceFile(file, kind, root, book_id_for(file, root, kind)))
    return found


def book_id_for(path: Path, root: Path, kind: str) -> str:
    """NLN-style page names (`<book>_<page>`) name their book; otherwise the folder does.

    Folders such as `ocr/` or `ALTO/` are skipped upwards, so `.../6703187/ocr/X0000004.xml`
    belongs to book `6703187`. A file directly in the root belongs to the root's name.
    """
    if kind == "alto":
        match = NLN_PAGE.match(path.stem)
        if match and ("digibok" in path.stem or "URN:" in path.stem):
            return match.group("book")
    folder = path.parent
    while folder.name.lower() in CONTAINER_FOLDERS and folder != root:
        folder = folder.parent
    if kind == "image" and folder == root:
        return root.name or "images"
    return folder.name or root.name


def _kind_of(path: Path) -> Literal["alto", "image"] | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix == ".xml" and not _looks_like_mets(path):
        return "alto"
    return None


def _looks_like_mets(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(2048)
    return b"<mets" in head or b":mets" in head
