"""Typed, immutable settings: defaults from `default.toml`, a user TOML file, `VIGNETT_*` env.

Precedence (later wins): the packaged `default.toml`, the file named by `VIGNETT_CONFIG`
(or passed explicitly), then environment variables `VIGNETT_<SECTION>_<KEY>`
(e.g. `VIGNETT_ES_URL`, `VIGNETT_INDEX_VECTOR_INDEX_TYPE`). Every value is checked against
the field's type; a bad value raises `SettingsError` naming the key and where it came from.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

DEFAULT_TOML = Path(__file__).with_name("default.toml")
ENV_PREFIX = "VIGNETT_"


class SettingsError(ValueError):
    """A setting is missing, unknown or has a value of the wrong type."""


@dataclass(frozen=True)
class ElasticsearchSettings:
    """Where the index lives. An empty `url` means: use the local node `vignett es start` runs."""

    url: str
    username: str
    password: str
    api_key: str
    verify_certs: bool
    ca_certs: str
    request_timeout_s: float
    # Local node only (ignored when `url` is set).
    version: str
    fallback_versions: tuple[str, ...]
    home_dir: str
    host: str
    port: int
    heap: str
    run_as_user: str
    java_home: str
    start_timeout_s: float


@dataclass(frozen=True)
class IndexSettings:
    """Shape of the one search index (see indexing/mapping.py)."""

    alias: str
    vector_index_type: str
    hnsw_m: int
    hnsw_ef_construction: int
    context_analyzer: str
    fallback_analyzer: str
    shards: int
    replicas: int


@dataclass(frozen=True)
class ModelSettings:
    """Which embedders run and where their weights come from."""

    enabled: tuple[str, ...]
    default: str
    weights: str
    weights_dir: str
    device: str
    batch_size: int
    random_seed: int
    precision: str
    cpu_threads: int
    download_timeout_s: float


@dataclass(frozen=True)
class IIIFSettings:
    """The library's IIIF Image API server."""

    base_url: str
    api_version: str
    thumbnail_size: int
    concurrency: int
    timeout_s: float
    retries: int
    requests_per_second: float
    max_image_pixels: int
    max_response_bytes: int
    backoff_base_s: float
    max_backoff_s: float


@dataclass(frozen=True)
class AltoSettings:
    """How ALTO files are read."""

    page_id_source: str
    page_id_template: str
    illustration_block_types: tuple[str, ...]
    max_aspect_ratio: float
    default_dpi: float
    caption_chars: int
    context_chars: int
    page_text_chars: int


@dataclass(frozen=True)
class ApiSettings:
    """The GraphQL server."""

    host: str
    port: int
    api_keys: tuple[str, ...]
    allowed_image_hosts: tuple[str, ...]
    max_first: int
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_upload_bytes: int
    max_upload_pixels: int
    request_timeout_s: float
    viewer_url_template: str
    default_k: int
    max_k: int
    max_num_candidates: int


@dataclass(frozen=True)
class ClassifierSettings:
    """The picture classifier: its classes, how it is selected and evaluated, where it is kept."""

    classes: tuple[str, ...]
    class_aliases: tuple[str, ...]
    embeddings: tuple[str, ...]
    c_min: float
    c_max: float
    c_count: int
    outer_folds: int
    inner_folds: int
    scoring: str
    standardize: bool
    max_iter: int
    tol: float
    random_seed: int
    n_jobs: int
    model_dir: str
    apply_batch_size: int


@dataclass(frozen=True)
class ScheduleSettings:
    """`vignett schedule`: folders re-scanned for new or changed files, and how often."""

    watch: tuple[str, ...]
    interval_s: float
    models: tuple[str, ...]
    weights: str
    iiif_base: str
    reapply_classifier: bool


@dataclass(frozen=True)
class PathSettings:
    """Where vignett keeps caches, checkpoints and trained models."""

    cache_dir: str

    def resolved_cache_dir(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        xdg = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg) if xdg else Path.home() / ".cache") / "vignett"


@dataclass(frozen=True)
class Settings:
    """All of vignett's configuration, passed down as one immutable value."""

    es: ElasticsearchSettings
    index: IndexSettings
    models: ModelSettings
    iiif: IIIFSettings
    alto: AltoSettings
    api: ApiSettings
    paths: PathSettings
    classifier: ClassifierSettings
    schedule: ScheduleSettings


def load_settings(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Build `Settings` from the defaults, an optional TOML file and the environment."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = [(str(DEFAULT_TOML), _read_toml(DEFAULT_TOML))]
    user_path = path or env.get(f"{ENV_PREFIX}CONFIG")
    if user_path:
        layers.append((str(user_path), _read_toml(Path(user_path))))
    layers.append(("environment", _env_layer(env)))

    merged: dict[str, dict[str, tuple[Any, str]]] = {}
    for origin, data in layers:
        for section, values in data.items():
            section_type = _section_type(section, origin)
            if not isinstance(values, dict):
                raise SettingsError(f"[{section}] in {origin} must be a table, got {values!r}")
            known = {f.name for f in dataclasses.fields(section_type)}
            for key, value in values.items():
                if key not in known:
                    raise SettingsError(
                        f"unknown setting {section}.{key} in {origin}; known keys: "
                        + ", ".join(sorted(known))
                    )
                merged.setdefault(section, {})[key] = (value, origin)

    sections = {}
    for name, section_type in _SECTIONS.items():
        hints = typing.get_type_hints(section_type)
        values = merged.get(name, {})
        missing = [f.name for f in dataclasses.fields(section_type) if f.name not in values]
        if missing:
            raise SettingsError(
                f"settings {', '.join(f'{name}.{m}' for m in missing)} have no value; "
                f"{DEFAULT_TOML} must define every key"
            )
        kwargs = {
            key: _coerce(f"{name}.{key}", hints[key], value, origin)
            for key, (value, origin) in values.items()
        }
        for key, value in kwargs.items():
            allowed = CHOICES.get(f"{name}.{key}")
            if allowed is not None and value not in allowed:
                raise SettingsError(
                    f"setting {name}.{key} from {values[key][1]}: {value!r} is not one of "
                    + ", ".join(repr(a) for a in allowed)
                )
        sections[name] = section_type(**kwargs)
    return Settings(**sections)


# Settings whose value must be one of a fixed set (checked when loading).
CHOICES: dict[str, tuple[Any, ...]] = {
    "index.vector_index_type": ("hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw", "flat", "int8_flat"),
    "models.weights": ("pretrained", "random"),
    "schedule.weights": ("", "pretrained", "random"),
    "models.default": ("vit", "clip", "siglip", "phash"),
    "models.precision": ("fp32", "bf16"),
    "iiif.api_version": ("2", "3"),
    "alto.page_id_source": ("filename", "metadata"),
    "classifier.scoring": ("f1_micro", "f1_macro", "accuracy", "balanced_accuracy"),
}


_SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Settings)[f.name] for f in dataclasses.fields(Settings)
}


def _section_type(section: str, origin: str) -> type:
    try:
        return _SECTIONS[section]
    except KeyError:
        raise SettingsError(
            f"unknown settings section [{section}] in {origin}; known: {', '.join(_SECTIONS)}"
        ) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None


def _env_layer(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Map `VIGNETT_SECTION_KEY=value` onto {section: {key: value}}; unknown names are errors."""
    layer: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}CONFIG":
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in _SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            raise SettingsError(
                f"environment variable {name} names no settings section; expected "
                f"{ENV_PREFIX}<SECTION>_<KEY> with SECTION one of {', '.join(_SECTIONS)}"
            )
        layer.setdefault(section, {})[rest[len(section) + 1 :]] = value
    return layer


def _coerce(key: str, annotation: Any, value: Any, origin: str) -> Any:
    """Check or convert `value` (TOML-typed, or a string from the environment) to `annotation`."""
    from_env = origin == "environment"

    def fail(expected: str) -> SettingsError:
        return SettingsError(f"setting {key} from {origin}: expected {expected}, got {value!r}")

    if annotation is bool:
        if isinstance(value, bool):
            return value
        if from_env and str(value).lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return str(value).lower() in {"1", "true", "yes", "on"}
        raise fail("true or false")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_env:
            try:
                return int(value)
            except ValueError:
                raise fail("an integer") from None
        raise fail("an integer")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_env:
            try:
                return float(value)
            except ValueError:
                raise fail("a number") from None
        raise fail("a number")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise fail("a string")
    if typing.get_origin(annotation) is tuple:
        if from_env and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise fail("a list (comma-separated in the environment)")
        (item_type, _ellipsis) = typing.get_args(annotation)
        return tuple(_coerce(key, item_type, item, origin) for item in value)
    raise SettingsError(f"setting {key} has unsupported type {annotation}")  # pragma: no cover
