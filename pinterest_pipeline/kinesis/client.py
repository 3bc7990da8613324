"""Kinesis through boto3: one client factory (AWS, or a local endpoint such as moto server) and stream helpers."""
from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from pinterest_pipeline.config import is_loopback
from pinterest_pipeline.contract import KINDS, stream_name

#: Credentials handed to a local emulator when the environment has none (moto ignores them).
LOCAL_DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=16,
)


def kinesis_client(endpoint_url: str | None = None, region: str = "us-east-1") -> Any:
    """A boto3 Kinesis client.

    ``endpoint_url`` None means AWS itself with the standard credential chain; a local endpoint
    (e.g. ``http://127.0.0.1:5000`` for moto server) gets dummy credentials unless the environment
    sets ``AWS_ACCESS_KEY_ID``.
    """
    credentials: dict[str, str] = {}
    if is_loopback(endpoint_url) and not os.environ.get("AWS_ACCESS_KEY_ID"):
        credentials = LOCAL_DUMMY_CREDENTIALS
    return boto3.session.Session().client(
        "kinesis", region_name=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG, **credentials
    )


def ensure_stream(client: Any, name: str, shard_count: int = 1) -> None:
    """Create stream ``name`` unless it exists, then wait until it is ACTIVE."""
    try:
        client.create_stream(StreamName=name, ShardCount=shard_count)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def ensure_streams(client: Any, prefix: str, shard_count: int = 1) -> list[str]:
    """Make sure ``streaming-<prefix>-pin|geo|user`` exist and are ACTIVE; return their names."""
    names = [stream_name(prefix, kind) for kind in KINDS]
    for name in names:
        ensure_stream(client, name, shard_count)
    return names


def shard_ids(client: Any, name: str) -> list[str]:
    """Every shard of stream ``name`` (open and closed), in the order Kinesis lists them."""
    found: list[str] = []
    request: dict[str, Any] = {"StreamName": name}
    while True:
        answer = client.list_shards(**request)
        found += [shard["ShardId"] for shard in answer["Shards"]]
        token = answer.get("NextToken")
        if not token:
            return found
        request = {"NextToken": token}
