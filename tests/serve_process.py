"""Run a real `vignett serve` subprocess for a test and stop it afterwards.

The test modules that need the server as its own process (multipart over real HTTP, a
browser, the evaluation driving it from outside) start it here, with the same code the latency benchmark
uses to start its own (bench/server.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.server import serving


@contextmanager
def running_serve(
    env: dict[str, str], log_path: Path, *, ready_path: str = "/healthz", timeout_s: float = 30.0
) -> Iterator[str]:
    """Start `vignett serve` on a free port with `env`; yield its base URL once `ready_path`
    answers 200. A server that exits or is not ready raises ServerStartError with its log, so
    the test fails (never skips)."""
    with serving(env, log_path, ready_path=ready_path, timeout_s=timeout_s) as base:
        yield base
