"""Start and stop the real IIIF Image API reference server (`iiif` package) for tests.

`iiif_testserver.py` serves every .jpg/.png/.tif in one flat folder, the identifier being the
file name without its extension, under `/{version}_{manipulator}/`, e.g.
`http://127.0.0.1:PORT/2.1_pil/00000005/info.json` and `.../3.0_pil/00000005/full/max/0/default.jpg`.
`start_iiif_server` accepts a folder or a mapping {identifier: image path} (the page scans under
shared/data live in many folders), links them into a temporary folder, and starts the server
on a free port of 127.0.0.1.

Use `start_iiif_server(...)` directly, as a context manager, or through the `iiif_server`
fixture (import it into a test module: `from tests.iiif_server import iiif_server`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import SHARED_DATA, free_port

IMAGE_SUFFIXES = (".jpg", ".png", ".tif")

# Real page scans whose ALTO is under shared/data/alto (see shared/data/SOURCES.md).
ULB = SHARED_DATA / "alto" / "ulb-digital-derivans"
PAGE_SCANS: dict[str, Path] = {
    "00000005": ULB / "148811035" / "MAX" / "00000005.jpg",
    "00000007": ULB / "148811035" / "MAX" / "00000007.jpg",
    "00000008": ULB / "148811035" / "MAX" / "00000008.jpg",
    "1981185920_88120_00000010": ULB / "1981185920_88120" / "1981185920_88120_00000010.jpg",
}


@dataclass
class IIIFServer:
    base_url_v2: str
    base_url_v3: str
    image_dir: Path
    process: subprocess.Popen

    def base_url(self, version: str) -> str:
        return self.base_url_v3 if str(version).startswith("3") else self.base_url_v2

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.image_dir, ignore_errors=True)

    def __enter__(self) -> IIIFServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _server_script() -> str:
    script = Path(sys.executable).with_name("iiif_testserver.py")
    if not script.is_file():
        found = shutil.which("iiif_testserver.py")
        if not found:
            raise RuntimeError("iiif_testserver.py not found: install the test extra (`pip install iiif`)")
        script = Path(found)
    return str(script)


def start_iiif_server(images: Path | Mapping[str, Path], *, startup_timeout_s: float = 30.0) -> IIIFServer:
    """Serve `images` (a folder, or {identifier: file}) with Image API 2.1 and 3.0 (Pillow)."""
    served = Path(tempfile.mkdtemp(prefix="vignett-iiif-"))
    sources = (
        {p.stem: p for p in Path(images).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
        if isinstance(images, (str, Path)) else dict(images)
    )
    for identifier, path in sources.items():
        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"IIIF test image {path} does not exist")
        (served / f"{identifier}{path.suffix.lower()}").symlink_to(path)
    port = free_port()
    log = open(served / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, _server_script(), "--image-dir", str(served), "--host", "127.0.0.1",
         "--port", str(port), "--api-versions", "2.1,3.0", "--manipulators", "pil", "--quiet"],
        cwd=served,  # it writes iiif_testserver.pid into the working directory
        stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    root = f"http://127.0.0.1:{port}"
    server = IIIFServer(f"{root}/2.1_pil", f"{root}/3.0_pil", served, process)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (served / "server.log").read_text(errors="replace")
            server.stop()
            raise RuntimeError(f"iiif_testserver.py exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{root}/", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"iiif_testserver.py did not answer on {root} within {startup_timeout_s} s")


@pytest.fixture(scope="module")
def iiif_server() -> Iterator[IIIFServer]:
    """The real IIIF server over PAGE_SCANS, for one test module."""
    server = start_iiif_server(PAGE_SCANS)
    try:
        yield server
    finally:
        server.stop()
