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


@contextmanager
def running_gateway(args: Sequence[str] = (), port: int | None = None,
                    env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``python -m pinterest_pipeline.gateway`` on 127.0.0.1 for a ``with`` block; yield its base URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "pinterest_pipeline.gateway", "--host", "127.0.0.1", "--port", str(port),
               *args]
    process = subprocess.Popen(command, env={**os.environ, **(env or {})})
    try:
        wait_until_healthy(f"{url}/health", process)
        yield url
    finally:
        stop_process(process)
