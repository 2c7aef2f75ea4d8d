"""ALTO parsing over every real ALTO file in shared/data/alto, checked against plain XPath."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from tests.support import SHARED_DATA, isolated_env
from vignett.config import load_settings
from vignett.indexing.alto import AltoParseError, BBox, iter_alto_pages, parse_alto
from vignett.indexing.mets import read_mets

ALTO_DIR = SHARED_DATA / "alto"
XML_FILES = sorted(ALTO_DIR.rglob("*.xml"))
SETTINGS = load_settings(env=isolated_env()).alto

# An independent definition of "a picture" in XPath 1.0: Illustration, GraphicalElement, or a
# ComposedBlock with an illustration TYPE, not inside another picture.
_LOWER = "translate(@TYPE, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_TYPES = " " + " ".join(SETTINGS.illustration_block_types) + " "
_PIC = (f"(local-name()='Illustration' or local-name()='GraphicalElement' or "
        f"(local-name()='ComposedBlock' and @TYPE and contains('{_TYPES}', concat(' ', {_LOWER}, ' '))))")
PICTURES_XPATH = f".//*[{_PIC}][not(ancestor::*[{_PIC}])]"


def _rel(path: Path) -> str:
    return str(path.relative_to(ALTO_DIR))


def test_shared_alto_data_is_there():
    assert len(XML_FILES) >= 20, f"expected the shared ALTO set under {ALTO_DIR}"


@pytest.mark.parametrize("path", XML_FILES, ids=_rel)
def test_every_file_parses_or_fails_clearly_and_counts_match_xpath(path: Path):
    tree = etree.parse(str(path))
    if etree.QName(tree.getroot()).localname != "alto":
        with pytest.raises(AltoParseError, match=rf"{path.name}.*line \d+.*not <alto>"):
            list(iter_alto_pages(path, SETTINGS))
        return
    pages = list(iter_alto_pages(path, SETTINGS))
    xml_pages = tree.xpath("//*[local-name()='Page']")
    assert len(pages) == len(xml_pages)
    for page, xml_page in zip(pages, xml_pages):
        pictures = xml_page.xpath(PICTURES_XPATH)
        expected_dropped = set()
        for pic in pictures:
            w, h = float(pic.get("WIDTH")), float(pic.get("HEIGHT"))
            if w == 0 or h == 0 or max(w / h, h / w) >= SETTINGS.max_aspect_ratio:
                expected_dropped.add(pic.get("ID"))
        found = [e.element_id for e in page.elements] + [d.element_id for d in page.dropped]
        assert sorted(found) == sorted(p.get("ID") for p in pictures)
        assert {d.element_id for d in page.dropped} == expected_dropped
        for element in page.elements:
            assert element.page_id == page.page_id
            assert element.bbox.w > 0 and element.bbox.h > 0
            assert element.bbox.x + element.bbox.w <= page.width
            assert element.bbox.y + element.bbox.h <= page.height
            assert len(element.context) <= SETTINGS.context_chars
            assert len(element.caption) <= SETTINGS.caption_chars
        assert len(page.page_text) <= SETTINGS.page_text_chars


def _element(path: str, element_id: str, **kwargs):
    page = parse_alto(ALTO_DIR / path, SETTINGS, **kwargs)
    return page, next(e for e in page.elements if e.element_id == element_id)


def test_pixel_v3_coordinates_by_hand():
    # <Illustration ID="cblock_2" HPOS="150" VPOS="502" WIDTH="1379" HEIGHT="412">
    page, el = _element("ulb-digital-derivans/148811035/FULLTEXT/320805.xml", "cblock_2")
    assert (page.width, page.height, page.measurement_unit) == (1980, 2339, "pixel")
    assert el.bbox == BBox(150, 502, 1379, 412) and el.kind == "Illustration"
    assert el.aspect_ratio == pytest.approx(1379 / 412)


def test_no_namespace_composed_block_counts_once():
    # <ComposedBlock ID="P1_CB00001" HPOS="73" VPOS="907" WIDTH="3182" HEIGHT="3816" TYPE="Illustration">
    #   <GraphicalElement ID="P1_CB00001_SUB" .../>   -- the same picture: not counted again
    page, el = _element("impresso/BNF-EN/Le-PJI/19000603_1/ALTO/19000603_1-0001.xml", "P1_CB00001")
    assert len(page.elements) == 1 and not page.dropped
    assert el.kind == "ComposedBlock" and el.block_type == "Illustration"
    assert el.bbox == BBox(73, 907, 3182, 3816)
    assert "BANQUET DE SAINT-SÉBASTIEN" in el.caption  # the title printed under the engraving


def test_prefixed_v2_namespace():
    # <a:Illustration ID="PAG001BLK0001" HEIGHT="423" WIDTH="421" HPOS="278" VPOS="428" />
    page, el = _element("solr-ocrhighlighting/alto_namespaced.xml", "PAG001BLK0001")
    assert el.bbox == BBox(278, 428, 421, 423) and len(page.elements) == 5


def test_mm10_coordinates_by_hand_with_default_dpi():
    # MeasurementUnit mm10, no resolution in the file: alto.default_dpi = 300.
    # <ComposedBlock ID="P1_CB00001" HPOS="1174" VPOS="290" WIDTH="173" HEIGHT="301" TYPE="Illustration">
    # x = 1174/254*300 = 1386.6 -> 1387; right = 1347/254*300 = 1590.9 -> 1591; w = 204
    # y = 290/254*300 = 342.5 -> 343; bottom = 591/254*300 = 698.0 -> 698; h = 355
    path = "impresso/Luxembourg/public_domain_006/2385348_newspaper_luxzeit1858_1858-12-07_01/text/1858-12-07_01-00001.xml"
    page, el = _element(path, "P1_CB00001")
    assert page.measurement_unit == "mm10" and page.dpi == (300.0, 300.0)
    assert el.bbox == BBox(1387, 343, 204, 355)
    assert (page.width, page.height) == (round(2590 / 254 * 300), round(4050 / 254 * 300))
    at_400 = parse_alto(ALTO_DIR / path, dataclasses.replace(SETTINGS, default_dpi=400.0))
    assert at_400.elements[0].bbox.x == round(1174 / 254 * 400)


def test_inch1200_uses_the_resolution_the_file_states():
    # alto.xml: inch1200, page 9148 x 10928, and ABBYY's settings say "width:2287 height:2732
    # xdpi:300 ydpi:300": the converted page size must be that pixel size, whatever default_dpi is.
    path = ALTO_DIR / "solr-ocrhighlighting/alto.xml"
    first = next(iter_alto_pages(path, dataclasses.replace(SETTINGS, default_dpi=600.0)))
    assert first.measurement_unit == "inch1200" and first.dpi == (300.0, 300.0)
    assert (first.width, first.height) == (2287, 2732)


def test_inch1200_element_coordinates_by_hand():
    # The shared inch1200 files have no pictures; put one into the real chronicling_america.xml
    # (ccs-gmbh ALTO, no resolution stated -> default_dpi 300): 2400 inch1200 = 2 in = 600 px.
    data = (ALTO_DIR / "solr-ocrhighlighting/chronicling_america.xml").read_bytes()
    data = data.replace(b"</PrintSpace>", b'<Illustration ID="ill1" HPOS="2400" VPOS="1200.0" '
                        b'WIDTH="4800" HEIGHT="3600"/></PrintSpace>', 1)
    page = parse_alto(data, SETTINGS, name="chronicling_america.xml")
    assert page.page_id == "chronicling_america"
    assert [e.bbox for e in page.elements] == [BBox(600, 300, 1200, 900)]
    assert (page.width, page.height) == (round(20463 / 4), round(25941 / 4))


def test_thin_rules_are_dropped_and_the_limit_is_a_setting():
    path = ALTO_DIR / "ulb-digital-derivans/148811035/FULLTEXT/320807.xml"
    page = parse_alto(path, SETTINGS)
    # <GraphicalElement ID="cblock_1" HPOS="88" VPOS="694" WIDTH="3" HEIGHT="332">: 332/3 = 111
    assert [d.element_id for d in page.dropped] == ["cblock_1"]
    assert "aspect ratio 111" in page.dropped[0].reason
    lenient = parse_alto(path, dataclasses.replace(SETTINGS, max_aspect_ratio=1000.0))
    assert len(lenient.elements) == len(page.elements) + 1 and not lenient.dropped


def test_zero_area_is_dropped():
    data = (ALTO_DIR / "ulb-digital-derivans/148811035/FULLTEXT/320808.xml").read_bytes()
    data = data.replace(b"</PrintSpace>", b'<Illustration ID="flat" HPOS="10" VPOS="10" WIDTH="40" HEIGHT="0"/>'
                        b'<Illustration ID="outside" HPOS="9000" VPOS="10" WIDTH="40" HEIGHT="40"/></PrintSpace>', 1)
    page = parse_alto(data, SETTINGS, page_id="p")
    assert not page.elements and [d.element_id for d in page.dropped] == ["flat", "outside"]


def test_page_id_from_file_name_metadata_template_or_argument():
    path = ALTO_DIR / "impresso/BNF/La-Fronde/6703187/ocr/X0000004.xml"
    assert parse_alto(path, SETTINGS).page_id == "X0000004"
    meta = parse_alto(path, dataclasses.replace(SETTINGS, page_id_source="metadata"))
    assert (meta.page_id, meta.page_id_origin) == ("ark:/12148/bpt6k67031873/f4", "metadata")
    templated = dataclasses.replace(SETTINGS, page_id_template="URN:NBN:no-nb_{id}")
    assert parse_alto(path, templated).page_id == "URN:NBN:no-nb_X0000004"
    assert parse_alto(path, SETTINGS, page_id="given").page_id == "given"
    # fileName is a UNC path: the metadata id is its stem
    bl = ALTO_DIR / "impresso/BL/BLIP_20190920_01/0002088/1832/1123/0002088_18321123_0001.xml"
    assert parse_alto(bl, dataclasses.replace(SETTINGS, page_id_source="metadata")).page_id == "2019-05-08_96_23_00001"


def test_multi_page_file():
    path = ALTO_DIR / "solr-ocrhighlighting/alto.xml"
    assert [p.page_id for p in iter_alto_pages(path, SETTINGS)] == ["alto", "alto_2"]
    with pytest.raises(AltoParseError, match="more than one <Page>.*iter_alto_pages"):
        parse_alto(path, SETTINGS)


def test_text_is_capped_and_the_caption_is_the_text_below():
    small = dataclasses.replace(SETTINGS, context_chars=100, page_text_chars=300, caption_chars=20)
    page = parse_alto(ALTO_DIR / "impresso/BNF-EN/OE-Caen/19241218_1/ALTO/19241218_1-0009.xml", small)
    assert 250 <= len(page.page_text) <= 300
    for el in page.elements:
        assert len(el.context) <= 100 and len(el.caption) <= 20 and el.page_text == page.page_text
    fig = next(e for e in page.elements if e.element_id == "P9_CB00002")
    assert fig.caption.startswith("Fig. 1.")  # the caption below first, then the block above


def test_malformed_file_names_file_and_line_and_the_next_file_still_parses(tmp_path: Path):
    good = ALTO_DIR / "ulb-digital-derivans/148811035/FULLTEXT/320805.xml"
    lines = good.read_bytes().splitlines(keepends=True)
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"".join(lines[:40]) + b"<String CONTENT='x' <<\n" + b"".join(lines[40:]))
    results, errors = [], []
    for path in (broken, good):
        try:
            results.extend(iter_alto_pages(path, SETTINGS))
        except AltoParseError as exc:
            errors.append(str(exc))
    assert len(errors) == 1 and "broken.xml: line 41" in errors[0] and "not well-formed" in errors[0]
    assert [p.page_id for p in results] == ["320805"]
    with pytest.raises(AltoParseError, match=r"cut\.xml: line \d+"):
        parse_alto(good.read_bytes()[:3000], SETTINGS, name="cut.xml")


def test_unknown_unit_is_a_clear_error():
    data = (ALTO_DIR / "ulb-digital-derivans/369765/316642.xml").read_bytes()
    data = data.replace(b"<MeasurementUnit>pixel<", b"<MeasurementUnit>furlong<")
    with pytest.raises(AltoParseError, match=r"x\.xml: line \d+: unknown MeasurementUnit 'furlong'.*pixel, mm10"):
        parse_alto(data, SETTINGS, name="x.xml")


def test_streaming_keeps_memory_flat(tmp_path: Path):
    """An 8 MB ALTO file parses in a fixed memory budget that a full lxml tree of it exceeds."""
    block = ('<TextBlock ID="b{i}" HPOS="10" VPOS="10" WIDTH="100" HEIGHT="20"><TextLine>'
             + '<String CONTENT="word" HPOS="1" VPOS="1" WIDTH="5" HEIGHT="5"/><SP/>' * 40
             + '</TextLine></TextBlock>')
    picture = '<Illustration ID="i{i}" HPOS="5" VPOS="5" WIDTH="50" HEIGHT="50"/>'
    body = "".join(block.format(i=i) + (picture.format(i=i) if i % 100 == 0 else "") for i in range(3000))
    big = tmp_path / "big.xml"
    big.write_text('<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Description><MeasurementUnit>'
                   'pixel</MeasurementUnit></Description><Layout><Page WIDTH="200" HEIGHT="200">'
                   f'<PrintSpace>{body}</PrintSpace></Page></Layout></alto>')
    assert big.stat().st_size > 8_000_000
    # Address-space limit (deterministic, unlike resident-set peaks on a machine that reclaims
    # memory): 64 MiB above what the imports use is plenty for streaming, too little for a tree.
    probe = ("import resource, sys; from lxml import etree\n"
             "from vignett.config import load_settings\nfrom vignett.indexing.alto import parse_alto\n"
             "settings = load_settings(env={}).alto\n"
             "vsz = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
             "resource.setrlimit(resource.RLIMIT_AS, (vsz + 64 * 2**20, resource.RLIM_INFINITY))\n"
             "try:\n"
             "    if sys.argv[1] == 'stream': print(len(parse_alto(sys.argv[2], settings).elements))\n"
             "    else: print(len(etree.parse(sys.argv[2]).getroot()))\n"
             "except (MemoryError, etree.XMLSyntaxError) as exc:  # libxml2 out of memory\n"
             "    print('out of memory', type(exc).__name__)\n")
    answers = {
        mode: subprocess.run([sys.executable, "-c", probe, mode, str(big)], capture_output=True, text=True,
                             check=True).stdout.strip()
        for mode in ("stream", "tree")
    }
    assert answers["stream"] == "30", answers  # all 30 pictures, within the limit
    assert answers["tree"].startswith("out of memory"), answers  # the limit does bind


def test_mets_links_pages_to_alto_and_images():
    pages = {p.order: p for p in read_mets(ALTO_DIR / "ulb-digital-derivans/148811035/mets.xml")}
    linked = {o: (p.image_id, p.alto_path.name) for o, p in pages.items() if p.alto_path}
    assert linked == {5: ("00000005", "320805.xml"), 7: ("00000007", "320807.xml"), 8: ("00000008", "320809.xml")}
    assert pages[10].alto_href == "320811.xml" and pages[10].alto_path is None  # listed, not shipped


def test_extract_command_writes_json_lines_and_a_summary():
    from vignett.cli import main

    result = CliRunner().invoke(main, ["extract", str(ALTO_DIR)], env={"VIGNETT_CONFIG": ""})
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0, result.output
    alto_files = [p for p in XML_FILES if etree.parse(str(p)).getroot().tag.endswith("alto")]
    pages = [page for path in alto_files for page in iter_alto_pages(path, SETTINGS)]
    assert len(records) == sum(len(p.elements) for p in pages)
    dropped = sum(len(p.dropped) for p in pages)
    expected = f"files {len(XML_FILES)}, pages {len(pages)}, elements {len(records)}, dropped {dropped}, errors 0"
    assert expected in result.stderr
    by_id = {(r["page_id"], r["element_id"]): r for r in records}
    # the METS file gave 320805.xml the image's identifier as its page id
    assert by_id[("00000005", "cblock_2")]["bbox"] == {"x": 150, "y": 502, "w": 1379, "h": 412}
    assert "page_text" not in records[0]


def test_bytes_without_a_name_take_the_page_id_from_metadata_or_fail_clearly():
    data = (ALTO_DIR / "ulb-digital-derivans/148811035/FULLTEXT/320808.xml").read_bytes()
    assert parse_alto(data, SETTINGS).page_id == "00000008"  # sourceImageInformation/fileName
    bare = (ALTO_DIR / "impresso/ONB/anno_sample/ANNOP/esj/1772/0057/00000007.xml").read_bytes()
    with pytest.raises(AltoParseError, match="pass page_id= or name="):
        parse_alto(bare, SETTINGS)
