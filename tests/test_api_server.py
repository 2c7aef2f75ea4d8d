"""A real `vignett serve` subprocess: multipart upload over HTTP, abuse refused with the right
codes (the server answering afterwards), and Elasticsearch cut off and restored through a
TCP proxy: SEARCH_BACKEND_UNAVAILABLE quickly, /readyz 503, then answers again, no restart."""

from __future__ import annotations

import os
import subprocess
import time
from urllib.parse import urlsplit

import httpx
import pytest

from vignett.indexing.es_client import elasticsearch_url

from tests.api_corpus import API_KEY, Corpus, build_corpus
from tests.api_helpers import codes, gql
from tests.support import isolated_env
from tests.serve_process import running_serve
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.es

UPLOAD = ('{"query": "query($img: Upload!) { search(image: $img, model: CLIP, first: 3) '
          '{ edges { score node { id } } } }", "variables": {"img": null}}')
ALIVE = "{ stats { totalImages } }"


@pytest.fixture(scope="module")
def corpus(es_client, session_alias) -> Corpus:
    return build_corpus(es_client, session_alias)


@pytest.fixture(scope="module")
def proxy(corpus):
    target = urlsplit(elasticsearch_url(corpus.settings))
    proxy = TcpProxy(target.hostname, target.port).start()
    yield proxy
    proxy.cut()


@pytest.fixture(scope="module")
def server(corpus, proxy, tmp_path_factory):
    env = isolated_env(
        es_url=proxy.url, index_alias=corpus.settings.index.alias, models_default="clip",
        models_weights="random", models_device="cpu", api_api_keys=API_KEY,
        api_allowed_image_hosts="images.example.org", api_request_timeout_s="60",
    )
    with running_serve(env, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        with httpx.Client(base_url=base, timeout=120) as client:
            yield client


def _wait_for(check, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"vignett serve exited with {process.returncode}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready within {timeout_s} s")


def _still_alive(server) -> None:
    body = gql(server, ALIVE)
    assert "errors" not in body and body["data"]["stats"]["totalImages"] > 0


def _upload(server, content: bytes, name: str = "q.jpg", mime: str = "image/jpeg") -> httpx.Response:
    return server.post(
        "/graphql", headers={"GraphQL-Require-Preflight": "1"},
        data={"operations": UPLOAD, "map": '{"0": ["variables.img"]}'}, files={"0": (name, content, mime)},
    )


def test_health_and_readiness(server):
    assert server.get("/healthz").json() == {"status": "ok"}
    ready = server.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert "graphiql" in server.get("/graphql", headers={"Accept": "text/html"}).text.lower()


def test_upload_search_over_real_multipart_http(server, corpus):
    target = corpus.docs[13]
    response = _upload(server, corpus.files[target.id].read_bytes())
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    top = body["data"]["search"]["edges"][0]
    assert top["node"]["id"] == target.id and top["score"] == pytest.approx(1.0, abs=1e-3)


def test_abuse_is_refused_with_the_right_code(server, corpus):
    inner = "id"
    for _ in range(5):  # 4 levels each: 20 levels below search.edges.node
        inner = f"book {{ images {{ edges {{ node {{ {inner} }} }} }} }}"
    deep = f"{{ search {{ edges {{ node {{ {inner} }} }} }} }}"
    cases = {
        "depth-20": (lambda: gql(server, deep), "QUERY_TOO_COMPLEX"),
        "1000 aliases": (lambda: gql(server, "{" + " ".join(f"a{i}: stats {{ totalImages }}" for i in range(1000)) + "}"),
                         "QUERY_TOO_COMPLEX"),
        "40 aliases": (lambda: gql(server, "{" + " ".join(f"a{i}: __typename" for i in range(40)) + "}"),
                       "QUERY_TOO_COMPLEX"),
        "first 100000": (lambda: gql(server, "{ search(first: 100000) { totalCount } }"), "BAD_USER_INPUT"),
        "vector length": (lambda: gql(server, "{ search(vector: [0.5, 0.5], model: CLIP) { totalCount } }"), "BAD_USER_INPUT"),
        "forbidden host": (lambda: gql(server, '{ search(imageUrl: "http://169.254.169.254/x.jpg") { totalCount } }'),
                           "FORBIDDEN"),
        "mutation without key": (lambda: gql(server, f'mutation {{ setLabel(id: "{corpus.docs[0].id}", label: "x") {{ id }} }}'),
                                 "UNAUTHENTICATED"),
        "mutation, wrong key": (lambda: gql(server, "mutation { reindex { id } }", headers={"X-API-Key": "nope"}),
                                "UNAUTHENTICATED"),
        "job without key": (lambda: gql(server, '{ job(id: "x") { id } }'), "UNAUTHENTICATED"),
        "non-image upload": (lambda: _upload(server, b"%PDF-1.4 not an image" * 100, "a.pdf", "application/pdf").json(),
                             "BAD_USER_INPUT"),
        "50 MB upload": (lambda: _upload(server, os.urandom(1024) * 50 * 1024).json(), "PAYLOAD_TOO_LARGE"),
    }
    for name, (call, code) in cases.items():
        started = time.monotonic()
        body = call()
        assert codes(body) == [code], (name, body)
        assert body["errors"][0]["message"], name
        assert time.monotonic() - started < 10, name
        _still_alive(server)


def test_multipart_needs_a_preflight_header(server):
    response = server.post("/graphql", data={"operations": UPLOAD, "map": "{}"}, files={"0": ("a", b"x")})
    assert response.status_code == 400 and codes(response.json()) == ["BAD_REQUEST"]
    _still_alive(server)


def test_elasticsearch_cut_off_and_back(server, proxy):
    proxy.cut()
    try:
        started = time.monotonic()
        body = gql(server, "{ search(text: \"the\") { totalCount } }")
        assert codes(body) == ["SEARCH_BACKEND_UNAVAILABLE"], body
        assert "unreachable" in body["errors"][0]["message"]
        assert time.monotonic() - started < 5
        assert codes(gql(server, ALIVE)) == ["SEARCH_BACKEND_UNAVAILABLE"]
        ready = server.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert server.get("/healthz").status_code == 200
    finally:
        proxy.restore()
    _wait_for(lambda: server.get("/readyz").status_code == 200, 20)
    body = gql(server, "{ search(text: \"the\") { totalCount } }")
    assert "errors" not in body and body["data"]["search"]["totalCount"] > 0
    _still_alive(server)
