"""The static web client in Debian's chromium (Playwright), against a real `vignett serve` over
the API corpus, with thumbnails from the real IIIF reference server.

One browser, one API server and one IIIF server for the module; a fresh browser context per
test. Screenshots of the main views at desktop and phone width go to artifacts/screenshots/.
axe-core (bundled by the axe-playwright-python package) checks each view for serious
accessibility violations.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from vignett.indexing.es_client import elasticsearch_url

from tests.api_corpus import Corpus, build_corpus
from tests.browser_corpus import compose_pages, index_web_copy
from tests.iiif_server import IIIFServer, start_iiif_server
from tests.serve_process import running_serve
from tests.support import REPO, isolated_env

pytestmark = [pytest.mark.es, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home on a closed network.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
NOISE = re.compile("blank|anomal", re.IGNORECASE)
SERIOUS = {"serious", "critical"}
# Searches run on two loaded CPUs; Playwright's 5 s default is too tight for an image query.
expect.set_options(timeout=20_000)


# --- fixtures: index copy, IIIF server, API server, browser -------------------------------

@pytest.fixture(scope="module")
def corpus(es_client, session_alias) -> Corpus:
    return build_corpus(es_client, session_alias)


@pytest.fixture(scope="module")
def iiif(corpus, tmp_path_factory) -> Iterator[IIIFServer]:
    server = start_iiif_server(compose_pages(corpus, tmp_path_factory.mktemp("pages")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(es_client, corpus, iiif, session_alias, tmp_path_factory) -> Iterator[str]:
    settings = index_web_copy(es_client, corpus, f"{session_alias}-web", iiif.base_url_v2)
    env = isolated_env(
        es_url=elasticsearch_url(settings), index_alias=settings.index.alias, models_default="clip",
        models_weights="random", models_device="cpu", api_request_timeout_s="60",
    )
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with running_serve(env, log_path, ready_path="/readyz") as base:
        # Build the CLIP embedder now (seconds on a small CPU), not inside a timed browser wait.
        warm = httpx.post(f"{base}/graphql", timeout=120, json={
            "query": '{ search(semanticText: "a ship", model: CLIP, first: 1) { totalCount } }'})
        assert "errors" not in warm.json(), warm.text
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # No skip: a missing browser is a broken test machine, not a reason to pass.
    assert CHROMIUM.is_file(), "Debian's chromium is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    with browser_page(browser, server, DESKTOP) as page:
        yield page


@contextlib.contextmanager
def browser_page(browser: Browser, server: str, viewport: dict) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, base_url=server)
    page = context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not script_errors, script_errors


# --- helpers -------------------------------------------------------------------------------

def visit(page: Page, path: str = "/") -> None:
    page.goto(path)
    settle(page)


def settle(page: Page) -> None:
    """Wait until no search is in flight (the client marks the grid aria-busy meanwhile)."""
    expect(page.locator("#results")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#status")).not_to_have_text("Searching…")


def shown_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#results button.card", "cards => cards.map(c => c.dataset.id)")


def class_counts(page: Page) -> dict[str, int]:
    rows = page.eval_on_selector_all(
        "#classes li", "items => items.map(li => [li.querySelector('input').value, li.querySelector('.count').textContent])")
    return {value: int(count) for value, count in rows}


def decade_counts(page: Page) -> dict[str, int]:
    rows = page.eval_on_selector_all(
        "#decades button", "bs => bs.map(b => [b.firstChild.textContent.trim(), b.querySelector('.count').textContent])")
    return {value: int(count) for value, count in rows}


def open_detail(page: Page, doc_id: str) -> None:
    page.locator(f'#results button.card[data-id="{doc_id}"]').click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-similar")).to_have_attribute("data-id", doc_id)
    wait_for_images(page)


def wait_for_images(page: Page) -> None:
    """Every image in view has loaded (the lazy ones below the fold are not asked for)."""
    page.wait_for_function("""() => [...document.images]
        .filter(i => i.src && i.getBoundingClientRect().top < innerHeight && i.getClientRects().length)
        .every(i => i.complete)""")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wait_for_images(page)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def assert_accessible(page: Page, view: str) -> None:
    response = Axe().run(page).response
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in response["violations"] if v["impact"] in SERIOUS]
    assert not serious, f"{view}: {serious}"


def visible(corpus: Corpus) -> list:
    """The pictures the client shows by default (blank pages and anomalies hidden)."""
    return [d for d in corpus.docs if not NOISE.search(d.predicted_class)]


def distinctive_word(corpus: Corpus) -> tuple[str, list[str]]:
    """A word of the OCR context found in one to three shown pictures, and those ids."""
    found: dict[str, set[str]] = {}
    for doc in visible(corpus):
        for word in set(re.findall(r"[A-Za-z]{6,}", doc.context.lower())):
            found.setdefault(word, set()).add(doc.id)
    hidden = " ".join(d.context.lower() for d in corpus.docs if NOISE.search(d.predicted_class))
    word = min((w for w, ids in found.items() if 1 <= len(ids) <= 3 and w not in hidden),
               key=lambda w: (-len(found[w]), w))
    return word, sorted(found[word])


# --- tests ---------------------------------------------------------------------------------

def test_text_search_detail_find_similar_and_back(page, corpus, iiif):
    word, expected = distinctive_word(corpus)
    visit(page)
    page.fill("#q", word)
    page.press("#q", "Enter")
    settle(page)
    assert f"q={word}" in page.url
    assert sorted(shown_ids(page)) == expected
    expect(page.locator("#status")).to_have_text(f"Showing {len(expected)} of {len(expected)} pictures.")
    thumb = page.locator("#results img").first
    assert thumb.get_attribute("src").startswith(iiif.base_url_v2)
    assert thumb.get_attribute("loading") == "lazy"
    wait_for_images(page)
    assert thumb.evaluate("img => img.naturalWidth") > 0, "the thumbnail did not load from the IIIF server"
    first = corpus.by_id(thumb.evaluate("img => img.closest('button').dataset.id"))
    assert thumb.get_attribute("alt").startswith(" ".join(first.context.split()[:8]))  # alt from the OCR text
    screenshot(page, "desktop-text-search")

    doc = corpus.by_id(expected[0])
    open_detail(page, doc.id)
    assert f"image={doc.id}" in page.url
    marks = page.locator("#detail-context mark").all_text_contents()
    assert marks and all(m.lower() == word for m in marks)
    expect(page.locator("#detail-title")).to_have_text(doc.title)
    expect(page.locator("#detail-book")).to_contain_text(str(doc.year))
    confidence = round(doc.class_probability[doc.predicted_class] * 100)
    expect(page.locator("#detail-class")).to_have_text(f"Predicted class: {doc.predicted_class} ({confidence}% confident)")
    assert page.locator("#detail-iiif").get_attribute("href").startswith(f"{iiif.base_url_v2}/{doc.iiif_id}/")
    assert doc.book_id in page.locator("#detail-viewer").get_attribute("href")
    assert page.locator("#detail-image").evaluate("img => img.naturalWidth") == doc.bbox.w
    screenshot(page, "desktop-detail")

    page.click("#detail-similar")
    settle(page)
    expect(page.locator("#detail")).to_be_hidden()
    assert f"similar={doc.id}" in page.url and "q=" not in page.url
    similar = shown_ids(page)
    assert similar and doc.id not in similar
    expect(page.locator("#status")).to_contain_text("similar to the chosen one")
    screenshot(page, "desktop-similar")

    page.go_back()  # the detail again, over the text results
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-similar")).to_have_attribute("data-id", doc.id)
    page.go_back()  # the text results without the detail
    expect(page.locator("#detail")).to_be_hidden()
    settle(page)
    assert sorted(shown_ids(page)) == expected and page.input_value("#q") == word


def test_upload_and_paste_search_put_the_copy_first(page, corpus):
    target, pasted = visible(corpus)[13], visible(corpus)[5]
    visit(page)
    page.set_input_files("#file", str(corpus.files[target.id]))
    settle(page)
    assert shown_ids(page)[0] == target.id
    assert "upload=" in page.url
    expect(page.locator("#query-image")).to_be_visible()
    screenshot(page, "desktop-upload-search")

    # A picture pasted from the clipboard: the event a browser fires on Ctrl+V with an image.
    data = base64.b64encode(corpus.files[pasted.id].read_bytes()).decode()
    page.evaluate("""data => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const clipboard = new DataTransfer();
        clipboard.items.add(new File([bytes], "clipboard.jpg", {type: "image/jpeg"}));
        document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: clipboard}));
    }""", data)
    settle(page)
    assert shown_ids(page)[0] == pasted.id

    # Another model from the sidebar: the perceptual hash finds the same picture at distance 0.
    page.select_option("#model", "PHASH")
    settle(page)
    assert "model=PHASH" in page.url and shown_ids(page)[0] == pasted.id

    # Words added to a picture search are fused with it, and the fusion choice opens up.
    page.fill("#q", "the")
    page.press("#q", "Enter")
    settle(page)
    expect(page.locator("#fusion-set")).to_be_enabled()
    page.check("input[name=fusion][value=LINEAR]")
    settle(page)
    assert "fusion=LINEAR" in page.url and "upload=" in page.url and shown_ids(page)

    page.go_back()  # words and picture, fused by RRF
    settle(page)
    assert "fusion=" not in page.url and page.input_value("#q") == "the"
    expect(page.locator("#error")).to_be_hidden()
    page.go_back()  # the pasted picture alone, by PHASH
    page.go_back()  # ... and by the default model: its file is still in the page's memory
    settle(page)
    expect(page.locator("#error")).to_be_hidden()
    assert "model=" not in page.url and shown_ids(page)[0] == pasted.id


def test_class_filter_toggle_and_back_button(page, corpus):
    visit(page)
    shown = visible(corpus)
    expect(page.locator("#status")).to_contain_text(f"of {len(shown)} pictures")
    first_view = shown_ids(page)
    counts = class_counts(page)
    assert counts == dict(Counter(d.predicted_class for d in shown))
    decades = decade_counts(page)

    page.check('#classes input[value="map"]')
    settle(page)
    maps = [d.id for d in shown if d.predicted_class == "map"]
    assert sorted(shown_ids(page)) == sorted(maps) and "class=map" in page.url
    expect(page.locator("#status")).to_have_text(f"Showing {len(maps)} of {len(maps)} pictures.")
    assert decade_counts(page) != decades and sum(decade_counts(page).values()) == len(maps)
    # The class counts ignore the class filter itself, so other classes can still be added.
    assert class_counts(page) == counts
    page.check('#classes input[value="decoration"]')
    settle(page)
    both = [d.id for d in shown if d.predicted_class in ("map", "decoration")]
    assert sorted(shown_ids(page)) == sorted(both)

    page.go_back()
    settle(page)
    assert sorted(shown_ids(page)) == sorted(maps)
    page.go_back()
    settle(page)
    assert shown_ids(page) == first_view
    assert not page.is_checked('#classes input[value="map"]')

    # Showing blank pages and anomalies: the toggle's classes come from the index's facets.
    expect(page.locator("#noise-classes")).to_have_text("(anomaly, blank)")
    page.uncheck("#hide-noise")
    settle(page)
    assert "all=1" in page.url
    expect(page.locator("#status")).to_contain_text(f"of {len(corpus.docs)} pictures")
    every = Counter(d.predicted_class for d in corpus.docs)
    assert class_counts(page) == dict(every) and every["blank"] and every["anomaly"]


def test_shared_url_reproduces_the_view(browser, server, page, corpus):
    visit(page)
    page.check('#classes input[value="illustration"]')
    settle(page)
    page.fill("#from", "1800")
    page.fill("#to", "1849")
    page.press("#to", "Enter")
    settle(page)
    ids = shown_ids(page)
    wanted = [d.id for d in visible(corpus) if d.predicted_class == "illustration" and 1800 <= d.year <= 1849]
    assert sorted(ids) == sorted(wanted)
    open_detail(page, ids[1])
    shared = page.url

    with browser_page(browser, server, DESKTOP) as other:  # a new browser profile, as a colleague's
        other.goto(shared)
        settle(other)
        assert shown_ids(other) == ids
        assert other.is_checked('#classes input[value="illustration"]')
        assert other.input_value("#from") == "1800" and other.input_value("#to") == "1849"
        expect(other.locator("#detail")).to_be_visible()
        expect(other.locator("#detail-similar")).to_have_attribute("data-id", ids[1])


def test_keyboard_navigation_and_readable_errors(page, corpus):
    visit(page)
    ids = shown_ids(page)
    page.locator("#results button.card").first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.id") == ids[1]
    columns = page.evaluate("""() => { const cards = [...document.querySelectorAll('#results .card')];
        return cards.filter(c => c.offsetTop === cards[0].offsetTop).length; }""")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.id") == ids[1 + columns]
    assert page.evaluate("document.activeElement.tabIndex") == 0
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-similar")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    # The dialog's "close" event is queued after it hides; the URL follows a moment later.
    expect(page).not_to_have_url(re.compile(r"[?&]image="))

    # Infinite scroll: near the end of the grid the next page comes by cursor (a page is 24).
    page.uncheck("#hide-noise")
    settle(page)
    assert len(corpus.docs) > 24
    page.locator("#sentinel").scroll_into_view_if_needed()
    expect(page.locator("#results button.card")).to_have_count(len(corpus.docs))
    expect(page.locator("#more")).to_be_hidden()
    assert len(set(shown_ids(page))) == len(corpus.docs)

    page.fill("#from", "1900")
    page.press("#from", "Enter")
    settle(page)
    page.fill("#to", "1800")
    page.press("#to", "Enter")
    settle(page)
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("yearFrom (1900) is after filter.yearTo (1800)")


def test_accessibility_and_phone_width(browser, server, page, corpus):
    visit(page)
    assert_accessible(page, "desktop results")
    screenshot(page, "desktop-browse")
    open_detail(page, shown_ids(page)[0])
    assert_accessible(page, "desktop detail")

    with browser_page(browser, server, PHONE) as phone:
        word, _ = distinctive_word(corpus)
        visit(phone, f"/?q={word}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "sideways scrolling"
        assert_accessible(phone, "phone results")
        screenshot(phone, "phone-text-search")
        phone.click("#filters-toggle")
        expect(phone.locator("#sidebar")).to_be_visible()
        assert_accessible(phone, "phone filters")
        screenshot(phone, "phone-filters")
        phone.click("#filters-toggle")
        open_detail(phone, shown_ids(phone)[0])
        assert_accessible(phone, "phone detail")
        screenshot(phone, "phone-detail")
