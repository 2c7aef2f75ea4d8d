"""Where pretrained weights are found on disk, and how a connected machine fetches them.

Loading never touches the network: files are looked up in the Hugging Face cache layout
under `models.weights_dir` (when set) and then the standard hub cache, and handed to
timm/open_clip as local paths. Only `download_weights` (behind `vignett models download`)
goes online, through the libraries' own download code, into the same layout — so a folder
filled on a connected machine can be copied to an air-gapped one as `models.weights_dir`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import WeightsDownloadError, WeightsNotAvailable
from .specs import EmbedderSpec, HubWeights


@dataclass(frozen=True)
class LocatedWeights:
    """The local files of one model's pretrained weights (one hub snapshot)."""

    model: str
    repo_id: str
    revision: str
    weights_file: Path
    extra_files: tuple[Path, ...]

    @property
    def snapshot_dir(self) -> Path:
        return self.weights_file.parent


@dataclass(frozen=True)
class WeightsStatus:
    """What `vignett models list` reports for one model."""

    model: str
    needs_weights: bool
    location: LocatedWeights | None
    searched: tuple[Path, ...]

    @property
    def found(self) -> bool:
        return self.location is not None or not self.needs_weights


def hub_cache_dir() -> Path:
    """The standard hub cache, read from the environment at call time (as huggingface_hub does)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"
    )
    return Path(home).expanduser() / "hub"


def search_dirs(weights_dir: str | Path | None) -> tuple[Path, ...]:
    """Folders looked in, in order: the configured weights folder, then the hub cache."""
    dirs = [Path(weights_dir).expanduser()] if weights_dir else []
    dirs.append(hub_cache_dir())
    return tuple(dict.fromkeys(dirs))


def locate_weights(spec: EmbedderSpec, weights_dir: str | Path | None) -> LocatedWeights:
    """Find a model's files, or raise `WeightsNotAvailable` naming what and where."""
    hub = _require_hub(spec)
    searched = search_dirs(weights_dir)
    for cache_dir in searched:
        found = _find_in_cache(spec.name, hub, cache_dir)
        if found is not None:
            return found
    raise WeightsNotAvailable(
        spec.name, hub.repo_id, (" or ".join(hub.weight_files), *hub.extra_files), searched
    )


def weights_status(spec: EmbedderSpec, weights_dir: str | Path | None) -> WeightsStatus:
    if spec.hub is None:
        return WeightsStatus(spec.name, False, None, ())
    try:
        location: LocatedWeights | None = locate_weights(spec, weights_dir)
    except WeightsNotAvailable:
        location = None
    return WeightsStatus(spec.name, True, location, search_dirs(weights_dir))


def _find_in_cache(model: str, hub: HubWeights, cache_dir: Path) -> LocatedWeights | None:
    if not cache_dir.is_dir():
        return None
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> Path | None:
        hit = try_to_load_from_cache(hub.repo_id, filename, cache_dir=cache_dir)
        return Path(hit) if isinstance(hit, str) and os.path.isfile(hit) else None

    weights_file = next((p for p in map(cached, hub.weight_files) if p is not None), None)
    if weights_file is None:
        return None
    extras = tuple(cached(name) for name in hub.extra_files)
    if any(p is None for p in extras):
        return None
    return LocatedWeights(
        model, hub.repo_id, weights_file.parent.name, weights_file, tuple(p for p in extras if p)
    )


def _require_hub(spec: EmbedderSpec) -> HubWeights:
    if spec.hub is None:
        raise ValueError(f"embedder {spec.name!r} has no pretrained weights")
    return spec.hub


@contextmanager
def hub_offline() -> Iterator[None]:
    """Forbid huggingface_hub network calls while building a model (defence in depth).

    huggingface_hub reads HF_HUB_OFFLINE once at import, so both the variable and the
    imported constant are set, and restored afterwards.
    """
    import huggingface_hub.constants as hub_constants

    previous_env = os.environ.get("HF_HUB_OFFLINE")
    previous_const = hub_constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = previous_const
        if previous_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous_env


def check_hub_reachable(timeout_s: float) -> None:
    """Fail fast when the hub does not answer HTTP within `timeout_s` (DNS and TLS included).

    Any HTTP answer counts as reachable; a bare TCP connect does not (sandboxes accept those).
    urllib honours HTTPS_PROXY like the hub client does.
    """
    import urllib.error
    import urllib.request

    import huggingface_hub.constants as hub_constants

    if hub_constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "") in {"1", "true", "yes"}:
        raise WeightsDownloadError(
            "HF_HUB_OFFLINE is set: unset it to download weights on a connected machine"
        )
    endpoint = hub_constants.ENDPOINT
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout_s)
            outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # the server answered
        except Exception as exc:  # URLError, timeouts, TLS errors: not reachable
            outcome.append(exc)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if outcome and outcome[0] is None:
        return
    reason = f"{type(outcome[0]).__name__}: {outcome[0]}" if outcome else f"no answer within {timeout_s:g} s"
    raise WeightsDownloadError(
        f"cannot reach the model hub {endpoint} ({reason}): this machine looks offline. Run "
        f"`vignett models download` on a machine with network access, with models.weights_dir "
        f"set to a folder, then copy that folder here and point models.weights_dir at it."
    )


def download_weights(
    spec: EmbedderSpec, weights_dir: str | Path | None, timeout_s: float
) -> LocatedWeights:
    """Fetch one model's files with timm's/open_clip's own download code, then locate them."""
    hub = _require_hub(spec)
    check_hub_reachable(timeout_s)
    cache_dir = str(Path(weights_dir).expanduser()) if weights_dir else None
    if cache_dir:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    try:
        if spec.library == "timm":
            import timm

            timm.create_model(f"{spec.architecture}.{hub.tag}", pretrained=True, cache_dir=cache_dir)
        else:
            import open_clip

            cfg = open_clip.get_pretrained_cfg(spec.architecture, hub.tag)
            open_clip.download_pretrained(cfg, cache_dir=cache_dir)
        if hub.extra_files:
            from huggingface_hub import hf_hub_download

            for filename in hub.extra_files:
                hf_hub_download(hub.repo_id, filename, cache_dir=cache_dir)
    except Exception as exc:  # the libraries raise many types; report one clear error
        raise WeightsDownloadError(
            f"downloading {spec.name} ({hub.repo_id}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    return locate_weights(spec, weights_dir)
