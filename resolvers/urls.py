"""Links an image record carries: IIIF region URLs (Image API 2 or 3) and the library viewer."""

from __future__ import annotations

import string

from vignett.config import Settings
from vignett.indexing.alto import BBox
from vignett.indexing.iiif import IIIFError, image_base_url, iiif_region_url

from .records import BookInfo, ImageRecord

VIEWER_FIELDS = ("book_id", "page_id", "page_number", "page_index", "iiif_id")


def iiif_url(image: ImageRecord, size: int | None, settings: Settings) -> str | None:
    """The picture's region at `size` (fits within size x size), None without a IIIF base."""
    if not image.iiif_base or not image.iiif_id:
        return None
    version = settings.iiif.api_version
    if image.bbox is None:
        full = "full" if version == "2" else "max"
        size_param = full if size is None else f"!{size},{size}"
        return f"{image_base_url(image.iiif_base, image.iiif_id)}/full/{size_param}/0/default.jpg"
    bbox = BBox(image.bbox.x, image.bbox.y, image.bbox.w, image.bbox.h)
    try:
        return iiif_region_url(
            image.iiif_base, image.iiif_id, bbox, size, version=version,
            page_width=image.page_width, page_height=image.page_height,
        )
    except IIIFError:
        return None


def viewer_url(image: ImageRecord, settings: Settings) -> str | None:
    """`api.viewer_url_template` filled in; None when the template names a field we lack."""
    template = settings.api.viewer_url_template
    if not template:
        return None
    values = {
        "book_id": image.book.id,
        "page_id": image.page_id,
        "iiif_id": image.iiif_id,
        "page_number": image.page_number if image.page_number is not None else "",
        "page_index": image.page_number - 1 if image.page_number else "",
    }
    return _fill(template, values)


def book_viewer_url(book: BookInfo, settings: Settings) -> str | None:
    values = {"book_id": book.id, "page_id": "", "iiif_id": "", "page_number": 1, "page_index": 0}
    return _fill(settings.api.viewer_url_template, values) if settings.api.viewer_url_template else None


def _fill(template: str, values: dict[str, object]) -> str | None:
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    if any(name not in values or values[name] == "" for name in names):
        return None
    return template.format(**values)


def check_viewer_template(template: str) -> None:
    """Fail at start-up, not per request, on a template naming an unknown field."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    unknown = [n for n in names if n not in VIEWER_FIELDS]
    if unknown:
        raise ValueError(
            f"api.viewer_url_template names {', '.join(unknown)}; it may use {', '.join(VIEWER_FIELDS)}"
        )
