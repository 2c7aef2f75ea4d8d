"""The index on the real Elasticsearch node: mapping read back, idempotence, alias swap."""

from __future__ import annotations

import dataclasses

import pytest

from vignett.config import Settings
from vignett.indexing.index import IndexSetupError, current_index, ensure_index
from vignett.models.specs import EMBEDDER_SPECS

pytestmark = pytest.mark.es


def _settings_with_alias(settings: Settings, alias: str, **index_changes) -> Settings:
    return dataclasses.replace(
        settings, index=dataclasses.replace(settings.index, alias=alias, **index_changes)
    )


def test_mapping_on_the_node_has_the_vectors_and_context(es_client, es_settings):
    settings = _settings_with_alias(es_settings, es_settings.index.alias + "-map")
    status = ensure_index(es_client, settings.index)
    props = es_client.indices.get_mapping(index=settings.index.alias)[status.index]["mappings"][
        "properties"
    ]
    assert props["vit"]["dims"] == 768 and props["clip"]["dims"] == 512
    assert props["siglip"]["dims"] == 768
    for name in ("vit", "clip", "siglip"):
        assert props[name]["type"] == "dense_vector"
        assert props[name]["index_options"]["type"] == "int8_hnsw"
    assert props["phash"]["element_type"] == "bit" and props["phash"]["dims"] == 64
    assert props["context"]["type"] == "text"
    # The integ-test-zip has no language analyzers: the configured one falls back.
    has_norwegian = _cluster_has_analyzer(es_client, "norwegian")
    assert props["context"]["analyzer"] == ("norwegian" if has_norwegian else "standard")
    assert status.context_analyzer == props["context"]["analyzer"]
    assert props["year"]["type"] == "integer"
    assert props["predicted_class"]["type"] == "keyword"
    assert set(EMBEDDER_SPECS) <= set(props)


def test_vectors_stay_out_of_source_but_can_be_read_back(es_client, es_settings):
    settings = _settings_with_alias(es_settings, es_settings.index.alias + "-src")
    ensure_index(es_client, settings.index)
    alias = settings.index.alias
    vector = [0.0] * 511 + [1.0]
    es_client.index(index=alias, id="doc", document={"clip": vector, "context": "x"}, refresh=True)
    plain = es_client.get(index=alias, id="doc")["_source"]
    assert "clip" not in plain
    full = es_client.get(index=alias, id="doc", source_exclude_vectors=False)["_source"]
    assert full["clip"][-1] == pytest.approx(1.0)


def test_create_twice_is_a_no_op(es_client, es_settings):
    settings = _settings_with_alias(es_settings, es_settings.index.alias + "-idem")
    first = ensure_index(es_client, settings.index)
    second = ensure_index(es_client, settings.index)
    assert first.created and not second.created
    assert second.index == first.index
    assert es_client.indices.get(index=f"{settings.index.alias}-*").keys() == {first.index}


def test_mapping_change_creates_next_version_and_moves_alias(es_client, es_settings):
    settings = _settings_with_alias(es_settings, es_settings.index.alias + "-swap")
    first = ensure_index(es_client, settings.index)
    changed = _settings_with_alias(
        es_settings, settings.index.alias, vector_index_type="hnsw"
    )
    second = ensure_index(es_client, changed.index)
    assert second.created and second.previous == first.index
    assert second.index == f"{settings.index.alias}-2"
    assert current_index(es_client, settings.index.alias) == second.index
    props = es_client.indices.get_mapping(index=settings.index.alias)[second.index]["mappings"][
        "properties"
    ]
    assert props["clip"]["index_options"]["type"] == "hnsw"
    # The old version is kept for roll-back, but no longer behind the alias.
    assert es_client.indices.exists(index=first.index)
    assert ensure_index(es_client, changed.index).created is False


def test_a_concrete_index_named_like_the_alias_is_a_clear_error(es_client, es_settings):
    name = es_settings.index.alias + "-concrete"
    es_client.indices.create(index=name)
    settings = _settings_with_alias(es_settings, name)
    with pytest.raises(IndexSetupError, match="concrete index, not an alias"):
        ensure_index(es_client, settings.index)


def _cluster_has_analyzer(client, name: str) -> bool:
    from elasticsearch import ApiError

    try:
        client.indices.analyze(analyzer=name, text="x")
        return True
    except ApiError:
        return False
