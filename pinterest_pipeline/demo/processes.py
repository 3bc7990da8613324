"""The local harness's servers, each started one way for the demos, the benchmarks and the tests alike.

- :class:`GatewayProcess`: ``python -m pinterest_pipeline.gateway`` as a child on a socket this process holds,
  so that it can be stopped, killed and restarted on the same URL;
- :class:`MotoServer`: a moto server (Kinesis, S3 ... over HTTP) as a child on a port it picks itself;
- :func:`free_port`, :func:`reserved_port`, :func:`wait_until_healthy`, :func:`stop_process` for other children.
"""
from __future__ import annotations

import os
import re
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


def reserved_port() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port that never listens: connections to the port are refused, no other
    program can bind it, and :func:`listener_on` sockets of this user can share it (``SO_REUSEPORT``)."""
    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    reservation.bind(("127.0.0.1", 0))
    return reservation


def listener_on(port: int) -> socket.socket:
    """A listening socket on ``127.0.0.1:port``, a port held by :func:`reserved_port`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
    except BaseException:
        listener.close()
        raise
    return listener


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
    wait in the socket's backlog. With ``refuse_while_down`` this process only reserves the port
    (:func:`reserved_port`) and each child serves a listening socket of its own on it that dies with the child,
    so that while none runs connections are refused, as in an outage. ``launcher`` prefixes the child's command
    (e.g. ``setpriv …`` to run it with fewer privileges). The child's output goes to a log file
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
        self.refuse_while_down = refuse_while_down
        if refuse_while_down:
            self._socket = reserved_port()
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

    def command(self, fd: int) -> list[str]:
        """The child's command line, serving the inherited listening socket ``fd``."""
        return [*self.launcher, sys.executable, "-m", "pinterest_pipeline.gateway", "--host", "127.0.0.1", "--port",
                str(self.port), "--fd", str(fd), "--lake-root", self.lake_root, "--flush-size", str(self.flush_size),
                *self.extra_args]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "GatewayProcess":
        """Start a child and wait until ``/health`` answers 200."""
        if self.running:
            raise RuntimeError("the gateway is already running")
        serving = listener_on(self.port) if self.refuse_while_down else self._socket
        try:
            self.process = subprocess.Popen(self.command(serving.fileno()), env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=self._log, stderr=subprocess.STDOUT, pass_fds=(serving.fileno(),))
        finally:
            if serving is not self._socket:
                serving.close()  # the child's copy alone keeps it listening
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

    Its own process, as a real endpoint is: nothing it does competes with the caller's threads. It binds port 0
    and the port the OS gave it is read from its log, so no other program can take the port first. State lives
    in the server: use distinct bucket / stream names per test.
    """

    #: The line werkzeug logs once it listens.
    LISTENING = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")

    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.url = ""
        self._log: Path | None = None

    def start(self) -> "MotoServer":
        handle, name = tempfile.mkstemp(prefix="moto-", suffix=".log")
        self._log = Path(name)
        with os.fdopen(handle, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        try:
            self.url = f"http://127.0.0.1:{self._listening_port()}"
            wait_until_healthy(f"{self.url}/moto-api/data.json", self.process, self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _listening_port(self) -> int:
        """The port the child logs that it listens on; fails early if it exits first."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            found = self.LISTENING.search(self._log.read_text(errors="replace"))
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with status {self.process.returncode} before listening")
            time.sleep(0.05)
        raise TimeoutError(f"moto server not listening after {self.startup_timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

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
