"""Run a real `vignett serve` subprocess for a test and stop it afterwards.

Four test modules need the server as its own process (multipart over real HTTP, a browser,
the benchmarks and the evaluation drive it from outside); they all start it here.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import REPO, free_port


@contextmanager
def running_serve(
    env: dict[str, str], log_path: Path, *, ready_path: str = "/healthz", timeout_s: float = 30.0
) -> Iterator[str]:
    """Start `vignett serve` on a free port with `env`; yield its base URL once `ready_path`
    answers 200. Fails (never skips) with the server's log when it exits or is not ready."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "vignett", "serve", "--port", str(port), "--log-level", "warning"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert process.poll() is None, (
                f"vignett serve exited with {process.returncode}:\n{log_path.read_text()}"
            )
            try:
                if httpx.get(f"{base}{ready_path}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                f"vignett serve not ready within {timeout_s:g} s:\n{log_path.read_text()}"
            )
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
