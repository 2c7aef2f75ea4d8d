"""A `vignett serve` the benchmarks start for themselves, so one command measures the API.

The server is a separate process on loopback (as a deployment would be), serving the bench
alias; its log goes to a file under results/ so a failed start can be read afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from vignett.indexing.es_local import free_port

REPO = Path(__file__).resolve().parents[1]


def serve_env(alias: str, weights: str | None = None, request_timeout_s: float = 300.0) -> dict[str, str]:
    """This process's environment pointed at `alias`. `weights` (random | pretrained) overrides
    models.weights; the request timeout is raised because the first upload or semanticText
    query loads a model, which on a small CPU can take longer than the production default."""
    env = dict(os.environ, VIGNETT_INDEX_ALIAS=alias, VIGNETT_API_REQUEST_TIMEOUT_S=str(request_timeout_s))
    if weights:
        env["VIGNETT_MODELS_WEIGHTS"] = weights
    return env


class ServerStartError(RuntimeError):
    """`vignett serve` exited or did not become ready; the message carries its log's tail."""


@contextmanager
def serving(env: dict[str, str], log_path: Path, *, ready_path: str = "/readyz",
            timeout_s: float = 120.0) -> Iterator[str]:
    """Start `vignett serve` on a free loopback port with `env`; yield its base URL once
    `ready_path` answers 200, and stop it afterwards."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "vignett", "serve", "--port", str(port), "--log-level", "warning"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise ServerStartError(f"vignett serve exited with {process.returncode}; its log "
                                       f"{log_path} ends:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServerStartError(f"vignett serve not ready within {timeout_s:g} s; its log "
                                       f"{log_path} ends:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
