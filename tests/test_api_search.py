"""`search` on the real node, in process (Starlette TestClient over the ASGI app): each
argument alone, the combinations, facets against direct Elasticsearch counts, pagination."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from vignett.resolvers import VignettApi
from vignett.resolvers.embedding import ModelPool
from vignett.web import create_app

from tests.api_corpus import Corpus, build_corpus
from tests.api_helpers import SEARCH_FIELDS, codes, gql, ids, ranking

pytestmark = pytest.mark.es

SEARCH = "query S($text: String, $semanticText: String, $vector: [Float!], $similarTo: ID, $model: Model," \
         " $filter: SearchFilterInput, $fusion: FusionInput, $minScore: Float, $sort: Sort! = RELEVANCE," \
         " $first: Int! = 100, $after: String) { search(text: $text, semanticText: $semanticText," \
         " vector: $vector, similarTo: $similarTo, model: $model, filter: $filter, fusion: $fusion," \
         " minScore: $minScore, sort: $sort, first: $first, after: $after) {" + SEARCH_FIELDS + "} }"


@pytest.fixture(scope="module")
def corpus(es_client, session_alias) -> Corpus:
    return build_corpus(es_client, session_alias)


@pytest.fixture(scope="module")
def client(corpus):
    # The query embedder is injected: the very embedders that embedded the corpus.
    pool = ModelPool(corpus.settings.models, factory=lambda name, **_: corpus.embedders[name])
    api = VignettApi(corpus.settings, embedder=pool)
    with TestClient(create_app(corpus.settings, api)) as test_client:
        yield test_client


def search(client, **variables) -> dict:
    body = gql(client, SEARCH, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]["search"]


def tokens(es_client, text: str) -> set[str]:
    result = es_client.indices.analyze(analyzer="standard", text=text)
    return {t["token"] for t in result["tokens"]}


@pytest.fixture(scope="module")
def rare_word(corpus, es_client) -> tuple[str, set[str]]:
    """An alphabetic word that occurs in a few (2-8) contexts, and the ids of those pictures."""
    per_doc = {d.id: tokens(es_client, d.context) for d in corpus.docs}
    df = Counter(t for toks in per_doc.values() for t in toks if re.fullmatch(r"[a-z]{5,}", t))
    word = sorted(w for w, n in df.items() if 2 <= n <= 8)[0]
    return word, {i for i, toks in per_doc.items() if word in toks}


def test_text_alone_finds_exactly_the_pictures_whose_context_has_the_word(client, rare_word):
    word, expected = rare_word
    result = search(client, text=word)
    assert {e["node"]["id"] for e in result["edges"]} == expected
    assert result["totalCount"] == len(expected)
    for edge in result["edges"]:
        assert edge["score"] > 0
        assert any(f"<em>{word}</em>" in h.lower() for h in edge["highlights"])


def test_filters_alone(client, corpus):
    cases = [
        ({"classes": ["illustration"], "yearFrom": 1820, "yearTo": 1860},
         lambda d: d.predicted_class == "illustration" and 1820 <= d.year <= 1860),
        ({"excludeClasses": ["illustration", "anomaly"]}, lambda d: d.predicted_class not in ("illustration", "anomaly")),
        ({"bookIds": ["book-b", "book-e"]}, lambda d: d.book_id in ("book-b", "book-e")),
        ({"pageIds": ["book-a_0001", "book-c_0002"]}, lambda d: d.page_id in ("book-a_0001", "book-c_0002")),
        ({"labelled": True}, lambda d: d.id in corpus.labels),
        ({"labelled": False}, lambda d: d.id not in corpus.labels),
        ({"minClassProbability": 0.8}, lambda d: d.class_probability[d.predicted_class] >= 0.8),
        ({"classes": ["map", "blank"], "minClassProbability": 0.7},
         lambda d: d.predicted_class in ("map", "blank") and d.class_probability[d.predicted_class] >= 0.7),
    ]
    for flt, keep in cases:
        expected = {d.id for d in corpus.docs if keep(d)}
        assert expected, flt
        result = search(client, filter=flt)
        assert {e["node"]["id"] for e in result["edges"]} == expected, flt
        assert result["totalCount"] == len(expected)


def test_vector_alone_ranks_like_numpy(client, corpus):
    doc = corpus.docs[5]
    result = search(client, vector=[float(x) for x in doc.vectors["clip"]], model="CLIP", first=10)
    expected = ranking(corpus, doc.vectors["clip"], "clip")[:10]
    assert result["edges"][0]["node"]["id"] == doc.id
    assert result["edges"][0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert [e["node"]["id"] for e in result["edges"]] == [i for i, _ in expected]
    assert [e["score"] for e in result["edges"]] == pytest.approx([s for _, s in expected], abs=1e-4)


def test_semantic_text_with_a_year_filter(client, corpus):
    prompt = "a woodcut of a sailing ship"
    query = corpus.embedders["clip"].embed_texts([prompt])[0]
    result = search(client, semanticText=prompt, model="CLIP", filter={"yearFrom": 1840})
    expected = ranking(corpus, query, "clip", keep=lambda d: d.year >= 1840)
    assert [e["node"]["id"] for e in result["edges"]] == [i for i, _ in expected]
    assert all(e["node"]["book"]["year"] >= 1840 for e in result["edges"])


def test_similar_to_with_a_class_filter(client, corpus):
    source = corpus.docs[0]
    keep = lambda d: d.predicted_class == "illustration" and d.id != source.id  # noqa: E731
    expected = [i for i, _ in ranking(corpus, source.vectors["clip"], "clip", keep)]
    result = search(client, similarTo=source.id, model="CLIP", filter={"classes": ["illustration"]})
    assert [e["node"]["id"] for e in result["edges"]] == expected
    body = gql(client, "query($id: ID!) { similar(id: $id, model: CLIP, filter: {classes: [\"illustration\"]}, first: 100)"
                       " { edges { node { id } } } }", {"id": source.id})
    assert ids(body, "similar") == expected


def test_similar_with_phash_and_vit(client, corpus):
    source = corpus.docs[1]
    result = search(client, similarTo=source.id, model="VIT")
    assert {e["node"]["id"] for e in result["edges"]} == {d.id for d in corpus.docs[:4]} - {source.id}
    bits = np.unpackbits(source.vectors["phash"]).astype(float).tolist()
    result = search(client, vector=bits, model="PHASH", first=1)
    assert result["edges"][0]["node"]["id"] == source.id and result["edges"][0]["score"] == pytest.approx(1.0)
    similar = search(client, similarTo=source.id, model="PHASH")
    hamming = {d.id: int(np.unpackbits(d.vectors["phash"] ^ source.vectors["phash"]).sum()) for d in corpus.docs}
    scores = [e["score"] for e in similar["edges"]]
    assert scores == pytest.approx([1 - hamming[e["node"]["id"]] / 64 for e in similar["edges"]])
    assert scores == sorted(scores, reverse=True) and len(scores) == len(corpus.docs) - 1
    assert source.id not in {e["node"]["id"] for e in similar["edges"]}


def _rrf(lists: list[list[str]], k: int = 60) -> list[str]:
    scores: dict[str, float] = {}
    for ranked in lists:
        for rank, doc_id in enumerate(ranked, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return [i for i, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def test_text_plus_uploaded_image_plus_filters_is_rrf_of_both(client, corpus, es_client, rare_word):
    word, _ = rare_word
    target = corpus.docs[7]
    operations = '{"query": "query($img: Upload!, $t: String) { search(text: $t, image: $img, model: CLIP, ' \
                 'filter: {excludeClasses: [\\"blank\\"]}, first: 100) { totalCount edges { node { id } } } }", ' \
                 '"variables": {"img": null, "t": "' + word + '"}}'
    response = client.post(
        "/graphql", headers={"GraphQL-Require-Preflight": "1"},
        data={"operations": operations, "map": '{"0": ["variables.img"]}'},
        files={"0": ("query.jpg", corpus.files[target.id].read_bytes(), "image/jpeg")},
    )
    body = response.json()
    assert "errors" not in body, body
    text_ranked = [h["_id"] for h in es_client.search(
        index=corpus.settings.index.alias, size=100,
        query={"bool": {"must": [{"multi_match": {"query": word, "fields": ["context", "caption^2"]}}],
                        "must_not": [{"terms": {"predicted_class": ["blank"]}}]}})["hits"]["hits"]]
    query_vector = corpus.embedders["clip"].embed_images([Image.open(corpus.files[target.id]).convert("RGB")])[0]
    vector_ranked = [i for i, _ in ranking(corpus, query_vector, "clip", keep=lambda d: d.predicted_class != "blank")]
    expected = _rrf([text_ranked, vector_ranked])
    assert ids(body) == expected
    assert body["data"]["search"]["totalCount"] == len(expected)
    assert ids(body)[0] == target.id or target.id in ids(body)[:3]


def test_linear_fusion_weights_move_the_ranking(client, corpus, rare_word):
    word, matches = rare_word
    vector = [float(x) for x in corpus.docs[9].vectors["clip"]]
    text_heavy = search(client, text=word, vector=vector, model="CLIP",
                        fusion={"method": "LINEAR", "textWeight": 1.0, "vectorWeight": 0.0})
    vector_heavy = search(client, text=word, vector=vector, model="CLIP",
                          fusion={"method": "LINEAR", "textWeight": 0.0, "vectorWeight": 1.0})
    top = len(matches)
    assert {e["node"]["id"] for e in text_heavy["edges"][:top]} == matches
    assert vector_heavy["edges"][0]["node"]["id"] == corpus.docs[9].id
    assert all(0.0 <= e["score"] <= 1.0 for e in text_heavy["edges"] + vector_heavy["edges"])


def _direct_facets(es_client, alias: str, **search) -> dict[str, dict[str, int]]:
    """Counts straight from Elasticsearch, written out here independently of the resolvers."""
    aggs = {"c": {"terms": {"field": "predicted_class", "size": 100}},
            "d": {"histogram": {"field": "year", "interval": 10, "min_doc_count": 1}},
            "b": {"terms": {"field": "book_id", "size": 100}}}
    r = es_client.search(index=alias, size=0, aggs=aggs, **search)["aggregations"]
    return {name: {str(int(b["key"])) if name == "d" else b["key"]: b["doc_count"] for b in r[name]["buckets"]}
            for name in ("c", "d", "b")}


def _facets_of(result: dict) -> dict[str, dict[str, int]]:
    f = result["facets"]
    return {"c": {b["value"]: b["count"] for b in f["classes"]}, "d": {b["value"]: b["count"] for b in f["decades"]},
            "b": {b["value"]: b["count"] for b in f["books"]}}


def test_facets_equal_direct_elasticsearch_counts(client, corpus, es_client, rare_word):
    alias, word = corpus.settings.index.alias, rare_word[0]
    flt_es = {"range": {"year": {"gte": 1830}}}
    cases = [
        (dict(filter={"yearFrom": 1830}), dict(query={"bool": {"filter": [flt_es]}})),
        (dict(text=word), dict(query={"match": {"context": word}})),
        (dict(text="the", filter={"yearFrom": 1830}),
         dict(query={"bool": {"must": [{"match": {"context": "the"}}], "filter": [flt_es]}})),
        (dict(vector=[float(x) for x in corpus.docs[3].vectors["clip"]], model="CLIP", filter={"yearFrom": 1830},
              minScore=0.5),
         dict(knn={"field": "clip", "query_vector": corpus.docs[3].vectors["clip"].tolist(), "k": 100,
                   "num_candidates": 200, "filter": flt_es}, min_score=0.5)),
    ]
    for variables, direct in cases:
        result = search(client, **variables)
        expected = _direct_facets(es_client, alias, **direct)
        assert _facets_of(result) == expected, variables
        assert result["totalCount"] == sum(expected["c"].values())


def test_fused_facets_count_the_fused_list(client, corpus):
    result = search(client, text="the", vector=[float(x) for x in corpus.docs[2].vectors["clip"]], model="CLIP")
    listed = [corpus.by_id(e["node"]["id"]) for e in result["edges"]]
    assert result["totalCount"] == len(listed) == len(corpus.docs)
    assert _facets_of(result)["c"] == dict(Counter(d.predicted_class for d in listed))
    assert _facets_of(result)["b"] == dict(Counter(d.book_id for d in listed))


@pytest.mark.parametrize("variables", [
    {"text": "the"}, {}, {"filter": {"excludeClasses": ["blank"]}, "sort": "YEAR_DESC"},
    {"vector": "doc4", "model": "CLIP"}, {"vector": "doc4", "model": "CLIP", "text": "the"},
])
def test_pagination_walks_every_result_once(client, corpus, variables):
    if variables.get("vector") == "doc4":
        variables = {**variables, "vector": [float(x) for x in corpus.docs[4].vectors["clip"]]}
    everything = search(client, **variables)
    seen, after, pages = [], None, 0
    while True:
        page = search(client, **variables, first=7, after=after)
        assert page["totalCount"] == everything["totalCount"]
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        seen += [e["node"]["id"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == everything["totalCount"]
    assert seen == [e["node"]["id"] for e in everything["edges"]]
    assert pages == -(-everything["totalCount"] // 7)


def test_min_score_and_sort(client, corpus):
    doc = corpus.docs[11]
    vector = [float(x) for x in doc.vectors["clip"]]
    threshold = ranking(corpus, doc.vectors["clip"], "clip")[9][1]
    result = search(client, vector=vector, model="CLIP", minScore=threshold - 1e-6)
    assert result["totalCount"] == len(result["edges"]) >= 10
    assert all(e["score"] >= threshold - 1e-5 for e in result["edges"])
    by_year = search(client, vector=vector, model="CLIP", minScore=threshold - 1e-6, sort="YEAR_ASC")
    years = [e["node"]["book"]["year"] for e in by_year["edges"]]
    assert years == sorted(years) and {e["node"]["id"] for e in by_year["edges"]} == set(ids({"data": {"search": result}}))
    browse = search(client, sort="YEAR_DESC")
    years = [e["node"]["book"]["year"] for e in browse["edges"]]
    assert years == sorted(years, reverse=True) and len(years) == len(corpus.docs)


def test_bad_arguments_say_what_to_fix(client, corpus):
    cases = [
        ({"vector": [0.1] * 3, "model": "CLIP"}, "needs 512"),
        ({"vector": [0.1] * 512, "model": "CLIP", "similarTo": corpus.docs[0].id}, "one query image source"),
        ({"semanticText": "a map", "model": "VIT"}, "no text encoder"),
        ({"semanticText": "a map", "model": "CLIP", "similarTo": corpus.docs[0].id}, "one vector source"),
        ({"first": 101}, "first must be within 1..100"),
        ({"after": "not-a-cursor"}, "not one this API issued"),
        ({"filter": {"yearFrom": 1900, "yearTo": 1800}}, "is after"),
        ({"vector": [0.0] * 512, "model": "CLIP"}, "length 0"),
    ]
    for variables, fragment in cases:
        body = gql(client, SEARCH, variables)
        assert codes(body) == ["BAD_USER_INPUT"], (variables, body)
        assert fragment in body["errors"][0]["message"], body["errors"][0]["message"]
    body = gql(client, SEARCH, {"similarTo": "no-such-id"})
    assert codes(body) == ["NOT_FOUND"]
