"""A private, throw-away MariaDB server for tests and benchmarks.

It bootstraps a data folder with ``mariadb-install-db``, starts ``mariadbd`` on 127.0.0.1 and a free port
(a fresh one if another program took it before ``mariadbd`` could bind it), then, over the Unix socket as root,
creates one database and one password-protected user that clients reach over TCP — the same shape as the
original project's RDS credentials.
"""
from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pymysql
from sqlalchemy.engine import URL

from pinterest_pipeline.demo.processes import free_port

SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")
INSTALL_HINT = "apt-get install mariadb-server"
#: Fresh ports tried when another program takes a free port before mariadbd binds it.
PORT_ATTEMPTS = 3


class ServerExited(RuntimeError):
    """mariadbd stopped before it accepted connections."""


def find_binary(*names: str) -> str | None:
    """The first of ``names`` on PATH or in the usual system folders."""
    for name in names:
        found = shutil.which(name) or next(
            (str(Path(d) / name) for d in SEARCH_DIRS if (Path(d) / name).is_file()), None)
        if found:
            return found
    return None


def server_binary() -> str | None:
    """Path of ``mariadbd`` (or ``mysqld``), None when MariaDB is not installed."""
    return find_binary("mariadbd", "mysqld")


class MariaDBServer:
    """Context manager: ``with MariaDBServer() as server: engine = make_engine(server.url)``."""

    def __init__(self, database: str = "pinterest", user: str = "pinterest_app",
                 startup_timeout: float = 60.0) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.database = database
        self.user = user
        # Characters that must be quoted in a URL, so callers are tested with a realistic password.
        self.password = f"{secrets.token_hex(8)}@/:%#"
        self.startup_timeout = startup_timeout
        self._tmp: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL (PyMySQL over TCP) of the test database, password included."""
        return URL.create("mysql+pymysql", username=self.user, password=self.password, host=self.host,
                          port=self.port, database=self.database,
                          query={"charset": "utf8mb4"}).render_as_string(hide_password=False)

    @property
    def socket_path(self) -> Path:
        if self._tmp is None:
            raise RuntimeError("the server has not been started")
        return self._tmp / "mysqld.sock"

    def start(self) -> "MariaDBServer":
        """Bootstrap a data folder, start the server, create the database and its user."""
        server, install = server_binary(), find_binary("mariadb-install-db", "mysql_install_db")
        if server is None or install is None:
            raise FileNotFoundError(f"MariaDB server binary not found: {INSTALL_HINT}")
        self._tmp = Path(tempfile.mkdtemp(prefix="mariadb-test-"))
        data = self._tmp / "data"
        # No native AIO: several servers at once (parallel test runs) can exhaust the kernel's aio-max-nr.
        installed = subprocess.run([install, "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db",
                                    "--auth-root-authentication-method=normal", "--innodb-use-native-aio=0"],
                                   capture_output=True, text=True, timeout=300)
        if installed.returncode != 0:
            raise RuntimeError(f"{install} failed ({installed.returncode}):\n{installed.stdout}{installed.stderr}")
        attempt = 1
        while True:
            (self._tmp / "error.log").unlink(missing_ok=True)
            self.port = free_port()
            self._process = subprocess.Popen(
                [server, "--no-defaults", f"--datadir={data}", f"--socket={self.socket_path}",
                 f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve",
                 f"--pid-file={self._tmp / 'mysqld.pid'}", f"--log-error={self._tmp / 'error.log'}",
                 "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
                 "--innodb-buffer-pool-size=256M", "--skip-log-bin", "--innodb-use-native-aio=0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                root = self._wait_for_root()
            except ServerExited as exited:
                # The free port was taken before mariadbd bound it: again on a fresh one.
                if "already in use" in str(exited) and attempt < PORT_ATTEMPTS:
                    attempt += 1
                    continue
                raise
            self._create_database_and_user(root)
            return self

    def _wait_for_root(self) -> pymysql.connections.Connection:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise ServerExited(f"mariadbd exited with {self._process.returncode}: {self.error_log()}")
            try:
                return pymysql.connect(unix_socket=str(self.socket_path), user="root", password="")
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mariadbd not ready in {self.startup_timeout}s: {self.error_log()}")
                time.sleep(0.1)

    def _create_database_and_user(self, root: pymysql.connections.Connection) -> None:
        with root, root.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4")
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (self.user, self.password))
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{self.database}`.* TO %s@'%%'", (self.user,))

    def error_log(self) -> str:
        """The last lines of the server's error log (for failure messages)."""
        log = self._tmp / "error.log" if self._tmp else None
        return log.read_text(errors="replace")[-2000:] if log and log.exists() else "(no error log)"

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down cleanly (SIGTERM), kill on timeout, and delete the data folder."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "MariaDBServer":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
