"""Settings precedence (defaults → credentials file → environment → flags) and secret hygiene."""
from __future__ import annotations

from pathlib import Path

import pytest

from pinterest_pipeline.config import ConfigError, Settings, is_loopback, load_settings

CREDS = """RDS_HOST: db.example.com
RDS_PASSWORD: "p@ss:w/rd"
RDS_USER: analyst
RDS_DATABASE: pinterest_data
RDS_PORT: 3307
"""


def test_defaults_are_the_embedded_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.database_url == "sqlite:///data/pinterest.db"
    assert settings.prefix == "124a514b9149"
    assert (settings.lake_root, settings.warehouse) == ("data/lake", "data/warehouse")


@pytest.mark.parametrize("name", ["db_creds.yml", "db_creds.yaml"])
def test_credentials_file_selects_mysql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    (tmp_path / name).write_text(CREDS)
    monkeypatch.chdir(tmp_path)
    url = load_settings(environ={}).database_url
    assert url == "mysql+pymysql://analyst:p%40ss%3Aw%2Frd@db.example.com:3307/pinterest_data?charset=utf8mb4"


def test_precedence_environment_over_file_flags_over_environment(tmp_path: Path) -> None:
    creds = tmp_path / "creds.yml"
    creds.write_text(CREDS)
    env = {"PINTEREST_DB_URL": "sqlite:///env.db", "PINTEREST_PREFIX": "envprefix",
           "PINTEREST_LAKE_ROOT": "s3://bucket/lake"}
    settings = load_settings(creds_file=creds, environ=env, prefix="flagprefix", invoke_url=None)
    assert settings.database_url == "sqlite:///env.db"
    assert settings.prefix == "flagprefix"
    assert settings.lake_root == "s3://bucket/lake"
    assert settings.invoke_url == "http://127.0.0.1:8080"


def test_spark_master_comes_from_the_environment_and_the_flag_wins(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).spark_master is None  # local[*], or spark-submit's master
    environ = {"PINTEREST_SPARK_MASTER": "spark://10.0.0.5:7077"}
    assert load_settings(environ=environ).spark_master == "spark://10.0.0.5:7077"
    assert load_settings(environ=environ, spark_master="yarn").spark_master == "yarn"


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    creds = tmp_path / "db_creds.yml"
    creds.write_text(CREDS)
    settings = load_settings(creds_file=creds, environ={"PINTEREST_API_KEY": "key-123"})
    assert settings.api_key == "key-123"
    assert "p@ss" not in repr(settings) and "p%40ss" not in repr(settings)
    assert "key-123" not in repr(settings)


def test_incomplete_credentials_are_a_clear_error(tmp_path: Path) -> None:
    creds = tmp_path / "db_creds.yml"
    creds.write_text("RDS_HOST: h\nRDS_PASSWORD: secret\n")
    with pytest.raises(ValueError, match="RDS_USER") as error:
        load_settings(creds_file=creds, environ={})
    assert "secret" not in str(error.value)


def test_unknown_override_is_rejected() -> None:
    with pytest.raises(TypeError, match="no_such"):
        Settings().with_overrides(no_such=1)


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://127.0.0.1:8080", True), ("http://localhost:5000/x", True), ("http://127.8.0.1", True),
    ("http://[::1]:80", True), ("https://a1b2c3.execute-api.us-east-1.amazonaws.com/prod", False),
    ("http://10.0.0.5:8082", False), ("http://localhost.example.com", False), ("", False), (None, False),
])
def test_loopback_urls_are_told_from_remote_ones(url: str | None, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_environment_values_are_typed_and_named_in_errors() -> None:
    settings = load_settings(environ={"PINTEREST_FLUSH_ON_CLOSE": "yes", "PINTEREST_TOPICS": "a, b,,c",
                                      "PINTEREST_GATEWAY_PORT": " 9000 ", "KAFKA_BOOTSTRAP_SERVERS": "k:9092"})
    assert (settings.flush_on_close, settings.topics, settings.gateway_port) == (True, ("a", "b", "c"), 9000)
    assert settings.kafka_bootstrap_servers == "k:9092"
    with pytest.raises(ValueError, match="PINTEREST_FLUSH_ON_CLOSE must be true or false"):
        load_settings(environ={"PINTEREST_FLUSH_ON_CLOSE": "maybe"})
    with pytest.raises(ValueError, match="PINTEREST_DATABRICKS_TIMEOUT_SECONDS must be at least 1"):
        load_settings(environ={"PINTEREST_DATABRICKS_TIMEOUT_SECONDS": "0"})


def test_a_malformed_credentials_file_is_reported_by_place_never_by_content(tmp_path: Path) -> None:
    creds = tmp_path / "db_creds.yml"
    creds.write_text("RDS_HOST: h\n\tRDS_PASSWORD: s3cret\n")  # a tab: not valid YAML
    with pytest.raises(ConfigError, match="line 2, column 1") as error:
        load_settings(creds_file=creds, environ={})
    assert "s3cret" not in str(error.value) and str(creds) in str(error.value)
