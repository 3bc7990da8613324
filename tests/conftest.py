"""Shared pytest fixtures."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.mariadb_server import INSTALL_HINT, MariaDBServer, server_binary


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A private MariaDB server for the whole session (host, port, user, password, database, url)."""
    if server_binary() is None:
        pytest.skip(f"MariaDB server binary not found: {INSTALL_HINT}")
    with MariaDBServer() as server:
        yield server
