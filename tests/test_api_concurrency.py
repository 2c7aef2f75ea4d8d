"""A busy model must not stall searches that need no model.

Each model embeds one query at a time. While image queries wait for it they must not hold
the threads that Elasticsearch calls run on: bench/latency.py at concurrency 8 showed text
searches taking 1-2 s behind queued uploads before image embedding got its own thread per
model. Here the real CLIP embedder is held at a gate while eight uploads queue for it; a
text search and a similarTo search must still answer, and the uploads must all finish once
the gate opens. Nothing is timed: the gate is only opened after the cheap searches returned.
"""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest

from vignett.resolvers import VignettApi
from vignett.resolvers.embedding import ModelPool
from vignett.web import create_app

from tests.api_corpus import Corpus, build_corpus

pytestmark = pytest.mark.es

UPLOADS = 8
GATE_TIMEOUT_S = 120  # a safety net: a stalled search fails the test instead of hanging it
UPLOAD = ('{"query": "query($img: Upload!) { search(image: $img, model: CLIP, first: 5) { edges { node { id } } } }", '
          '"variables": {"img": null}}')


class GatedEmbedder:
    """The real embedder, made to wait at a gate before each image batch."""

    def __init__(self, embedder, gate: threading.Event, waiting: threading.Semaphore) -> None:
        self._embedder, self._gate, self._waiting = embedder, gate, waiting
        self.dim = getattr(embedder, "dim", None)

    def embed_images(self, images):
        self._waiting.release()
        assert self._gate.wait(GATE_TIMEOUT_S), "the gate was never opened"
        return self._embedder.embed_images(images)

    def embed_texts(self, texts):
        return self._embedder.embed_texts(texts)


@pytest.fixture(scope="module")
def corpus(es_client, session_alias) -> Corpus:
    return build_corpus(es_client, session_alias)


def test_cheap_searches_answer_while_uploads_wait_for_the_model(corpus):
    gate, waiting = threading.Event(), threading.Semaphore(0)
    gated = GatedEmbedder(corpus.embedders["clip"], gate, waiting)
    pool = ModelPool(corpus.settings.models,
                     factory=lambda name, **_: gated if name == "clip" else corpus.embedders[name])
    api = VignettApi(corpus.settings, embedder=pool)
    app = create_app(corpus.settings, api)
    target = corpus.docs[3]
    picture = corpus.files[target.id].read_bytes()

    async def scenario() -> tuple[list[httpx.Response], dict, dict]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vignett", timeout=GATE_TIMEOUT_S) as client:
            uploads = [asyncio.create_task(client.post(
                "/graphql", headers={"GraphQL-Require-Preflight": "1"},
                data={"operations": UPLOAD, "map": '{"0": ["variables.img"]}'},
                files={"0": ("query.jpg", picture, "image/jpeg")})) for _ in range(UPLOADS)]
            # The first upload is inside the model, the others queue behind it.
            assert await asyncio.to_thread(waiting.acquire, True, GATE_TIMEOUT_S), "no upload reached the model"
            text = await client.post("/graphql", json={"query": '{ search(text: "the", first: 5) { totalCount } }'})
            similar = await client.post("/graphql", json={
                "query": "query($id: ID!) { search(similarTo: $id, model: PHASH, first: 5) { edges { node { id } } } }",
                "variables": {"id": target.id}})
            still_waiting = sum(not u.done() for u in uploads)
            gate.set()
            done = await asyncio.gather(*uploads)
        # Fails when the cheap searches only answered after the gated uploads gave up.
        assert still_waiting == UPLOADS, "text/similarTo searches waited for the busy model"
        return done, text.json(), similar.json()

    try:
        uploads, text, similar = asyncio.run(scenario())
    finally:
        gate.set()
        api.close()
    assert "errors" not in text and text["data"]["search"]["totalCount"] > 0, text
    assert "errors" not in similar and similar["data"]["search"]["edges"], similar
    for response in uploads:
        body = response.json()
        assert "errors" not in body, json.dumps(body)[:500]
        assert target.id in [e["node"]["id"] for e in body["data"]["search"]["edges"]]
