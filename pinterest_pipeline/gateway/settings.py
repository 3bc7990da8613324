"""The gateway's settings: the project settings (file, environment) plus the gateway's own flags."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pinterest_pipeline.config import Settings
from pinterest_pipeline.contract import DEFAULT_PREFIX, KINDS, topic_name

#: API Gateway's payload limit is 10 MB; the REST proxy in the original sat behind it.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class GatewaySettings:
    """Where the gateway listens, which topics it serves, how it writes the lake. The API key stays out of ``repr``."""

    host: str = "127.0.0.1"
    port: int = 8080
    lake_root: str = "data/lake"
    prefix: str = DEFAULT_PREFIX
    #: Topics served; empty = the three of ``prefix`` (``<prefix>.pin``, ``.geo``, ``.user``).
    topics: tuple[str, ...] = ()
    flush_size: int = 1
    rotate_interval_ms: int | None = None
    partitions: int = 1
    flush_on_close: bool = False
    #: Write-ahead log folder; None = the lake writer's default.
    state_dir: str | None = None
    #: S3 endpoint of an ``s3://`` lake root; None = ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` / AWS.
    s3_endpoint_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    api_key: str | None = field(default=None, repr=False)
    #: Kinesis endpoint for the streaming routes (kept for them; the Kafka REST routes ignore it).
    kinesis_endpoint: str | None = None
    kafka_bootstrap_servers: str | None = None
    region: str = "us-east-1"

    @property
    def topic_names(self) -> tuple[str, ...]:
        """The topics served."""
        return self.topics or tuple(topic_name(self.prefix, kind) for kind in KINDS)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "GatewaySettings":
        """Project settings, then the given non-None ``overrides`` (command-line flags)."""
        base = cls(
            lake_root=settings.lake_root,
            prefix=settings.prefix,
            api_key=settings.api_key,
            kinesis_endpoint=settings.kinesis_endpoint,
            kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
            region=settings.region,
        )
        return replace(base, **{name: value for name, value in overrides.items() if value is not None})
