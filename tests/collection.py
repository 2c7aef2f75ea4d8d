"""A test collection built from real parts: real page scans and real illustrations from
../shared/data pasted at known positions, with ALTO written for them; plus the real ALTO +
scan pairs of ../shared/data as they are.

`build_collection(tmp)` returns where the ALTO files are, the {IIIF identifier: scan} map for
the IIIF server, and what each composed page holds, so tests know the expected documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

from tests.support import SHARED_DATA

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
IMAGES = SHARED_DATA / "images"
DERIVANS = SHARED_DATA / "alto" / "ulb-digital-derivans"

# (illustration file under images/chr24-nln, caption) pasted onto composed pages.
ILLUSTRATIONS = [
    ("1-ivar_aasen.jpg", "Ivar Aasen, efter et Fotografi"),
    ("2-fyrtaarn-crop__CLIP__00.jpg", "Fyrtaarnet paa Lindesnes"),
    ("3-pexels-pixabay-302304__ViT__04.jpg", "Tigeren i Bengalen"),
    ("4-pexels-daniel-guti-181008543-21852152__SigLIP__00.jpg", "Polarskibet i Isen"),
    ("2-fyrtaarn-crop__SigLIP__01.jpg", "Et Fyrtaarn ved Kysten"),
]
BACKGROUND = IMAGES / "ulb-pages" / "148811035_00000002.jpg"

# Real ALTO + scan pairs: (ALTO path, scan path). The 148811035 ALTO was made from another
# derivative (boxes need scaling per axis); 1981185920 matches its scan exactly.
REAL_PAIRS = [
    (DERIVANS / "1981185920_88120" / "1981185920_88120_00000010.xml",
     DERIVANS / "1981185920_88120" / "1981185920_88120_00000010.jpg"),
    (DERIVANS / "148811035" / "FULLTEXT" / "320805.xml", DERIVANS / "148811035" / "MAX" / "00000005.jpg"),
    (DERIVANS / "148811035" / "FULLTEXT" / "320807.xml", DERIVANS / "148811035" / "MAX" / "00000007.jpg"),
]


@dataclass(frozen=True)
class ComposedPicture:
    illustration: Path
    caption: str
    box: tuple[int, int, int, int]  # x, y, w, h on the page


@dataclass
class Collection:
    alto_dir: Path
    scans: dict[str, Path] = field(default_factory=dict)  # IIIF identifier -> scan
    composed: dict[str, list[ComposedPicture]] = field(default_factory=dict)  # page id -> pictures
    real_alto: list[Path] = field(default_factory=list)


def build_collection(root: Path) -> Collection:
    """Two composed books (NLN-style names and a plain folder) and the real ULB pairs."""
    collection = Collection(alto_dir=root / "alto")
    scan_dir = root / "scans"
    scan_dir.mkdir(parents=True)
    pages = [
        ("URN:NBN:no-nb_digibok_2001010100001_0001", "nln", [0, 1]),
        ("URN:NBN:no-nb_digibok_2001010100001_0002", "nln", [2]),
        ("bokb_0001", "bok-b/ALTO", [3, 4]),
    ]
    for page_id, folder, picks in pages:
        scan, pictures = _compose_page(scan_dir / f"{_safe(page_id)}.jpg", picks)
        collection.scans[page_id] = scan
        collection.composed[page_id] = pictures
        alto = collection.alto_dir / folder / f"{page_id}.xml"
        alto.parent.mkdir(parents=True, exist_ok=True)
        alto.write_text(composed_alto(page_id, Image.open(scan).size, pictures))
    real = collection.alto_dir / "ulb"
    real.mkdir(parents=True)
    for alto_path, scan in REAL_PAIRS:
        target = real / alto_path.name
        target.write_bytes(alto_path.read_bytes())
        collection.scans[alto_path.stem] = scan
        collection.real_alto.append(target)
    return collection


def _compose_page(path: Path, picks: list[int]) -> tuple[Path, list[ComposedPicture]]:
    page = Image.open(BACKGROUND).convert("RGB").resize((1810, 2048))
    pictures = []
    for slot, index in enumerate(picks):
        name, caption = ILLUSTRATIONS[index]
        illustration = Image.open(IMAGES / "chr24-nln" / name).convert("RGB")
        width = 700
        height = round(illustration.height * width / illustration.width)
        x, y = 150 + slot * 850, 300 + slot * 200
        page.paste(illustration.resize((width, height)), (x, y))
        pictures.append(ComposedPicture(IMAGES / "chr24-nln" / name, caption, (x, y, width, height)))
    page.save(path, quality=92)
    return path, pictures


def composed_alto(page_id: str, size: tuple[int, int], pictures: list[ComposedPicture]) -> str:
    """ALTO v4 for a composed page: one Illustration and its caption per picture, a rule that
    must be dropped (aspect ratio 100), and a body text block."""
    width, height = size
    blocks = []
    for i, pic in enumerate(pictures, start=1):
        x, y, w, h = pic.box
        blocks.append(f'<Illustration ID="ill{i}" HPOS="{x}" VPOS="{y}" WIDTH="{w}" HEIGHT="{h}"/>')
        blocks.append(_text_block(f"cap{i}", x, y + h + 10, w, 40, pic.caption))
    blocks.append('<GraphicalElement ID="rule1" HPOS="100" VPOS="1900" WIDTH="1600" HEIGHT="16"/>')
    blocks.append(_text_block("body", 100, 1950, 1600, 60, "Kapitel I. Om Landet og dets Folk."))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<alto xmlns="{ALTO_NS}">'
        '<Description><MeasurementUnit>pixel</MeasurementUnit>'
        f"<sourceImageInformation><fileName>{escape(page_id)}.jpg</fileName></sourceImageInformation>"
        "</Description><Layout>"
        f'<Page ID="p1" WIDTH="{width}" HEIGHT="{height}" PHYSICAL_IMG_NR="1">'
        f'<PrintSpace HPOS="0" VPOS="0" WIDTH="{width}" HEIGHT="{height}">'
        + "".join(blocks)
        + "</PrintSpace></Page></Layout></alto>\n"
    )


def _text_block(block_id: str, x: int, y: int, w: int, h: int, text: str) -> str:
    words = "".join(
        f'<String CONTENT="{escape(word)}" HPOS="{x}" VPOS="{y}" WIDTH="40" HEIGHT="{h}"/><SP/>'
        for word in text.split()
    )
    return (
        f'<TextBlock ID="{block_id}" HPOS="{x}" VPOS="{y}" WIDTH="{w}" HEIGHT="{h}">'
        f'<TextLine HPOS="{x}" VPOS="{y}" WIDTH="{w}" HEIGHT="{h}">{words}</TextLine></TextBlock>'
    )


def _safe(page_id: str) -> str:
    return page_id.replace(":", "_")
