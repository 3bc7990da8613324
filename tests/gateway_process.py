"""The gateway as a real child process, for tests that stop, restart or crash it.

    with GatewayProcess(tmp_path / "lake", flush_size=3) as gateway:
        requests.post(f"{gateway.url}/topics/124a514b9149.pin", ...)
        gateway.kill()     # SIGKILL, as a crash
        gateway.start()    # same URL: the listening socket belongs to this object, not to the child

The test process binds the socket (127.0.0.1, a port the OS picks) and each child serves it (``--fd``), so
restarts keep the URL and no other process can take the port in between. While no child runs, connections
wait in the socket's backlog. Variables ``PINTEREST_*`` and ``KAFKA_BOOTSTRAP_SERVERS`` of the test
environment are not passed on (pass them in ``env`` to set them).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping, Sequence

REPO = Path(__file__).resolve().parent.parent


class GatewayProcess:
    """``python -m pinterest_pipeline.gateway`` on an inherited socket; start, stop (SIGTERM), kill (SIGKILL)."""

    def __init__(
        self,
        lake_root: str | Path,
        flush_size: int = 1,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.lake_root, self.flush_size = str(lake_root), flush_size
        self.extra_args, self.startup_timeout = list(extra_args), startup_timeout
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith("PINTEREST_") and k != "KAFKA_BOOTSTRAP_SERVERS"}
        self.env = {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen | None = None
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)

    def command(self) -> list[str]:
        fd = self._socket.fileno()
        return [sys.executable, "-m", "pinterest_pipeline.gateway", "--host", "127.0.0.1", "--port",
                str(self.port), "--fd", str(fd), "--lake-root", self.lake_root, "--flush-size",
                str(self.flush_size), *self.extra_args]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "GatewayProcess":
        """Start a child and wait until ``/health`` answers 200."""
        if self.running:
            raise RuntimeError("the gateway is already running")
        self.process = subprocess.Popen(self.command(), env=self.env, cwd=REPO, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        pass_fds=(self._socket.fileno(),))
        self._wait_until_healthy()
        return self

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.kill()
        raise TimeoutError(f"the gateway was not healthy after {self.startup_timeout} s:\n{self.log_text()[-3000:]}")

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
        """Stop the child if it runs, release the socket and the log file."""
        try:
            if self.running:
                self.stop()
        finally:
            self._socket.close()
            self._log.close()
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
