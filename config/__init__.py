"""Typed settings for vignett (stdlib only)."""

from .settings import (
    CHOICES,
    AltoSettings,
    ApiSettings,
    ElasticsearchSettings,
    IIIFSettings,
    IndexSettings,
    ModelSettings,
    PathSettings,
    Settings,
    SettingsError,
    load_settings,
)

__all__ = [
    "CHOICES",
    "AltoSettings",
    "ApiSettings",
    "ElasticsearchSettings",
    "IIIFSettings",
    "IndexSettings",
    "ModelSettings",
    "PathSettings",
    "Settings",
    "SettingsError",
    "load_settings",
]
