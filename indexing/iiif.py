"""IIIF Image API URLs (2.x and 3.0), image information (info.json), and box scaling.

ALTO boxes are in the pixels of the image the OCR ran on; the IIIF server may hold another
derivative of the same scan (e.g. ULB's 148811035: ALTO 1980x2339, server 2164x2448). Read the
server's size from info.json and `scale_bbox` each axis on its own before building the URL.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from .alto import BBox, GraphicElement


class IIIFError(ValueError):
    """A IIIF request cannot be built or the server's answer cannot be used."""


class RegionOutsidePageError(IIIFError):
    """The requested region does not overlap the page at all."""


@dataclass(frozen=True)
class ImageInfo:
    """What vignett needs from an info.json."""

    id: str
    width: int
    height: int
    version: str  # "2" or "3"


def _major(version: str) -> str:
    major = str(version).split(".", 1)[0]
    if major not in ("2", "3"):
        raise IIIFError(f"IIIF Image API version {version!r} is not supported; use 2 (2.x) or 3 (3.0)")
    return major


def image_base_url(base: str, identifier: str) -> str:
    """`{base}/{identifier}` with the identifier escaped as one path segment (a '/' becomes %2F)."""
    return f"{base.rstrip('/')}/{quote(identifier, safe=':@!$&()*+;=')}"


def info_url(base: str, identifier: str) -> str:
    return f"{image_base_url(base, identifier)}/info.json"


def clamp_bbox(bbox: BBox, page_width: int, page_height: int) -> BBox:
    """The part of `bbox` on a page of this size; `RegionOutsidePageError` if there is none."""
    x0, y0 = max(bbox.x, 0), max(bbox.y, 0)
    x1, y1 = min(bbox.x + bbox.w, page_width), min(bbox.y + bbox.h, page_height)
    if x1 <= x0 or y1 <= y0:
        raise RegionOutsidePageError(
            f"region {bbox.x},{bbox.y},{bbox.w},{bbox.h} lies outside the {page_width}x{page_height} page"
        )
    return BBox(x0, y0, x1 - x0, y1 - y0)


def _size_param(size: int | str | None, region: BBox, major: str) -> str:
    """IIIF size: None = the region at full resolution ("full" in 2.x, "max" in 3.0); an int n
    fits the region within n x n without upscaling; a string is passed on as written."""
    full = "full" if major == "2" else "max"
    if size is None:
        return full
    if isinstance(size, str):
        return "max" if major == "3" and size == "full" else size
    if size <= 0:
        raise IIIFError(f"size must be a positive number of pixels, got {size}")
    if max(region.w, region.h) <= size:
        return full
    return f"!{size},{size}"


def iiif_region_url(
    base: str,
    identifier: str,
    bbox: BBox,
    size: int | str | None,
    *,
    version: str = "2",
    page_width: int | None = None,
    page_height: int | None = None,
    quality: str = "default",
    fmt: str = "jpg",
) -> str:
    """`{base}/{id}/{x,y,w,h}/{size}/0/{quality}.{fmt}` for Image API 2.x or 3.0.

    With the page size the region is clamped to the page (and a region entirely outside it
    raises `RegionOutsidePageError`); without it only negative offsets are clamped.
    """
    major = _major(version)
    if page_width is not None and page_height is not None:
        region = clamp_bbox(bbox, page_width, page_height)
    else:
        x0, y0 = max(bbox.x, 0), max(bbox.y, 0)
        region = BBox(x0, y0, bbox.x + bbox.w - x0, bbox.y + bbox.h - y0)
        if region.w <= 0 or region.h <= 0:
            raise RegionOutsidePageError(f"region {bbox} has no pixels on the page")
    region_param = f"{region.x},{region.y},{region.w},{region.h}"
    return f"{image_base_url(base, identifier)}/{region_param}/{_size_param(size, region, major)}/0/{quality}.{fmt}"


def scale_bbox(bbox: BBox, from_size: tuple[int, int], to_size: tuple[int, int]) -> BBox:
    """Map a box on a `from_size` (w, h) image onto a `to_size` image, each axis on its own;
    edges are scaled and rounded so neighbouring boxes stay neighbours."""
    if from_size == to_size:
        return bbox
    (fw, fh), (tw, th) = from_size, to_size
    if fw <= 0 or fh <= 0:
        raise IIIFError(f"cannot scale from a page of size {fw}x{fh}; the ALTO page has no WIDTH/HEIGHT")
    sx, sy = tw / fw, th / fh
    x0, y0 = round(bbox.x * sx), round(bbox.y * sy)
    return BBox(x0, y0, round((bbox.x + bbox.w) * sx) - x0, round((bbox.y + bbox.h) * sy) - y0)


def scale_element(element: GraphicElement, width: int, height: int) -> GraphicElement:
    """The element on the server's image of size width x height (unchanged when sizes agree)."""
    if (element.page_width, element.page_height) == (width, height):
        return element
    bbox = scale_bbox(element.bbox, (element.page_width, element.page_height), (width, height))
    return dataclasses.replace(element, bbox=bbox, page_width=width, page_height=height)


def parse_info(data: bytes | str | dict, url: str = "info.json") -> ImageInfo:
    """Read width, height, id and API version from a 2.x or 3.0 info.json."""
    try:
        doc = data if isinstance(data, dict) else json.loads(data)
        width, height = int(doc["width"]), int(doc["height"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IIIFError(f"{url}: not a IIIF info.json with width and height ({exc})") from None
    context = json.dumps(doc.get("@context", ""))
    version = "3" if ("image/3" in context or doc.get("type") == "ImageService3") else "2"
    return ImageInfo(id=str(doc.get("id") or doc.get("@id") or ""), width=width, height=height, version=version)


async def fetch_info(client: httpx.AsyncClient, base: str, identifier: str) -> ImageInfo:
    """GET and read `{base}/{identifier}/info.json`; `IIIFError` names the URL and status."""
    url = info_url(base, identifier)
    try:
        response = await client.get(url, headers={"Accept": "application/ld+json, application/json"})
    except httpx.HTTPError as exc:
        raise IIIFError(f"{url}: request failed ({type(exc).__name__}: {exc})") from None
    if response.status_code != 200:
        raise IIIFError(f"{url}: HTTP {response.status_code}; is the identifier right for this server?")
    return parse_info(response.content, url)


def fetch_info_sync(base: str, identifier: str, *, timeout_s: float = 30.0) -> ImageInfo:
    """Blocking twin of `fetch_info` for scripts and the CLI."""
    url = info_url(base, identifier)
    try:
        response = httpx.get(url, timeout=timeout_s, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise IIIFError(f"{url}: request failed ({type(exc).__name__}: {exc})") from None
    if response.status_code != 200:
        raise IIIFError(f"{url}: HTTP {response.status_code}; is the identifier right for this server?")
    return parse_info(response.content, url)
