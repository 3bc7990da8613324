"""The local harness's servers, each started one way for the demos, the benchmarks and the tests alike.

- :class:`GatewayProcess`: ``python -m pinterest_pipeline.gateway`` as a child on a socket this process holds,
  so that it can be stopped, killed and restarted on the same URL;
- :class:`MotoServer`: a moto server (Kinesis, S3 ... over HTTP) as a child on 127.0.0.1;
- :func:`free_port`, :func:`wait_until_healthy`, :func:`stop_process` for other children.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import requests

#: Credentials moto accepts; never real ones.
DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


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
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or listening (an inherited socket) but not serving yet
        time.sleep(0.05)
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


class GatewayProcess:
    """The gateway as a child process on an inherited socket: start, stop (SIGTERM), kill (SIGKILL), restart.

    This process binds the socket (127.0.0.1, a port the OS picks) and each child serves it (``--fd``), so a
    restart keeps the URL and no other process can take the port in between; while no child runs, connections
    wait in the socket's backlog. With ``refuse_while_down`` each child binds the port itself instead, so that
    while none runs connections are refused, as in an outage. The child's output goes to a log file
    (:attr:`log_path`): ``log_path`` if given (appended to, kept), else a temporary one (removed on close).
    ``PINTEREST_*`` and ``KAFKA_BOOTSTRAP_SERVERS`` of this environment are not passed on: give them in ``env``.
    """

    def __init__(self, lake_root: str | Path, flush_size: int = 1, extra_args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, startup_timeout: float = 30.0,
                 refuse_while_down: bool = False, launcher: Sequence[str] = (),
                 log_path: str | Path | None = None) -> None:
        self.lake_root, self.flush_size, self.launcher = str(lake_root), flush_size, list(launcher)
        self.extra_args, self.startup_timeout = list(extra_args), startup_timeout
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith("PINTEREST_") and k != "KAFKA_BOOTSTRAP_SERVERS"}
        self.env = {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen | None = None
        self._socket: socket.socket | None = None
        if refuse_while_down:
            self.port = free_port()
        else:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._socket.bind(("127.0.0.1", 0))
            self._socket.listen(128)
            self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._keep_log = log_path is not None
        if log_path is None:
            self._log = tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False)
            self.log_path = Path(self._log.name)
        else:
            self.log_path = Path(log_path)
            self._log = open(self.log_path, "ab")

    def command(self) -> list[str]:
        inherited = ["--fd", str(self._socket.fileno())] if self._socket else []
        return [*self.launcher, sys.executable, "-m", "pinterest_pipeline.gateway", "--host", "127.0.0.1", "--port",
                str(self.port), *inherited, "--lake-root", self.lake_root, "--flush-size", str(self.flush_size),
                *self.extra_args]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "GatewayProcess":
        """Start a child and wait until ``/health`` answers 200."""
        if self.running:
            raise RuntimeError("the gateway is already running")
        self.process = subprocess.Popen(self.command(), env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        pass_fds=(self._socket.fileno(),) if self._socket else ())
        try:
            wait_until_healthy(f"{self.url}/health", self.process, self.startup_timeout)
        except (RuntimeError, TimeoutError) as error:
            self.kill()
            raise RuntimeError(f"the gateway did not start ({error}):\n{self.log_text()[-3000:]}") from None
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """Graceful stop (SIGTERM, as uvicorn expects); its exit status (``-15`` after a clean signal exit)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise RuntimeError(f"the gateway ignored SIGTERM:\n{self.log_text()[-3000:]}") from None
        return self.process.returncode

    def kill(self) -> None:
        """Crash the child (SIGKILL): no shutdown code runs."""
        if self.running:
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def close(self) -> None:
        """Stop the child if it runs, release the socket and the log file (removed if temporary)."""
        try:
            if self.running:
                self.stop()
        finally:
            if self._socket:
                self._socket.close()
            self._log.close()
            if not self._keep_log:
                self.log_path.unlink(missing_ok=True)

    def log_text(self) -> str:
        """Everything the child(ren) printed so far."""
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> "GatewayProcess":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()


class MotoServer:
    """A moto server (``python -m moto.server``: Kinesis, S3 ... over HTTP) as a child on 127.0.0.1.

    Its own process, as a real endpoint is: nothing it does competes with the caller's threads. State lives in
    the server: use distinct bucket / stream names per test.
    """

    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> "MotoServer":
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        try:
            wait_until_healthy(f"{self.url}/moto-api/data.json", self.process, self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """Variables pointing AWS SDKs (boto3, s3fs, Spark's connectors) at this server."""
        return {**DUMMY_AWS_ENVIRONMENT, "AWS_ENDPOINT_URL": self.url}

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` talking to this server with dummy credentials."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=DUMMY_AWS_ENVIRONMENT["AWS_DEFAULT_REGION"],
            aws_access_key_id=DUMMY_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        )
