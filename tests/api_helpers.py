"""Helpers the API tests share: a GraphQL call, error codes, numpy rankings to compare with."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.api_corpus import Corpus


def gql(client: Any, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
    """POST a GraphQL request (TestClient or httpx.Client) and return the JSON body."""
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {})
    assert response.status_code in (200, 413, 400), response.text
    return response.json()


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def ranking(corpus: Corpus, query: np.ndarray, model: str, keep=lambda d: True) -> list[tuple[str, float]]:
    """Exact dot-product ranking in numpy, scored as Elasticsearch does: (1 + dot) / 2."""
    docs = [d for d in corpus.docs if model in d.vectors and keep(d)]
    scores = [(d.id, (1.0 + float(np.dot(d.vectors[model], query))) / 2.0) for d in docs]
    return sorted(scores, key=lambda s: (-s[1], s[0]))


def ids(body: dict, field: str = "search") -> list[str]:
    return [e["node"]["id"] for e in body["data"][field]["edges"]]


SEARCH_FIELDS = """
  totalCount
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor score highlights node { id book { id year } predictedClass label } }
  facets { classes { value count } decades { value count } books { value count } }
"""
