"""Helpers the test modules import: where the shared data is, an isolated environment."""

from __future__ import annotations

import os
from pathlib import Path

from vignett.indexing.es_local import free_port

__all__ = ["REPO", "SHARED_DATA", "free_port", "isolated_env"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def isolated_env(**overrides: str) -> dict[str, str]:
    """The process environment minus any VIGNETT_* the developer has set, plus overrides
    given as section_key=value (e.g. `index_alias="x"` -> VIGNETT_INDEX_ALIAS=x)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGNETT_")}
    env.update({f"VIGNETT_{k.upper()}": v for k, v in overrides.items()})
    return env

