"""One way to get an Elasticsearch client: the configured cluster, else the local node."""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import Elasticsearch

from vignett.config import Settings

from .es_local import read_state


@dataclass(frozen=True)
class ClusterInfo:
    version: str
    cluster_name: str
    status: str


class SearchBackendUnavailable(RuntimeError):
    """Elasticsearch cannot be reached or is not configured; the message says what to do."""


def elasticsearch_url(settings: Settings) -> str:
    if settings.es.url:
        return settings.es.url
    state = read_state(settings)
    if state is None:
        raise SearchBackendUnavailable(
            "no Elasticsearch configured: set VIGNETT_ES_URL to your cluster, or run "
            "`vignett es start` for a local node"
        )
    return state.url


def connect(settings: Settings, *, timeout_s: float | None = None) -> Elasticsearch:
    """A client for the cluster; credentials from settings (API key wins over user/password)."""
    es = settings.es
    kwargs: dict = {
        "request_timeout": timeout_s or es.request_timeout_s,
        "retry_on_timeout": True,
        "max_retries": 2,
    }
    if es.api_key:
        kwargs["api_key"] = es.api_key
    elif es.username:
        kwargs["basic_auth"] = (es.username, es.password)
    url = elasticsearch_url(settings)
    if url.startswith("https"):
        kwargs["verify_certs"] = es.verify_certs
        if es.ca_certs:
            kwargs["ca_certs"] = es.ca_certs
    return Elasticsearch(url, **kwargs)


def check_reachable(client: Elasticsearch, url_hint: str = "") -> ClusterInfo:
    """Version and health of the cluster, or SearchBackendUnavailable naming the URL.

    Uses `_nodes/_local` rather than `GET /`: the integ-test-zip lacks the rest-root module
    that serves `GET /`.
    """
    from elastic_transport import TransportError

    try:
        health = client.cluster.health()
        nodes = client.nodes.info(node_id="_local", metric="version")
    except (TransportError, ConnectionError) as exc:
        raise SearchBackendUnavailable(
            f"Elasticsearch at {url_hint or 'the configured URL'} is unreachable "
            f"({exc.__class__.__name__}: {exc}). Is it running? `vignett es status` tells for "
            "the local node; VIGNETT_ES_URL names a remote cluster."
        ) from None
    node = next(iter(nodes["nodes"].values()))
    return ClusterInfo(
        version=node["version"], cluster_name=health["cluster_name"], status=health["status"]
    )
