"""Starting the project's own servers as child processes (demo, benchmarks): free port, readiness, clean stop."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Sequence

import requests


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with status {process.returncode} before it was ready")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM, wait, then SIGKILL if it does not stop."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ServerProcess:
    """A server child process on 127.0.0.1 that can be started, stopped, killed and started again."""

    def __init__(self, command: Sequence[str], health_url: str, env: dict[str, str] | None = None) -> None:
        self.command, self.health_url = list(command), health_url
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start and wait until the health URL answers."""
        self.process = subprocess.Popen(self.command, env=self.env)
        wait_until_healthy(self.health_url, self.process)

    def stop(self) -> None:
        """Graceful stop (SIGTERM)."""
        if self.process is not None:
            stop_process(self.process)

    def kill(self) -> None:
        """Crash it (SIGKILL), as a power cut would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "ServerProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def gateway_process(args: Sequence[str] = (), port: int | None = None,
                    env: dict[str, str] | None = None) -> tuple[ServerProcess, str]:
    """A (not yet started) ``python -m pinterest_pipeline.gateway`` on 127.0.0.1 and its base URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "pinterest_pipeline.gateway", "--host", "127.0.0.1", "--port", str(port),
               *args]
    return ServerProcess(command, f"{url}/health", env), url


@contextmanager
def running_gateway(args: Sequence[str] = (), port: int | None = None,
                    env: dict[str, str] | None = None) -> Iterator[str]:
    """Run the gateway for the duration of a ``with`` block; yield its base URL."""
    server, url = gateway_process(args, port, env)
    with server:
        yield url
