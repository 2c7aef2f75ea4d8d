"""Turning a query image source into pixels or a vector, within the configured limits.

Uploads and fetched URLs are checked for size in bytes first, then for declared pixel count
(before decoding: a decompression bomb is refused from its header), then decoded.
`imageUrl` is fetched only from `api.allowed_image_hosts`, never following a redirect off them.
"""

from __future__ import annotations

import io
import math
from urllib.parse import urlsplit

import httpx
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vignett.config import ApiSettings
from vignett.models.specs import EMBEDDER_SPECS

from .errors import BadUserInput, Forbidden, PayloadTooLarge, UpstreamImageError

FETCH_TIMEOUT_S = 10.0
MAX_REDIRECTS = 3


def decode_query_image(data: bytes, api: ApiSettings, what: str = "upload") -> Image.Image:
    """RGB pixels of an uploaded or fetched image, or a BadUserInput/PayloadTooLarge saying why not."""
    if len(data) > api.max_upload_bytes:
        raise PayloadTooLarge(
            f"the {what} is {len(data):,} bytes; the limit is {api.max_upload_bytes:,} (api.max_upload_bytes)"
        )
    if not data:
        raise BadUserInput(f"the {what} is empty")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > api.max_upload_pixels:
                raise PayloadTooLarge(
                    f"the {what} is {width}x{height} = {width * height:,} pixels; the limit is "
                    f"{api.max_upload_pixels:,} (api.max_upload_pixels): scale it down"
                )
            probe.load()
            image = ImageOps.exif_transpose(probe)
            return image.convert("RGB")
    except UnidentifiedImageError:
        raise BadUserInput(f"the {what} is not an image Pillow can read (JPEG, PNG, TIFF, WebP, ...)") from None
    except Image.DecompressionBombError as exc:
        raise PayloadTooLarge(f"the {what} was refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadUserInput(f"the {what} could not be decoded as an image ({exc})") from None


def host_allowed(url: str, api: ApiSettings) -> bool:
    """An allowed host matches exactly, or as a suffix when written `.example.org` / `*.example.org`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    for allowed in (a.lower().strip() for a in api.allowed_image_hosts):
        if allowed.startswith("*."):
            allowed = allowed[1:]
        if host == allowed or (allowed.startswith(".") and host.endswith(allowed)):
            return True
    return False


def check_image_url(url: str, api: ApiSettings) -> None:
    if not api.allowed_image_hosts:
        raise Forbidden("imageUrl is disabled: no hosts are allowed (set api.allowed_image_hosts)")
    if not host_allowed(url, api):
        host = urlsplit(url).hostname or url
        raise Forbidden(
            f"imageUrl host {host!r} is not allowed; allowed hosts: {', '.join(api.allowed_image_hosts)}. "
            "Upload the image instead (`image`)"
        )


async def fetch_query_image(url: str, api: ApiSettings) -> bytes:
    """GET an allowed URL, following redirects only while they stay on allowed hosts."""
    check_image_url(url, api)
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers.get("location", "")))
                        check_image_url(url, api)
                        continue
                    if response.status_code != 200:
                        raise UpstreamImageError(f"imageUrl answered HTTP {response.status_code}")
                    return await _read_limited(response, api.max_upload_bytes)
            except httpx.HTTPError as exc:
                raise UpstreamImageError(f"imageUrl could not be fetched ({type(exc).__name__}: {exc})") from None
    raise UpstreamImageError(f"imageUrl redirected more than {MAX_REDIRECTS} times")


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"imageUrl is larger than {limit:,} bytes (api.max_upload_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def raw_vector(values: tuple[float, ...], model: str) -> np.ndarray:
    """A client's `vector` for `model`: right length, finite, L2-normalised (or 0/1 bits packed)."""
    spec = EMBEDDER_SPECS[model]
    if len(values) != spec.dim:
        raise BadUserInput(f"vector has {len(values)} values; model {model!r} needs {spec.dim}")
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise BadUserInput("vector contains NaN or infinite values")
    if spec.element_type == "bit":
        if not np.all((array == 0) | (array == 1)):
            raise BadUserInput(f"a {model!r} vector is {spec.dim} bits: every value must be 0 or 1")
        return np.packbits(array.astype(np.uint8))
    norm = float(np.linalg.norm(array))
    if norm == 0.0 or not math.isfinite(norm):
        raise BadUserInput("vector has length 0; it cannot be compared by direction")
    return (array / norm).astype(np.float32)
