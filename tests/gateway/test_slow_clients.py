"""Slow and idle clients against the gateway process: their connections are closed, prompt clients still served."""
from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Iterator

import pytest
import requests

from pinterest_pipeline.demo.processes import GatewayProcess

LIMITS = {"PINTEREST_HEADER_TIMEOUT_SECONDS": "1", "PINTEREST_BODY_TIMEOUT_SECONDS": "1"}
#: Far beyond both limits: a connection still open by then was never going to be closed.
GIVE_UP_S = 20.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(tmp_path_factory.mktemp("lake"), env=LIMITS) as process:
        yield process


def connect(gateway: GatewayProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=GIVE_UP_S)


def closed_by_server(connection: socket.socket, trickle: bytes = b"") -> bool:
    """Send ``trickle`` one byte every 0.2 s (none: stay silent) until the server closes the connection."""
    deadline = time.monotonic() + GIVE_UP_S
    connection.settimeout(0.2)
    position = 0
    while time.monotonic() < deadline:
        try:
            if position < len(trickle):
                connection.send(trickle[position:position + 1])
                position += 1
            if connection.recv(1024) == b"":
                return True
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_a_silent_connection_is_closed(gateway: GatewayProcess) -> None:
    with connect(gateway) as connection:
        assert closed_by_server(connection)


def test_a_request_head_sent_byte_by_byte_is_cut_off(gateway: GatewayProcess) -> None:
    slowloris = b"POST /topics/124a514b9149.pin HTTP/1.1\r\nHost: x\r\n" + b"X-Padding: " + b"a" * 500
    with connect(gateway) as connection:
        assert closed_by_server(connection, slowloris)


@pytest.mark.parametrize("path,content_type,error_key", [
    ("/topics/124a514b9149.pin", "application/vnd.kafka.json.v2+json", "error_code"),
    ("/streams/s/record", "application/json", "message"),
])
def test_a_body_that_stalls_gets_408(gateway: GatewayProcess, path: str, content_type: str, error_key: str) -> None:
    method = "POST" if path.startswith("/topics") else "PUT"
    head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: 100\r\n\r\n").encode()
    with connect(gateway) as connection:
        connection.sendall(head + b'{"records": [')
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        body = json.loads(answer.read())
    assert answer.status == 408 and error_key in body


def test_prompt_clients_are_served_on_a_kept_alive_connection(gateway: GatewayProcess) -> None:
    with requests.Session() as session:
        for _ in range(3):
            answer = session.post(f"{gateway.url}/topics/124a514b9149.pin", json={"records": [{"value": {"ind": 1}}]},
                                  headers={"Content-Type": "application/vnd.kafka.json.v2+json"}, timeout=10)
            assert answer.status_code == 200
