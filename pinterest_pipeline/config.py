"""One settings object: defaults → db_creds.yml / config file → environment → command-line flags."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from pinterest_pipeline.contract import DEFAULT_PREFIX

#: Keys of the original project's credentials file.
CREDENTIAL_KEYS = ("RDS_HOST", "RDS_PASSWORD", "RDS_USER", "RDS_DATABASE", "RDS_PORT")
#: The original README says db_creds.yml, its code reads db_creds.yaml: accept both.
CREDENTIAL_FILES = ("db_creds.yml", "db_creds.yaml")

#: Environment variable → settings field.
ENVIRONMENT_KEYS = {
    "PINTEREST_PREFIX": "prefix",
    "PINTEREST_DB_URL": "db_url",
    "PINTEREST_INVOKE_URL": "invoke_url",
    "PINTEREST_LAKE_ROOT": "lake_root",
    "PINTEREST_WAREHOUSE": "warehouse",
    "PINTEREST_API_KEY": "api_key",
    "KINESIS_ENDPOINT_URL": "kinesis_endpoint",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka_bootstrap_servers",
    "AWS_REGION": "region",
}


@dataclass(frozen=True)
class Settings:
    """Where every leg finds its peers. Secrets are kept out of ``repr``."""

    prefix: str = DEFAULT_PREFIX
    db_url: str | None = field(default=None, repr=False)
    sqlite_path: str = "data/pinterest.db"
    invoke_url: str = "http://127.0.0.1:8080"
    lake_root: str = "data/lake"
    warehouse: str = "data/warehouse"
    api_key: str | None = field(default=None, repr=False)
    kinesis_endpoint: str | None = None
    kafka_bootstrap_servers: str | None = None
    region: str = "us-east-1"

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the source database: MySQL from credentials, else the embedded SQLite file."""
        return self.db_url or f"sqlite:///{self.sqlite_path}"

    def with_overrides(self, **overrides: Any) -> "Settings":
        """A copy with the given non-None values applied (command-line flags)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def mysql_url_from_credentials(creds: Mapping[str, Any]) -> str:
    """Build a PyMySQL URL from the original ``RDS_*`` keys, quoting user and password."""
    from sqlalchemy.engine import URL

    missing = [k for k in CREDENTIAL_KEYS if k not in creds and k != "RDS_PORT"]
    if missing:
        raise ValueError(f"credentials file lacks keys: {', '.join(missing)}")
    return URL.create(
        "mysql+pymysql",
        username=str(creds["RDS_USER"]),
        password=str(creds["RDS_PASSWORD"]),
        host=str(creds["RDS_HOST"]),
        port=int(creds.get("RDS_PORT") or 3306),
        database=str(creds["RDS_DATABASE"]),
        query={"charset": "utf8mb4"},
    ).render_as_string(hide_password=False)


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
    """Settings from defaults, then the credentials file, then the environment, then ``overrides``."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    path = Path(creds_file) if creds_file else find_credentials_file(Path.cwd())
    if path is not None:
        creds = yaml.safe_load(path.read_text()) or {}
        if not isinstance(creds, dict):
            raise ValueError(f"{path} must hold a mapping of RDS_* keys")
        settings = replace(settings, db_url=mysql_url_from_credentials(creds))
    from_env = {name: environ[var] for var, name in ENVIRONMENT_KEYS.items() if environ.get(var)}
    return settings.with_overrides(**from_env).with_overrides(**overrides)
