"""The local node and the CLI around it, against the node `./dev test` started."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from vignett.config import load_settings
from vignett.indexing.es_client import SearchBackendUnavailable, check_reachable, connect
from vignett.indexing.es_install import find_java
from vignett.indexing.es_local import port_is_free, read_state, start_node
from tests.support import isolated_env

pytestmark = pytest.mark.es


def _vignett(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vignett", *args],
        capture_output=True,
        text=True,
        env=env or isolated_env(),
        timeout=300,
    )


def test_start_reuses_the_running_node(es_client):
    settings = load_settings(env=isolated_env())
    before = read_state(settings)
    assert before is not None, "./dev test should have started the local node"
    again = start_node(settings, log=lambda _m: None)
    assert again.pid == before.pid and again.url == before.url


def test_cli_start_prints_a_url_of_an_elasticsearch_9_node(es_client):
    result = _vignett("es", "start")
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip().splitlines()[-1]
    response = httpx.get(f"{url}/_nodes/_local")
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    node = next(iter(response.json()["nodes"].values()))
    assert node["version"].startswith("9.")


def test_cli_status_reports_running(es_client):
    result = _vignett("es", "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("running http://127.0.0.1:")
    assert "Elasticsearch 9." in result.stdout


def test_start_with_a_configured_url_has_nothing_to_start():
    result = _vignett("es", "start", env=isolated_env(es_url="http://127.0.0.1:9"))
    assert result.returncode == 0
    assert "nothing to start" in result.stdout


def test_unreachable_cluster_is_a_clear_error():
    settings = load_settings(env=isolated_env(es_url=f"http://127.0.0.1:{_closed_port()}"))
    with pytest.raises(SearchBackendUnavailable, match="unreachable"):
        check_reachable(connect(settings, timeout_s=2), settings.es.url)
    result = _vignett("index", "create", env=isolated_env(es_url=settings.es.url))
    assert result.returncode == 1
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr


def test_java_found_is_at_least_21():
    runtime = find_java(load_settings(env=isolated_env()))
    assert runtime.version >= 21


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert port_is_free("127.0.0.1", port)
    return port


@pytest.fixture(scope="module")
def spare_home():
    """A second node home (outside root's private tmp) holding a copy of the distribution."""
    import shutil
    import tempfile
    from pathlib import Path

    main = read_state(load_settings(env=isolated_env()))
    assert main is not None
    home = Path(tempfile.mkdtemp(prefix="vignett-es-test-", dir="/var/tmp"))
    home.chmod(0o755)
    dist = f"elasticsearch-{main.version}"
    shutil.copytree(Path(main.home) / dist, home / dist, symlinks=True)
    yield home, main
    shutil.rmtree(home, ignore_errors=True)


def test_second_node_lifecycle_and_stop_touches_only_its_own_node(es_client, spare_home):
    from vignett.indexing.es_local import node_status, stop_node

    home, main = spare_home
    settings = load_settings(
        env=isolated_env(es_home_dir=str(home), es_heap="256m", es_version=main.version)
    )
    state = start_node(settings, log=lambda _m: None)
    try:
        assert state.url != main.url
        _state, info = node_status(settings)
        assert info is not None and info["version"]["number"].startswith("9.")
    finally:
        assert stop_node(settings, log=lambda _m: None) is True
    assert node_status(settings)[1] is None
    assert stop_node(settings, log=lambda _m: None) is False
    # The suite's own node is untouched.
    assert check_reachable(es_client).version.startswith("9.")


def test_node_that_dies_on_start_reports_the_log_tail(spare_home):
    from vignett.indexing.es_local import LocalNodeError

    home, main = spare_home
    settings = load_settings(
        env=isolated_env(es_home_dir=str(home), es_heap="notasize", es_version=main.version)
    )
    with pytest.raises(LocalNodeError) as err:
        start_node(settings, log=lambda _m: None)
    message = str(err.value)
    assert "exited with code" in message and "---" in message


def test_busy_port_is_a_clear_error(tmp_path):
    import socket

    from vignett.indexing.es_local import LocalNodeError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = load_settings(env=isolated_env(es_home_dir=str(tmp_path), es_port=str(port)))
        with pytest.raises(LocalNodeError, match=f"port {port} .* is busy"):
            start_node(settings, log=lambda _m: None)
