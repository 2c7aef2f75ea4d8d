"""The local single-node Elasticsearch that `vignett es start` provisions for laptops and tests.

The official `integ-test-zip` distribution (resolved and unpacked by `es_install`) is run
on a JDK >= 21 as an unprivileged user (Elasticsearch refuses root), bound to 127.0.0.1 with
security disabled. The node's URL and pid are written
to `state.json` in the home directory so that `status` and `stop` find it, and `stop` only
ever signals the process it started.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from vignett.config import Settings

from .es_install import LocalNodeError, ensure_distribution, find_java, last_lines

VECTOR_WARNING = "Java vector incubator module is not readable"
LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class NodeState:
    """What a started node leaves behind for `status` and `stop`."""

    url: str
    pid: int
    version: str
    java_home: str
    java_version: str
    home: str
    log_file: str
    started_at: float
    vectorization: bool


def node_home(settings: Settings) -> Path:
    """Where the distribution, config, data and logs of the local node live."""
    if settings.es.home_dir:
        return Path(settings.es.home_dir).expanduser()
    if os.geteuid() == 0:
        # root's own cache is not readable by the unprivileged user the node runs as.
        return Path("/var/lib/vignett/es")
    return settings.paths.resolved_cache_dir() / "es"


def read_state(settings: Settings) -> NodeState | None:
    path = node_home(settings) / "state.json"
    if not path.exists():
        return None
    try:
        return NodeState(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def node_status(settings: Settings) -> tuple[NodeState | None, dict | None]:
    """The recorded node (if any) and its `_nodes/_local` answer (None when it does not answer)."""
    state = read_state(settings)
    if state is None or not _pid_is_our_node(state):
        return state, None
    return state, _local_node_info(state.url)


def start_node(settings: Settings, log=print) -> NodeState:
    """Start the local node, or return the running one. Raises LocalNodeError with the log tail."""
    if settings.es.url:
        raise LocalNodeError(
            f"VIGNETT_ES_URL / es.url is set ({settings.es.url}): vignett uses that cluster "
            "and has nothing to start"
        )
    state, info = node_status(settings)
    if state is not None and info is not None:
        log(f"Elasticsearch {state.version} already running at {state.url} (pid {state.pid})")
        return state

    if settings.es.port and not port_is_free(settings.es.host, settings.es.port):
        raise LocalNodeError(
            f"port {settings.es.port} on {settings.es.host} is busy: stop what uses it or set "
            "VIGNETT_ES_PORT=0 to pick a free port"
        )
    home = node_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    version, dist = ensure_distribution(settings, home, log)
    java = find_java(settings)
    log(f"Using Java {java.version} from {java.home} ({java.source})")
    port = settings.es.port or free_port(settings.es.host)
    conf_dir, log_dir = _write_node_config(settings, home, dist, port)
    user = _ensure_run_user(settings, home) if os.geteuid() == 0 else None

    log_file = log_dir / "vignett-local.log"
    console = (log_dir / "console.out").open("ab")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ES_JAVA_HOME": str(java.home),
        "ES_PATH_CONF": str(conf_dir),
        "HOME": str(home),
    }
    process = subprocess.Popen(
        [str(dist / "bin" / "elasticsearch")],
        cwd=str(home),
        env=env,
        stdout=console,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        user=user,
        group=user and pwd.getpwnam(user).pw_gid,
    )
    url = f"http://{settings.es.host}:{port}"
    log(f"Starting Elasticsearch {version} at {url} (pid {process.pid}); log: {log_file}")
    _wait_until_healthy(process, url, settings.es.start_timeout_s, log_dir)
    log_text = log_file.read_text(errors="replace") if log_file.exists() else ""
    vectorization = VECTOR_WARNING not in log_text
    if not vectorization:
        log(
            "warning: this JDK lacks jdk.incubator.vector, so Lucene's vectorised HNSW code is "
            "off (slower vector search). Install a full JDK >= 21 or set ES_JAVA_HOME."
        )
    state = NodeState(
        url=url,
        pid=process.pid,
        version=version,
        java_home=str(java.home),
        java_version=str(java.version),
        home=str(home),
        log_file=str(log_file),
        started_at=time.time(),
        vectorization=vectorization,
    )
    (home / "state.json").write_text(json.dumps(asdict(state), indent=2))
    return state


def stop_node(settings: Settings, timeout_s: float = 60.0, log=print) -> bool:
    """Stop the node this home started; False when none was running."""
    state = read_state(settings)
    state_file = node_home(settings) / "state.json"
    if state is None:
        log("no local Elasticsearch node recorded")
        return False
    if not _pid_is_our_node(state):
        log(f"the recorded node (pid {state.pid}) is not running")
        state_file.unlink(missing_ok=True)
        return False
    os.killpg(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _pid_alive(state.pid):
        time.sleep(0.2)
    if _pid_alive(state.pid):
        os.killpg(state.pid, signal.SIGKILL)
    state_file.unlink(missing_ok=True)
    log(f"stopped Elasticsearch at {state.url} (pid {state.pid})")
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def log_tail(log_dir: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of the node's logs, for error messages."""
    parts = []
    for name in ("vignett-local.log", "console.out"):
        path = log_dir / name
        if path.exists():
            parts.append(f"--- {path} ---\n" + last_lines(path.read_text(errors="replace"), lines))
    return "\n".join(parts) or f"(no log written under {log_dir})"


def _write_node_config(settings: Settings, home: Path, dist: Path, port: int) -> tuple[Path, Path]:
    conf_dir = home / "config"
    if conf_dir.exists():
        shutil.rmtree(conf_dir)
    shutil.copytree(dist / "config", conf_dir)
    data_dir, log_dir = home / "data", home / "logs"
    data_dir.mkdir(exist_ok=True)
    log_dir.mkdir(exist_ok=True)
    transport_port = free_port(settings.es.host)
    (conf_dir / "elasticsearch.yml").write_text(
        "\n".join(
            [
                "cluster.name: vignett-local",
                "node.name: vignett-local-node",
                f"path.data: {data_dir}",
                f"path.logs: {log_dir}",
                f"network.host: {settings.es.host}",
                f"http.port: {port}",
                f"transport.port: {transport_port}",
                "discovery.type: single-node",
                # Local node only: a remote cluster keeps its own security.
                "xpack.security.enabled: false",
                "cluster.routing.allocation.disk.threshold_enabled: false",
                "action.destructive_requires_name: false",
                "",
            ]
        )
    )
    options = conf_dir / "jvm.options.d"
    options.mkdir(exist_ok=True)
    heap = settings.es.heap
    (options / "vignett-heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
    return conf_dir, log_dir


def _ensure_run_user(settings: Settings, home: Path) -> str:
    user = settings.es.run_as_user
    try:
        pwd.getpwnam(user)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise LocalNodeError(
                f"could not create the system user {user!r} to run Elasticsearch (it refuses "
                f"root): {result.stderr.strip()}"
            ) from None
    entry = pwd.getpwnam(user)
    for path in [home, *home.rglob("*")]:
        try:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        except FileNotFoundError:
            pass
    # Every folder above the home must be traversable by the user.
    for parent in home.parents:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            raise LocalNodeError(
                f"{parent} is not traversable by user {user!r}; set VIGNETT_ES_HOME_DIR to a "
                "folder outside it"
            )
    return user


def _wait_until_healthy(process: subprocess.Popen, url: str, timeout_s: float, log_dir: Path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalNodeError(
                f"Elasticsearch exited with code {process.returncode} while starting.\n"
                + log_tail(log_dir)
            )
        try:
            response = httpx.get(
                f"{url}/_cluster/health", params={"wait_for_status": "yellow", "timeout": "2s"},
                timeout=5.0,
            )
            if response.status_code == 200 and response.json().get("status") in {"yellow", "green"}:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    raise LocalNodeError(
        f"Elasticsearch did not become healthy within {timeout_s:.0f}s at {url}.\n"
        + log_tail(log_dir)
    )


def _local_node_info(url: str) -> dict | None:
    """The node's info (name, version, build) and product header; None when it does not answer.

    `GET /` is not served by the integ-test-zip (no rest-root module), so ask `_nodes/_local`.
    """
    try:
        response = httpx.get(f"{url}/_nodes/_local", timeout=5.0)
        if response.status_code != 200:
            return None
        node = next(iter(response.json()["nodes"].values()))
    except (httpx.HTTPError, ValueError, KeyError, StopIteration):
        return None
    return {
        "name": node.get("name"),
        "version": {"number": node.get("version"), "build_hash": node.get("build_hash")},
        "product": response.headers.get("x-elastic-product", ""),
    }


def _pid_alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped by its parent) is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "\nState:\tZ" in status:
        try:  # reap it when it is our own child (a node started in this process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def _pid_is_our_node(state: NodeState) -> bool:
    """True only when the pid is alive and is the Elasticsearch of this home (pids get reused)."""
    if not _pid_alive(state.pid):
        return False
    try:
        environ = Path(f"/proc/{state.pid}/environ").read_bytes()
        cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes()
    except OSError:
        return False
    return state.home.encode() in environ or state.home.encode() in cmdline
