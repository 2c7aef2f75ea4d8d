from pathlib import Path

import pytest

from vignett.config import SettingsError, load_settings
from tests.support import isolated_env


def test_defaults_load_from_the_packaged_toml():
    settings = load_settings(env=isolated_env())
    assert settings.index.alias == "vignett-images"
    assert settings.index.vector_index_type == "int8_hnsw"
    assert settings.models.enabled == ("vit", "clip", "siglip", "phash")
    assert settings.es.url == ""


def test_file_layer_overrides_defaults(tmp_path: Path):
    path = tmp_path / "vignett.toml"
    path.write_text('[index]\nvector_index_type = "bbq_hnsw"\n[api]\nport = 9001\n')
    settings = load_settings(path, env=isolated_env())
    assert settings.index.vector_index_type == "bbq_hnsw"
    assert settings.api.port == 9001


def test_environment_overrides_file_and_converts_types(tmp_path: Path):
    path = tmp_path / "vignett.toml"
    path.write_text("[api]\nport = 9001\n")
    env = isolated_env(api_port="9002", es_verify_certs="false", api_api_keys="a, b", es_url="http://x:9200")
    settings = load_settings(path, env=env)
    assert settings.api.port == 9002
    assert settings.es.verify_certs is False
    assert settings.api.api_keys == ("a", "b")
    assert settings.es.url == "http://x:9200"


def test_config_file_named_by_environment(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text("[iiif]\napi_version = \"3\"\n")
    assert load_settings(env=isolated_env(config=str(path))).iiif.api_version == "3"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"api_port": "eighty"}, "api.port"),
        ({"es_verify_certs": "maybe"}, "es.verify_certs"),
        ({"index_vector_index_type": "fast"}, "index.vector_index_type"),
        ({"index_no_such_key": "1"}, "index.no_such_key"),
        ({"nosection_key": "1"}, "VIGNETT_NOSECTION_KEY"),
    ],
)
def test_bad_environment_values_name_the_key(env, needle):
    with pytest.raises(SettingsError) as err:
        load_settings(env=isolated_env(**env))
    assert needle in str(err.value)


def test_bad_file_values_name_key_and_file(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('[api]\nport = "8000"\n')
    with pytest.raises(SettingsError) as err:
        load_settings(path, env=isolated_env())
    assert "api.port" in str(err.value) and str(path) in str(err.value)


def test_unknown_section_and_invalid_toml(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text("[nope]\nx = 1\n")
    with pytest.raises(SettingsError, match=r"\[nope\]"):
        load_settings(path, env=isolated_env())
    path.write_text("[api\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(path, env=isolated_env())
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env=isolated_env())


def test_settings_are_immutable():
    settings = load_settings(env=isolated_env())
    with pytest.raises(Exception):
        settings.api.port = 1  # type: ignore[misc]
