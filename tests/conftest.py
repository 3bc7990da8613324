"""Shared pytest fixtures."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from pinterest_pipeline.demo.processes import MotoServer
from pinterest_pipeline.kinesis import kinesis_client
from pinterest_pipeline.spark.session import get_spark
from tests.support.children import Children
from tests.support.mariadb_server import INSTALL_HINT, MariaDBServer, server_binary
from tests.support.source_sample import seeded_sqlite

pytest_plugins = [
    "tests.support.kafka_broker",  # the session-wide real Kafka broker fixture
    "tests.support.run_rules",  # no skips under CI=true; --reverse
    "pytester",  # tests of those rules run pytest in pytest
]


@pytest.fixture
def children() -> Iterator[Children]:
    """Start child processes with ``children.start(command, **popen_options)``: killed at the end of the test."""
    started = Children()
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A private MariaDB server for the whole session (host, port, user, password, database, url); without the
    server binary the tests that need it skip (and so fail under CI, see ``tests.support.run_rules``)."""
    if server_binary() is None:
        pytest.skip(f"MariaDB server binary not found: {INSTALL_HINT}")
    with MariaDBServer() as server:
        yield server


@pytest.fixture(scope="module")
def source_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A seeded SQLite source database (``tests.support.source_sample.SOURCE_ROWS`` rows per table) for one module."""
    return seeded_sqlite(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """A moto server (real Kinesis and S3 APIs over HTTP) on a free 127.0.0.1 port, for one module."""
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def moto_endpoint(moto: MotoServer) -> str:
    """The URL of that moto server."""
    return moto.url


@pytest.fixture(scope="module")
def kinesis(moto_endpoint: str) -> Any:
    """A boto3 Kinesis client talking to that moto server."""
    return kinesis_client(moto_endpoint)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Delta-enabled SparkSession for the whole run (start-up costs ~15 s); warehouse in a temp folder."""
    session = get_spark("pinterest-pipeline-tests", warehouse_dir=str(tmp_path_factory.mktemp("spark-warehouse")))
    yield session
    session.stop()
