"""The API tests' index: ~48 real pictures from the shared data, embedded by the real
embedders (random weights), with books, years, classes and OCR context (real ALTO text)
assigned deterministically, bulk-indexed with `ImageDocument.to_source()`.

Built once per test session (cached here, whichever test module asks first) under its own
alias `<session alias>-api`, with `flat` vectors so kNN is exact and tests can compare it with
numpy. CLIP and phash vectors for every picture, ViT for the first four (so per-model counts
differ); SigLIP is left out because it costs ~3 s a picture on a 2-core machine.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from elasticsearch import Elasticsearch, helpers
from lxml import etree
from PIL import Image

from vignett.config import Settings, load_settings
from vignett.indexing.alto import BBox
from vignett.indexing.documents import ImageDocument, document_id
from vignett.indexing.index import ensure_index

from tests.support import SHARED_DATA, isolated_env

API_KEY = "test-key-0123456789"
CLASSES = ("anomaly", "blank", "decoration", "illustration", "map")
BOOKS = (  # id, title, author, year
    ("book-a", "Norske Folke-Eventyr", "P. Chr. Asbjørnsen", 1795),
    ("book-b", "Reise gjennem Nordland", "L. Kraft", 1823),
    ("book-c", "Billeder af Folkelivet", "J. Moe", 1841),
    ("book-d", "Kart over Kysten", "A. Munch", 1856),
    ("book-e", "Almanak for Bonden", "", 1872),
    ("book-f", "Ornamenter og Vignetter", "H. Olsen", 1889),
)
PICK = (  # folder, class, how many (first n files in name order)
    ("chr24-nln", "illustration", 10), ("nls-chapbooks", "illustration", 8),
    ("openclipart-outofdomain", "map", 5), ("blank-margins", "blank", 6),
    ("ulb-alto-crops", "anomaly", 6), ("impresso-olive-imp1901", "anomaly", 5),
)
ALTO_FILES = (
    "impresso/BL/BLIP_20190920_01/0002088/1832/1123/0002088_18321123_0001.xml",
    "solr-ocrhighlighting/chronicling_america.xml",
)
VIT_SUBSET = 4
IIIF_BASE = "https://iiif.example.org/iiif"


@dataclass
class Corpus:
    settings: Settings
    docs: list[ImageDocument]
    files: dict[str, Path]  # doc id -> the image file it was embedded from
    labels: dict[str, str]  # doc id -> human label, for the labelled ones
    embedders: dict[str, object] = field(default_factory=dict)

    def by_id(self, doc_id: str) -> ImageDocument:
        return next(d for d in self.docs if d.id == doc_id)


_CACHE: dict[str, Corpus] = {}


def api_settings(alias: str, **overrides: str) -> Settings:
    env = dict(
        index_alias=alias, index_vector_index_type="flat", models_default="clip",
        models_weights="random", models_device="cpu", models_enabled="vit,clip,siglip,phash",
        api_api_keys=API_KEY, api_allowed_image_hosts="images.example.org",
    )
    if os.environ.get("VIGNETT_ES_URL"):
        env["es_url"] = os.environ["VIGNETT_ES_URL"]
    env.update(overrides)
    return load_settings(env=isolated_env(**env))


def build_corpus(client: Elasticsearch, session_alias: str) -> Corpus:
    alias = f"{session_alias}-api"
    if alias in _CACHE:
        return _CACHE[alias]
    from vignett.models import create_embedder

    settings = api_settings(alias)
    ensure_index(client, settings.index)
    files = _pick_files()
    contexts = _alto_contexts(len(files))
    embedders = {name: create_embedder(name, weights="random", device="cpu") for name in ("clip", "phash", "vit")}
    images = [Image.open(path).convert("RGB") for _, path, _ in files]
    vectors = {
        "clip": embedders["clip"].embed_images(images),
        "phash": embedders["phash"].embed_images(images),
        "vit": embedders["vit"].embed_images(images[:VIT_SUBSET]),
    }
    docs = [
        _document(i, cls, images[i], contexts[i], path, vectors, embedders)
        for i, (_, path, cls) in enumerate(files)
    ]
    # Human labels are not part of what ingest writes; every 7th picture gets one here.
    labels = {d.id: d.predicted_class for i, d in enumerate(docs) if i % 7 == 3}
    actions = [
        {"_index": alias, "_id": d.id, "_source": {**d.to_source(), **({"label": labels[d.id]} if d.id in labels else {})}}
        for d in docs
    ]
    helpers.bulk(client, actions, refresh="wait_for")
    corpus = Corpus(settings, docs, {d.id: files[i][1] for i, d in enumerate(docs)}, labels, embedders)
    _CACHE[alias] = corpus
    return corpus


def _pick_files() -> list[tuple[str, Path, str]]:
    rows = list(csv.DictReader((SHARED_DATA / "images" / "manifest.csv").open()))
    picked = []
    for folder, cls, n in PICK:
        # Some rows name the file relative to data/, others relative to data/images/.
        names = sorted(r["file"].removeprefix("images/") for r in rows if r["folder"] == folder)
        if folder == "openclipart-outofdomain":  # maps and ornaments both live here
            maps = [f for f in names if "map" in f.lower()][:3]
            ornaments = [f for f in names if "map" not in f.lower()][: n - 3]
            picked += [(folder, SHARED_DATA / "images" / f, "map") for f in maps]
            picked += [(folder, SHARED_DATA / "images" / f, "decoration") for f in ornaments]
            continue
        picked += [(folder, SHARED_DATA / "images" / f, cls) for f in names[:n]]
    return picked


def _alto_contexts(n: int, words_each: int = 30) -> list[str]:
    """Consecutive 30-word windows of real OCR text from ALTO files."""
    words: list[str] = []
    for rel in ALTO_FILES:
        tree = etree.parse(str(SHARED_DATA / "alto" / rel))
        words += [el.get("CONTENT", "") for el in tree.iter() if isinstance(el.tag, str) and el.tag.endswith("String")]
    words = [w for w in words if re.search(r"[A-Za-z]{2,}", w)]
    assert len(words) >= n * words_each, "not enough ALTO text for the corpus"
    return [" ".join(words[i * words_each:(i + 1) * words_each]) for i in range(n)]


def _document(i: int, cls: str, image: Image.Image, context: str, path: Path,
              vectors: dict[str, np.ndarray], embedders: dict) -> ImageDocument:
    book_id, title, author, year = BOOKS[i % len(BOOKS)]
    page = i // len(BOOKS) + 1
    page_id = f"{book_id}_{page:04d}"
    bbox = BBox(100 + 7 * i, 200 + 11 * i, image.width, image.height)
    p = 0.55 + (i % 9) * 0.05
    probs = {c: (p if c == cls else round((1 - p) / (len(CLASSES) - 1), 4)) for c in CLASSES}
    doc_vectors = {"clip": vectors["clip"][i], "phash": vectors["phash"][i]}
    if i < VIT_SUBSET:
        doc_vectors["vit"] = vectors["vit"][i]
    return ImageDocument(
        id=document_id(page_id, bbox), page_id=page_id, book_id=book_id, source=str(path),
        element_id=f"el{i}", element_type="Illustration", page_number=page, bbox=bbox,
        page_width=bbox.x + image.width + 100, page_height=bbox.y + image.height + 100,
        aspect_ratio=round(image.width / image.height, 4), iiif_base=IIIF_BASE, iiif_id=page_id,
        context=context, title=title, author=author, year=year, language="nob",
        weights="random", model_versions={m: embedders[m].version for m in doc_vectors},
        predicted_class=cls, class_probability=probs, classifier_version="test-classes-1",
        vectors=doc_vectors,
    )
