"""A real moto server (S3, Kinesis, ... over HTTP) on 127.0.0.1 and a free port, for tests.

    with MotoServer() as moto:
        s3 = moto.client("s3"); s3.create_bucket(Bucket="lake")
        env = moto.environment()   # dummy credentials + AWS_ENDPOINT_URL for child processes

Moto keeps its state in this process: use distinct bucket / stream names per test.
"""
from __future__ import annotations

import logging
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

#: Credentials moto accepts; never real ones.
DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class MotoServer:
    """``moto.server.ThreadedMotoServer`` bound to 127.0.0.1 on a port the OS picks."""

    def __init__(self) -> None:
        self._server: ThreadedMotoServer | None = None
        self.url = ""

    def start(self) -> "MotoServer":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """Variables pointing AWS SDKs (boto3, s3fs, Spark's connectors) at this server."""
        return {**DUMMY_AWS_ENVIRONMENT, "AWS_ENDPOINT_URL": self.url}

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` talking to this server with dummy credentials."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=DUMMY_AWS_ENVIRONMENT["AWS_DEFAULT_REGION"],
            aws_access_key_id=DUMMY_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        )
