"""METS: which ALTO file and which image belong to each physical page of a book.

Reads the physical structMap (div TYPE="page", in ORDER) and the fptr links of each page to
files in the image group (e.g. MAX) and the text group (e.g. FULLTEXT). The IIIF identifier is
usually the last path segment of the image link; the ALTO link is resolved against the METS
file's folder, or against a sub-folder named like the group (the DFG-viewer layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from lxml import etree

METS_NS = "http://www.loc.gov/METS/"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
IMAGE_GROUPS = ("MAX", "DEFAULT", "MASTER", "ORIGINAL", "IMAGE")
TEXT_GROUPS = ("FULLTEXT", "ALTO", "OCR")


class MetsError(ValueError):
    """A METS file cannot be read; the message names the file."""


@dataclass(frozen=True)
class MetsPage:
    order: int
    label: str
    physical_id: str
    image_href: str  # "" when the page has no image in the chosen group
    image_id: str  # last segment of image_href without extension: the usual IIIF identifier
    alto_href: str  # "" when the page has no ALTO
    alto_path: Path | None  # the local ALTO file, when it exists


def _group(groups: dict[str, dict[str, str]], wanted: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    for name in wanted:
        if name in groups:
            return name, groups[name]
    return "", {}


def _local_alto(mets_dir: Path, group: str, href: str) -> Path | None:
    if not href or urlsplit(href).scheme not in ("", "file"):
        return None
    relative = unquote(urlsplit(href).path)
    for candidate in (mets_dir / relative, mets_dir / group / relative):
        if candidate.is_file():
            return candidate
    return None


def read_mets(
    path: Path | str,
    *,
    image_groups: tuple[str, ...] = IMAGE_GROUPS,
    text_groups: tuple[str, ...] = TEXT_GROUPS,
) -> list[MetsPage]:
    """Pages of the physical sequence in ORDER, each with its image and ALTO links."""
    path = Path(path)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        raise MetsError(f"{path}: line {exc.lineno}: not well-formed XML ({exc.msg})") from None
    except OSError as exc:
        raise MetsError(f"{path}: cannot read the file ({exc})") from None
    if etree.QName(root).localname != "mets":
        raise MetsError(f"{path}: root is <{etree.QName(root).localname}>, not <mets>")
    ns = {"m": METS_NS}
    groups: dict[str, dict[str, str]] = {}
    for group in root.iterfind(".//m:fileGrp", ns):
        files = groups.setdefault(group.get("USE", ""), {})
        for file in group.iterfind("m:file", ns):
            locat = file.find("m:FLocat", ns)
            if locat is not None:
                files[file.get("ID", "")] = locat.get(XLINK_HREF, "")
    image_group, images = _group(groups, image_groups)
    text_group, texts = _group(groups, text_groups)
    physical = root.find(".//m:structMap[@TYPE='PHYSICAL']", ns)
    if physical is None:
        raise MetsError(f"{path}: no structMap TYPE=\"PHYSICAL\"; cannot tell the page order")
    pages = []
    for div in physical.iterfind(".//m:div[@TYPE='page']", ns):
        file_ids = [ptr.get("FILEID", "") for ptr in div.iterfind("m:fptr", ns)]
        image_href = next((images[f] for f in file_ids if f in images), "")
        alto_href = next((texts[f] for f in file_ids if f in texts), "")
        image_name = PurePosixPath(urlsplit(image_href).path).name
        pages.append(
            MetsPage(
                order=int(div.get("ORDER", "0") or 0),
                label=div.get("ORDERLABEL", "") or div.get("LABEL", ""),
                physical_id=div.get("ID", ""),
                image_href=image_href,
                image_id=image_name.rsplit(".", 1)[0] if "." in image_name else image_name,
                alto_href=alto_href,
                alto_path=_local_alto(path.parent, text_group, alto_href),
            )
        )
    return sorted(pages, key=lambda p: p.order)
