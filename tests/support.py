"""Helpers the test modules import: where the shared data is, an isolated environment."""

from __future__ import annotations

import os
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def isolated_env(**overrides: str) -> dict[str, str]:
    """The process environment minus any VIGNETT_* the developer has set, plus overrides
    given as section_key=value (e.g. `index_alias="x"` -> VIGNETT_INDEX_ALIAS=x)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGNETT_")}
    env.update({f"VIGNETT_{k.upper()}": v for k, v in overrides.items()})
    return env


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
