"""The resolvers' one door to Elasticsearch: a lazily built client, calls run off the event
loop, and transport failures turned into `SearchBackendUnavailable` with a useful message.

The client is built on first use, not at start-up, so the server starts (and `/healthz`
answers) while Elasticsearch is down, and recovers by itself when it comes back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch

from vignett.config import Settings
from vignett.indexing import es_client
from vignett.indexing.index import current_index

from .errors import ApiError, SearchBackendUnavailable

T = TypeVar("T")
READINESS_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str
    index: str | None = None


class SearchBackend:
    """Holds the client and the alias; every Elasticsearch call of the API goes through `run`."""

    def __init__(self, settings: Settings, client: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.alias = settings.index.alias
        self._client = client
        self._lock = threading.Lock()

    def client(self) -> Elasticsearch:
        with self._lock:
            if self._client is None:
                timeout = min(self.settings.es.request_timeout_s, self.settings.api.request_timeout_s)
                try:
                    self._client = es_client.connect(self.settings, timeout_s=timeout)
                except es_client.SearchBackendUnavailable as exc:
                    raise SearchBackendUnavailable(str(exc)) from None
            return self._client

    async def run(self, call: Callable[[Elasticsearch], T]) -> T:
        """Run `call(client)` in a worker thread (the client is synchronous)."""
        return await asyncio.to_thread(self.run_sync, call)

    def run_sync(self, call: Callable[[Elasticsearch], T]) -> T:
        try:
            return call(self.client())
        except ApiError:
            raise
        except EsApiError as exc:
            if exc.meta.status == 404 and "index_not_found" in str(exc):
                raise SearchBackendUnavailable(
                    f"the index behind alias {self.alias!r} does not exist; create it with "
                    "`vignett index create` and ingest some books"
                ) from None
            raise
        except (TransportConnectionError, ConnectionTimeout, TransportError, ConnectionError) as exc:
            raise SearchBackendUnavailable(
                f"Elasticsearch is unreachable ({type(exc).__name__}); check that it runs "
                "(`vignett es status`) and that es.url points at it"
            ) from None

    async def readiness(self) -> Readiness:
        """Reachable and the alias resolves to an index: what `/readyz` reports."""

        def probe(client: Elasticsearch) -> Readiness:
            fast = client.options(request_timeout=READINESS_TIMEOUT_S, max_retries=0)
            fast.cluster.health(timeout=f"{int(READINESS_TIMEOUT_S)}s")
            index = current_index(fast, self.alias)
            if index is None:
                return Readiness(False, f"alias {self.alias!r} does not exist; run `vignett index create`")
            return Readiness(True, "ok", index)

        try:
            return await self.run(probe)
        except ApiError as exc:
            return Readiness(False, str(exc))
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            return Readiness(False, f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def search_body(**parts: Any) -> dict[str, Any]:
    """A search body without the parts that are None (keeps logged queries readable)."""
    return {k: v for k, v in parts.items() if v is not None}
