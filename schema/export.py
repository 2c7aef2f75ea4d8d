"""Write the schema's SDL to schema/schema.graphql (checked in; a test compares it).

    python -m vignett.schema.export            # rewrite the file
    python -m vignett.schema.export --check    # exit 1 when the file is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

SDL_PATH = Path(__file__).with_name("schema.graphql")


def current_sdl() -> str:
    from .build import build_schema

    return build_schema().as_str().rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sdl = current_sdl()
    if "--check" in argv:
        if not SDL_PATH.exists() or SDL_PATH.read_text() != sdl:
            print(f"{SDL_PATH} is out of date: run python -m vignett.schema.export", file=sys.stderr)
            return 1
        return 0
    SDL_PATH.write_text(sdl)
    print(f"wrote {SDL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
