"""The browser tests' index: the API corpus (tests/api_corpus.py, same pictures, vectors,
classes, books and OCR text) copied under its own alias `<session alias>-web` with IIIF links
that resolve, so the client's thumbnails load from a real IIIF server.

The API corpus points at a IIIF host that does not exist. Here each picture is pasted into a
page image at its bounding box (the page size the document records), the pages are served by
the real IIIF reference server (tests/iiif_server.py), and the copies get `iiif_base` = that
server's Image API 2 base. The API then builds region URLs that crop exactly the picture.
Nothing is embedded again: building this costs a bulk request and ~48 small JPEGs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from elasticsearch import Elasticsearch, helpers
from PIL import Image

from vignett.config import Settings
from vignett.indexing.index import ensure_index

from tests.api_corpus import Corpus, api_settings

PAPER = (236, 230, 214)  # a page's off-white, so a crop that misses the picture shows


def compose_pages(corpus: Corpus, folder: Path) -> dict[str, Path]:
    """{IIIF identifier: page image} with each picture at its bbox on a page of its size."""
    pages = {}
    for doc in corpus.docs:
        assert doc.bbox is not None and doc.page_width and doc.page_height
        page = Image.new("RGB", (doc.page_width, doc.page_height), PAPER)
        with Image.open(corpus.files[doc.id]) as picture:
            page.paste(picture.convert("RGB"), (doc.bbox.x, doc.bbox.y))
        path = folder / f"{doc.iiif_id}.jpg"
        page.save(path, quality=92)
        pages[doc.iiif_id] = path
    return pages


def index_web_copy(client: Elasticsearch, corpus: Corpus, alias: str, iiif_base: str) -> Settings:
    """Index the corpus again under `alias` with `iiif_base`; the same ids, labels and vectors."""
    settings = api_settings(alias)
    ensure_index(client, settings.index)
    actions = []
    for doc in corpus.docs:
        copy = dataclasses.replace(doc, iiif_base=iiif_base)
        label = {"label": corpus.labels[doc.id]} if doc.id in corpus.labels else {}
        actions.append({"_index": alias, "_id": doc.id, "_source": {**copy.to_source(), **label}})
    helpers.bulk(client, actions, refresh="wait_for")
    return settings
