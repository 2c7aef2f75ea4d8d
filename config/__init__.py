"""Typed settings for vignett (stdlib only)."""

from .settings import (
    CHOICES,
    AltoSettings,
    ApiSettings,
    ClassifierSettings,
    ElasticsearchSettings,
    IIIFSettings,
    IndexSettings,
    ModelSettings,
    PathSettings,
    ScheduleSettings,
    Settings,
    SettingsError,
    load_settings,
)

__all__ = [
    "CHOICES",
    "AltoSettings",
    "ApiSettings",
    "ClassifierSettings",
    "ElasticsearchSettings",
    "IIIFSettings",
    "IndexSettings",
    "ModelSettings",
    "PathSettings",
    "ScheduleSettings",
    "Settings",
    "SettingsError",
    "load_settings",
]
