"""The versioned index behind the alias: create it, move the alias, read what is there.

`vignett-images` (the alias) points at `vignett-images-<n>`. `ensure_index` is idempotent:
when the current index already has the wanted mapping nothing happens; when the mapping
changed, `vignett-images-<n+1>` is created and the alias moves to it in one atomic call.
The previous index is kept (not deleted) so an operator can re-ingest or roll back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from elasticsearch import ApiError, Elasticsearch

from vignett.config import IndexSettings

from .mapping import build_index_settings, build_mapping, mapping_hash


class IndexSetupError(RuntimeError):
    """The index cannot be created or the alias is in an unexpected state."""


@dataclass(frozen=True)
class IndexStatus:
    alias: str
    index: str
    created: bool
    previous: str | None
    context_analyzer: str
    mapping_hash: str


def resolve_analyzer(client: Elasticsearch, index: IndexSettings) -> str:
    """The configured analyzer if the cluster has it, else the fallback (integ-test-zip lacks
    the language analyzers of the analysis-common module)."""
    try:
        client.indices.analyze(analyzer=index.context_analyzer, text="prøve")
        return index.context_analyzer
    except ApiError:
        return index.fallback_analyzer


def current_index(client: Elasticsearch, alias: str) -> str | None:
    if not client.indices.exists_alias(name=alias):
        if client.indices.exists(index=alias):
            raise IndexSetupError(
                f"{alias!r} is a concrete index, not an alias; vignett needs it as an alias. "
                f"Delete or rename that index (e.g. reindex it into {alias}-1) and run again."
            )
        return None
    indices = list(client.indices.get_alias(name=alias).keys())
    if len(indices) != 1:
        raise IndexSetupError(f"alias {alias!r} points at {len(indices)} indices: {indices}")
    return indices[0]


def ensure_index(client: Elasticsearch, index: IndexSettings) -> IndexStatus:
    analyzer = resolve_analyzer(client, index)
    wanted = mapping_hash(build_mapping(index, analyzer), build_index_settings(index))
    alias = index.alias
    existing = current_index(client, alias)
    if existing is not None:
        meta = client.indices.get_mapping(index=existing)[existing]["mappings"].get("_meta", {})
        if meta.get("vignett_mapping_hash") == wanted:
            return IndexStatus(alias, existing, False, None, analyzer, wanted)

    name = create_next_version(client, index, analyzer)
    move_alias(client, alias, existing, name)
    client.cluster.health(index=name, wait_for_status="yellow", timeout="30s")
    return IndexStatus(alias, name, True, existing, analyzer, wanted)


def create_next_version(client: Elasticsearch, index: IndexSettings, analyzer: str | None = None) -> str:
    """Create `<alias>-<n+1>` with the current mapping (its hash in `_meta`); the alias is not
    touched, so the caller decides when searches see it."""
    analyzer = analyzer or resolve_analyzer(client, index)
    mapping = build_mapping(index, analyzer)
    index_settings = build_index_settings(index)
    meta = {"vignett_mapping_hash": mapping_hash(mapping, index_settings)}
    name = f"{index.alias}-{_next_version(client, index.alias)}"
    client.indices.create(index=name, mappings={**mapping, "_meta": meta}, settings=index_settings)
    return name


def move_alias(client: Elasticsearch, alias: str, old: str | None, new: str) -> None:
    """Point `alias` (the write alias) from `old` to `new` in one atomic call."""
    actions: list[dict] = [{"add": {"index": new, "alias": alias, "is_write_index": True}}]
    if old is not None:
        actions.insert(0, {"remove": {"index": old, "alias": alias}})
    client.indices.update_aliases(actions=actions)


def _next_version(client: Elasticsearch, alias: str) -> int:
    pattern = re.compile(rf"^{re.escape(alias)}-(\d+)$")
    names = client.indices.get(index=f"{alias}-*", expand_wildcards="all").keys()
    versions = [int(m.group(1)) for n in names if (m := pattern.match(n))]
    return max(versions, default=0) + 1
