"""Shared fixtures: settings for tests and a client for the real Elasticsearch node.

`./dev test` starts the node (`vignett es start`) before pytest runs; tests that need it use
`es_client`, which fails loudly (never skips) when no node answers. Each test session works
under its own alias so it never touches a user's `vignett-images`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from vignett.config import Settings, load_settings

from tests.support import SHARED_DATA, isolated_env


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED_DATA.is_dir(), f"shared data not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def session_alias() -> str:
    return f"vignett-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def es_settings(session_alias: str) -> Settings:
    """Settings pointing at the node `./dev test` started (or VIGNETT_ES_URL when given)."""
    overrides = {"index_alias": session_alias}
    if os.environ.get("VIGNETT_ES_URL"):
        overrides["es_url"] = os.environ["VIGNETT_ES_URL"]
    return load_settings(env=isolated_env(**overrides))


@pytest.fixture(scope="session")
def es_client(es_settings: Settings):
    from vignett.indexing.es_client import check_reachable, connect, elasticsearch_url

    client = connect(es_settings)
    check_reachable(client, elasticsearch_url(es_settings))  # raises: no silent skip
    yield client
    client.indices.delete(index=f"{es_settings.index.alias}*", ignore_unavailable=True)
    client.close()
