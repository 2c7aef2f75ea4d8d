"""The checked-in SDL matches the code; fusion, cursors and error codes without Elasticsearch."""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from vignett.resolvers import BadUserInput, SearchBackendUnavailable
from vignett.resolvers.cursor import decode_cursor, encode_cursor
from vignett.resolvers.fusion import Ranked, linear_fusion, rrf_fusion
from vignett.schema.errors import error_code
from vignett.schema.export import SDL_PATH, current_sdl, main


def test_checked_in_sdl_matches_the_code():
    assert SDL_PATH.read_text() == current_sdl(), "run `python -m vignett.schema.export` and commit schema.graphql"
    assert main(["--check"]) == 0


def test_rrf_and_linear_fusion():
    text = [Ranked("a", 9.0), Ranked("b", 3.0)]
    vector = [Ranked("b", 0.9), Ranked("c", 0.8)]
    rrf = rrf_fusion(text, vector, 1.0, 1.0, rank_constant=60)
    assert [r.id for r in rrf] == ["b", "a", "c"]
    assert rrf[0].score == pytest.approx(1 / 62 + 1 / 61)
    linear = linear_fusion(text, vector, 1.0, 1.0)
    scores = {r.id: r.score for r in linear}
    assert scores == pytest.approx({"a": 0.5, "b": (3 / 9 + 0.9) / 2, "c": 0.4})
    assert [r.id for r in linear_fusion(text, vector, 0.0, 1.0)][0] == "b"


def test_cursors_round_trip_and_refuse_foreign_ones():
    assert decode_cursor(encode_cursor(17)) == 17
    assert decode_cursor(None) == 0
    with pytest.raises(BadUserInput):
        decode_cursor("YXJyYXljb25uZWN0aW9uOjE=")  # a Strawberry relay cursor, not ours


def test_error_codes():
    assert error_code(GraphQLError("x", original_error=SearchBackendUnavailable("down"))) == "SEARCH_BACKEND_UNAVAILABLE"
    assert error_code(GraphQLError("'q' exceeds maximum operation depth of 10")) == "QUERY_TOO_COMPLEX"
    assert error_code(GraphQLError("Syntax Error: Unexpected '}'.")) == "GRAPHQL_PARSE_FAILED"
    assert error_code(GraphQLError("Cannot query field 'x' on type 'Query'.")) == "GRAPHQL_VALIDATION_FAILED"
    assert error_code(GraphQLError("boom", original_error=KeyError("k"))) == "INTERNAL_SERVER_ERROR"
