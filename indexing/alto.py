"""Reading ALTO layout files: the graphical elements on each page, in pixels, with their text.

One streaming pass (lxml iterparse) per file, namespace-agnostic, so ALTO v1 without a
namespace (older BnF/BL/KB exports), ccs-gmbh ALTO, and ALTO v2/v3/v4 all read the same way.
Finished blocks are cleared as soon as they have been read, so a 50 MB file never becomes a
50 MB tree; what is kept per page is one box and at most `context_chars` of text per text block.

A picture is an `Illustration`, a `GraphicalElement`, or a `ComposedBlock` whose TYPE is one
of `alto.illustration_block_types`; pictures nested inside a picture are not counted again.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lxml import etree

from vignett.config import AltoSettings

from .alto_context import TextIndex

UNIT_PER_INCH = {"mm10": 254.0, "inch1200": 1200.0}
GRAPHIC_TAGS = ("Illustration", "GraphicalElement")
# The only elements the parser looks at; lxml skips events for everything else.
_WATCHED = (
    "Page", "TextBlock", *GRAPHIC_TAGS, "ComposedBlock", "MeasurementUnit", "fileName",
    "fileIdentifier", "processingStepSettings", "Description", "Styles", "Tags",
)
_DPI_RE = re.compile(r"\b([xy])dpi\s*[:=]\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


_NAMELESS = "<bytes>"


class AltoParseError(ValueError):
    """An ALTO file cannot be read; the message names the file and, where known, the line."""


@dataclass(frozen=True)
class BBox:
    """A box in pixels of the page image the ALTO was made from."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h


@dataclass(frozen=True)
class GraphicElement:
    """One picture on a page, ready to be cut out through IIIF and indexed."""

    element_id: str
    page_id: str
    kind: str  # "GraphicalElement" | "Illustration" | "ComposedBlock"
    bbox: BBox
    page_width: int
    page_height: int
    caption: str
    context: str
    aspect_ratio: float  # width / height
    source_file: str = ""
    page_number: int | None = None
    block_type: str = ""  # the ALTO TYPE attribute, when there is one
    page_text: str = field(default="", repr=False)


@dataclass(frozen=True)
class DroppedElement:
    element_id: str
    reason: str


@dataclass(frozen=True)
class AltoPage:
    page_id: str
    source: str
    width: int
    height: int
    measurement_unit: str
    elements: list[GraphicElement]
    dropped: list[DroppedElement]
    page_text: str
    page_id_origin: str = "filename"  # "filename" | "metadata" | "argument"
    source_image: str = ""  # sourceImageInformation/fileName
    file_identifier: str = ""  # sourceImageInformation/fileIdentifier
    page_number: int | None = None  # Page/@PHYSICAL_IMG_NR when > 0
    page_index: int = 0  # position of this <Page> in its file
    dpi: tuple[float, float] | None = None  # resolution used for mm10 / inch1200


@dataclass
class _Block:
    """A raw box (in ALTO units) seen while streaming, before conversion."""

    element_id: str
    kind: str
    block_type: str
    coords: tuple[float, float, float, float] | None
    text: str = ""
    owner: int | None = None  # index of the picture this text block sits inside


@dataclass
class _FileState:
    name: str
    unit: str = "pixel"
    source_image: str = ""
    file_identifier: str = ""
    dpi: dict[str, float] = field(default_factory=dict)
    page_count: int = 0


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _coords(el: etree._Element) -> tuple[float, float, float, float] | None:
    try:
        return tuple(float(el.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))  # type: ignore[arg-type,return-value]
    except (TypeError, ValueError):
        return None


def _block_text(block: etree._Element) -> str:
    """Words of a finished TextBlock; lines ending in a HYP join their word to the next line."""
    lines: list[str] = []
    joined = False
    for line in block.iter("{*}TextLine", "TextLine"):
        words = [s.get("CONTENT", "") for s in line.iter("{*}String", "String")]
        text = " ".join(w for w in words if w)
        hyphenated = line.find("{*}HYP") is not None
        if joined and lines:
            lines[-1] += text
        else:
            lines.append(text)
        joined = hyphenated
    return "\n".join(line for line in lines if line)


def _release(el: etree._Element) -> None:
    """Drop a finished element and its already-read siblings so the tree stays small."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def _syntax_error(name: str, exc: etree.XMLSyntaxError) -> AltoParseError:
    line = exc.lineno or (exc.position[0] if exc.position else "?")
    return AltoParseError(
        f"{name}: line {line}: not well-formed XML ({exc.msg}); repair or skip this file"
    )


def iter_alto_pages(
    source: Path | str | bytes,
    settings: AltoSettings,
    *,
    page_id: str | None = None,
    name: str | None = None,
) -> Iterator[AltoPage]:
    """Yield every `<Page>` of an ALTO file (most files have one), streaming.

    `source` is a path or the file's bytes (then `name` is used in error messages and, with
    `page_id_source = "filename"`, as the file name). Raises `AltoParseError` on malformed XML,
    a root that is not <alto>, or an unknown MeasurementUnit; pages already yielded stay valid.
    """
    if isinstance(source, bytes):
        name = name or _NAMELESS
        stream: io.BytesIO | str = io.BytesIO(source)
    else:
        name = name or str(source)
        stream = str(source)
    state = _FileState(name=name)
    events = etree.iterparse(
        stream, events=("start", "end"), tag=[f"{{*}}{t}" for t in _WATCHED],
        resolve_entities=False, no_network=True, huge_tree=False,
    )
    root_checked = False
    page: _PageBuilder | None = None
    pictures_open: list[bool] = []  # one entry per open block: does it count as a picture?
    try:
        for event, el in events:
            tag = _local(el.tag)
            if not root_checked:
                _check_root(name, el.getroottree().getroot())
                root_checked = True
            if event == "start":
                if tag == "Page":
                    page = _PageBuilder(state, el, settings, page_id)
                    state.page_count += 1
                elif page is not None and tag in (*GRAPHIC_TAGS, "ComposedBlock"):
                    pictures_open.append(page.open_block(el, tag, inside_picture=any(pictures_open)))
                continue
            # end events
            if tag == "MeasurementUnit":
                state.unit = _check_unit(name, (el.text or "").strip(), el.sourceline)
            elif tag == "fileName" and not state.source_image:
                state.source_image = (el.text or "").strip()
            elif tag == "fileIdentifier" and not state.file_identifier:
                state.file_identifier = (el.text or "").strip()
            elif tag == "processingStepSettings":
                for axis, value in _DPI_RE.findall(el.text or ""):
                    state.dpi.setdefault(axis.lower(), float(value))
            elif page is not None and tag == "TextBlock":
                page.add_text(el)
                _release(el)
            elif page is not None and tag in (*GRAPHIC_TAGS, "ComposedBlock"):
                pictures_open.pop()
                page.close_block()
                _release(el)
            elif tag == "Page" and page is not None:
                built = page.build()
                page = None
                _release(el)
                yield built
            elif tag in ("Description", "Styles", "Tags"):
                _release(el)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(name, exc) from None
    except OSError as exc:
        raise AltoParseError(f"{name}: cannot read the file ({exc})") from None
    if not root_checked and events.root is not None:
        _check_root(name, events.root)
    if state.page_count == 0:
        raise AltoParseError(f"{name}: no <Page> element; an ALTO file describes at least one page")


def parse_alto(
    source: Path | str | bytes,
    settings: AltoSettings,
    *,
    page_id: str | None = None,
    name: str | None = None,
) -> AltoPage:
    """Read a one-page ALTO file (the usual kind). Files with several <Page> elements raise
    `AltoParseError`: read those with `iter_alto_pages`."""
    pages = iter_alto_pages(source, settings, page_id=page_id, name=name)
    first = next(pages)
    for extra in pages:
        label = name or (str(source) if not isinstance(source, bytes) else _NAMELESS)
        raise AltoParseError(
            f"{label}: has more than one <Page> (page {extra.page_index + 1} is {extra.page_id}); "
            "read it with iter_alto_pages"
        )
    return first


def _check_root(name: str, root: etree._Element) -> None:
    if _local(root.tag) != "alto":
        raise AltoParseError(
            f"{name}: line {root.sourceline}: root is <{_local(root.tag)}>, not <alto>; is this an ALTO file?"
        )


def _check_unit(name: str, unit: str, line: int | None) -> str:
    unit = unit.lower()
    if unit not in ("pixel", *UNIT_PER_INCH):
        raise AltoParseError(
            f"{name}: line {line}: unknown MeasurementUnit {unit!r}; "
            "vignett reads pixel, mm10 and inch1200"
        )
    return unit


def _file_stem(path_like: str) -> str:
    """Stem of a file name that may be a Windows or UNC path (ALTO fileName often is)."""
    base = PurePosixPath(path_like.replace("\\", "/")).name
    return base.rsplit(".", 1)[0] if "." in base else base


class _PageBuilder:
    """Collects one <Page>'s boxes and text while streaming, then converts them at the end."""

    def __init__(self, state: _FileState, el: etree._Element, settings: AltoSettings, page_id: str | None):
        self.state, self.settings = state, settings
        self.index = state.page_count
        self.page_id, self.origin = self._page_id(page_id)
        self.raw_size = (_float(el.get("WIDTH")), _float(el.get("HEIGHT")))
        nr = el.get("PHYSICAL_IMG_NR", "")
        self.page_number = int(nr) if nr.isdigit() and int(nr) > 0 else None
        self.pictures: list[_Block] = []
        self.texts: list[_Block] = []
        self.open_pictures: list[int | None] = []  # picture index per open block, None if not one
        self.page_text: list[str] = []
        self.page_text_len = 0

    def _page_id(self, given: str | None) -> tuple[str, str]:
        if given:
            raw, origin = given, "argument"
        else:
            from_meta = self.state.file_identifier or _file_stem(self.state.source_image)
            nameless = self.state.name == _NAMELESS
            if from_meta and (self.settings.page_id_source == "metadata" or nameless):
                raw, origin = from_meta, "metadata"
            elif nameless:
                raise AltoParseError("ALTO given as bytes has no file name and no sourceImageInformation: "
                                     "pass page_id= or name=")
            else:
                raw, origin = _file_stem(self.state.name), "filename"
            raw = self.settings.page_id_template.format(id=raw)
        return (raw if self.index == 0 else f"{raw}_{self.index + 1}"), origin

    def open_block(self, el: etree._Element, tag: str, inside_picture: bool) -> bool:
        block_type = el.get("TYPE", "") or ""
        is_picture = not inside_picture and (
            tag in GRAPHIC_TAGS or block_type.lower() in self.settings.illustration_block_types
        )
        if is_picture:
            element_id = el.get("ID") or f"{tag}_{len(self.pictures) + 1}"
            self.pictures.append(_Block(element_id, tag, block_type, _coords(el)))
            self.open_pictures.append(len(self.pictures) - 1)
        else:
            self.open_pictures.append(None)
        return is_picture

    def close_block(self) -> None:
        self.open_pictures.pop()

    def add_text(self, el: etree._Element) -> None:
        text = _block_text(el)
        if not text:
            return
        owner = next((i for i in reversed(self.open_pictures) if i is not None), None)
        self.texts.append(_Block(el.get("ID", ""), "TextBlock", "", _coords(el), text[: self.settings.context_chars], owner))
        room = self.settings.page_text_chars - self.page_text_len
        if room > 0:
            self.page_text.append(text[:room])
            self.page_text_len += len(self.page_text[-1]) + 1

    def _scale(self) -> tuple[float, float, tuple[float, float] | None]:
        unit = self.state.unit
        if unit == "pixel":
            return 1.0, 1.0, None
        default = self.settings.default_dpi
        dpi = (self.state.dpi.get("x", default), self.state.dpi.get("y", self.state.dpi.get("x", default)))
        per_inch = UNIT_PER_INCH[unit]
        return dpi[0] / per_inch, dpi[1] / per_inch, dpi

    def build(self) -> AltoPage:
        fx, fy, dpi = self._scale()
        width, height = round(self.raw_size[0] * fx), round(self.raw_size[1] * fy)

        def to_px(c: tuple[float, float, float, float] | None) -> BBox | None:
            if c is None:
                return None
            x0, y0 = round(c[0] * fx), round(c[1] * fy)
            x1, y1 = round((c[0] + c[2]) * fx), round((c[1] + c[3]) * fy)
            if width > 0 and height > 0:  # clamp to the page; a page without a size keeps boxes as given
                x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
            return BBox(x0, y0, max(x1 - x0, 0), max(y1 - y0, 0))

        nearby = TextIndex([(to_px(t.coords), t.text, t.owner) for t in self.texts])
        page_text = "\n".join(self.page_text)
        elements: list[GraphicElement] = []
        dropped: list[DroppedElement] = []
        for index, pic in enumerate(self.pictures):
            box = to_px(pic.coords)
            reason = self._drop_reason(pic, box)
            if reason:
                dropped.append(DroppedElement(pic.element_id, reason))
                continue
            assert box is not None
            caption, context = nearby.near(box, index, height, self.settings)
            elements.append(
                GraphicElement(
                    element_id=pic.element_id, page_id=self.page_id, kind=pic.kind, bbox=box,
                    page_width=width, page_height=height, caption=caption, context=context,
                    aspect_ratio=box.w / box.h, source_file=self.state.name,
                    page_number=self.page_number, block_type=pic.block_type, page_text=page_text,
                )
            )
        return AltoPage(
            page_id=self.page_id, source=self.state.name, width=width, height=height,
            measurement_unit=self.state.unit, elements=elements, dropped=dropped,
            page_text=page_text, page_id_origin=self.origin, source_image=self.state.source_image,
            file_identifier=self.state.file_identifier, page_number=self.page_number,
            page_index=self.index, dpi=dpi,
        )

    def _drop_reason(self, pic: _Block, box: BBox | None) -> str:
        if box is None:
            return "missing or non-numeric HPOS/VPOS/WIDTH/HEIGHT"
        if box.area == 0:
            return "zero area (or entirely outside the page)"
        ratio = max(box.w / box.h, box.h / box.w)
        if ratio >= self.settings.max_aspect_ratio:
            return f"aspect ratio {ratio:.0f} >= alto.max_aspect_ratio {self.settings.max_aspect_ratio:g} (a rule or border)"
        return ""


def _float(value: str | None) -> float:
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0
