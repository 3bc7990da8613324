"""One settings object for every stage, one precedence rule: defaults < db_creds.yml < environment < flags.

Every field ``name`` is read from the environment variable ``PINTEREST_<NAME>`` (``lake_root`` →
``PINTEREST_LAKE_ROOT``); an Airflow Variable given through the environment, ``AIRFLOW_VAR_PINTEREST_<NAME>``,
wins over it. A few fields also answer to the standard variable of their tool (:data:`ALIASES`), below the
``PINTEREST_`` one. Empty values count as unset. Secrets (database URL, API key) stay out of ``repr``.
"""
from __future__ import annotations

import argparse
import functools
import ipaddress
import os
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import yaml

from pinterest_pipeline.contract import DEFAULT_PREFIX, KINDS, topic_name

#: Keys of the original project's credentials file.
CREDENTIAL_KEYS = ("RDS_HOST", "RDS_PASSWORD", "RDS_USER", "RDS_DATABASE", "RDS_PORT")
#: The original README says db_creds.yml, its code reads db_creds.yaml: accept both.
CREDENTIAL_FILES = ("db_creds.yml", "db_creds.yaml")
ENVIRONMENT_PREFIX = "PINTEREST_"
AIRFLOW_VARIABLE_PREFIX = "AIRFLOW_VAR_"
#: Standard variables of other tools → field (read below ``PINTEREST_<NAME>``).
ALIASES = {
    "KINESIS_ENDPOINT_URL": "kinesis_endpoint",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka_bootstrap_servers",
    "AWS_REGION": "region",
}
#: API Gateway's payload limit is 10 MB; the REST proxy of the original sat behind it.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
#: How the DAG's task runs: a notebook run on Databricks (MWAA), or the batch job on local Spark.
MWAA_MODE, LOCAL_MODE = "mwaa", "local"
DAG_MODES = (MWAA_MODE, LOCAL_MODE)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """Where every stage finds its peers, and how each behaves."""

    # --- shared by every stage
    prefix: str = DEFAULT_PREFIX
    db_url: str | None = field(default=None, repr=False)
    sqlite_path: str = "data/pinterest.db"
    invoke_url: str = "http://127.0.0.1:8080"
    api_key: str | None = field(default=None, repr=False)
    lake_root: str = "data/lake"
    warehouse: str = "data/warehouse"
    report: str = "out/report.md"
    region: str = "us-east-1"
    kinesis_endpoint: str | None = None
    kafka_bootstrap_servers: str | None = None
    #: S3 endpoint of an ``s3://`` lake root; None = ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` / AWS.
    s3_endpoint_url: str | None = None
    #: Spark master URL of the batch and streaming jobs (``spark://host:7077``, ``yarn``, ``k8s://…``); None =
    #: ``local[*]``, or under ``spark-submit`` the master it was given; on Databricks always the cluster's session.
    spark_master: str | None = None
    # --- the gateway
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    #: Topics served; empty = the three of ``prefix``.
    topics: tuple[str, ...] = ()
    flush_size: int = 1
    rotate_interval_ms: int | None = None
    partitions: int = 1
    flush_on_close: bool = False
    #: Write-ahead log folder; None = the lake writer's default.
    state_dir: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: A client must send a request's head within this many seconds (of connecting, or of the last answer).
    header_timeout_seconds: int = 10
    #: ... and then its body with no pause longer than this (else 408).
    body_timeout_seconds: int = 30
    # --- the DAG
    dag_mode: str = MWAA_MODE
    databricks_conn_id: str = "databricks_default"
    databricks_cluster_id: str = "1108-162752-8okw8dgg"
    notebook_path: str = "/Workspace/Shared/pinterest-data-pipeline/databricks_s3_to_databricks"
    #: The lake as the cluster reads it: the original's bucket (instance profile or Unity Catalog external location).
    databricks_lake_root: str = f"s3://user-{DEFAULT_PREFIX}-bucket"
    #: Unity Catalog catalog and schema of the notebook's tables (empty: the workspace default / current schema).
    databricks_catalog: str = ""
    databricks_schema: str = ""
    polling_period_seconds: int = 30
    #: The Databricks run's own limit (Jobs API ``timeout_seconds``): a hung run cannot block later daily runs.
    databricks_timeout_seconds: int = 3 * 60 * 60
    #: Interpreter of the DAG's local task; None = the project's ``.venv`` if present, else the running one.
    python: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dag_mode", self.dag_mode.strip().lower())
        if self.dag_mode not in DAG_MODES:
            raise ValueError(f"{variable('dag_mode')} must be one of {', '.join(DAG_MODES)}, not {self.dag_mode!r}")
        for name in ("flush_size", "partitions", "max_body_bytes", "header_timeout_seconds", "body_timeout_seconds",
                     "polling_period_seconds", "databricks_timeout_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{variable(name)} must be at least 1, not {getattr(self, name)}")
        if self.rotate_interval_ms is not None and self.rotate_interval_ms < 1:
            raise ValueError(f"{variable('rotate_interval_ms')} must be at least 1")

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the source database: MySQL from credentials, else the embedded SQLite file."""
        return self.db_url or f"sqlite:///{self.sqlite_path}"

    @property
    def topic_names(self) -> tuple[str, ...]:
        """The topics the gateway serves."""
        return self.topics or tuple(topic_name(self.prefix, kind) for kind in KINDS)

    def with_overrides(self, **overrides: Any) -> "Settings":
        """A copy with the given non-None values applied (command-line flags)."""
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def is_loopback(url: str | None) -> bool:
    """True when ``url`` points at this machine (``localhost``, ``127.x.x.x``, ``::1``)."""
    host = urlsplit(url or "").hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def variable(name: str) -> str:
    """The environment variable of field ``name``: ``PINTEREST_<NAME>``."""
    return ENVIRONMENT_PREFIX + name.upper()


def _value_type(hint: Any) -> Any:
    """``int`` for ``int | None``, and so on."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


@functools.cache
def _field_types() -> dict[str, Any]:
    """Each field's value type, resolved once (annotations are strings under ``from __future__``)."""
    return {name: _value_type(hint) for name, hint in typing.get_type_hints(Settings).items()}


def parse_value(name: str, text: str, source: str) -> Any:
    """The text of an environment variable as the type of field ``name``; ``ValueError`` naming ``source``."""
    kind = _field_types()[name]
    text = text.strip()
    if kind is bool:
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(f"{source} must be true or false, not {text!r}")
        return text.lower() in _TRUE
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{source} must be a whole number, not {text!r}") from None
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text


def settings_from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Field values given by the environment (see the module docstring for the names and their order)."""
    found: dict[str, Any] = {}
    for alias, name in ALIASES.items():
        if environ.get(alias, "").strip():
            found[name] = parse_value(name, environ[alias], alias)
    for settings_field in fields(Settings):
        for source in (variable(settings_field.name), AIRFLOW_VARIABLE_PREFIX + variable(settings_field.name)):
            if environ.get(source, "").strip():
                found[settings_field.name] = parse_value(settings_field.name, environ[source], source)
    return found


class ConfigError(ValueError):
    """A settings source that cannot be used; the message names the place, never a secret's value."""


def secret_file(path: str) -> str:
    """The first line of a file holding a secret (an argparse type: keeps secrets out of the process list)."""
    try:
        return Path(path).read_text().strip().splitlines()[0]
    except (OSError, IndexError) as error:
        raise argparse.ArgumentTypeError(f"cannot read a secret from {path}: {type(error).__name__}") from None


def mysql_url_from_credentials(creds: Mapping[str, Any]) -> str:
    """Build a PyMySQL URL from the original ``RDS_*`` keys, quoting user and password."""
    from sqlalchemy.engine import URL

    missing = [k for k in CREDENTIAL_KEYS if k not in creds and k != "RDS_PORT"]
    if missing:
        raise ConfigError(f"credentials file lacks keys: {', '.join(missing)}")
    return URL.create(
        "mysql+pymysql",
        username=str(creds["RDS_USER"]),
        password=str(creds["RDS_PASSWORD"]),
        host=str(creds["RDS_HOST"]),
        port=int(creds.get("RDS_PORT") or 3306),
        database=str(creds["RDS_DATABASE"]),
        query={"charset": "utf8mb4"},
    ).render_as_string(hide_password=False)


def read_credentials(path: Path) -> dict[str, Any]:
    """The mapping in a ``db_creds.yml``; a YAML error is reported by line and column, never by content."""
    try:
        creds = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}") from None
    if not isinstance(creds, dict):
        raise ConfigError(f"{path} must hold a mapping of RDS_* keys")
    return creds


def find_credentials_file(directory: Path) -> Path | None:
    """The first of ``db_creds.yml`` / ``db_creds.yaml`` present in ``directory``."""
    for name in CREDENTIAL_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    creds_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from defaults, then the credentials file, then the environment, then ``overrides`` (flags)."""
    environ = os.environ if environ is None else environ
    from_file: dict[str, Any] = {}
    path = Path(creds_file) if creds_file else find_credentials_file(Path.cwd())
    if path is not None:
        from_file["db_url"] = mysql_url_from_credentials(read_credentials(path))
    layers = {**from_file, **settings_from_environment(environ)}
    return Settings().with_overrides(**layers).with_overrides(**overrides)
