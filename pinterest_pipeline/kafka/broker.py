"""A local single-node Apache Kafka 4.x broker (KRaft, broker and controller in one JVM) on 127.0.0.1.

The broker's jars come from Maven Central once (``mvn dependency:copy-dependencies`` over the package's
``kafka-pom.xml``) into ``~/.cache/pinterest-pipeline/kafka-<version>/libs``; the broker runs as
``java -cp 'libs/*' kafka.Kafka server.properties`` with its data, configuration, log and state file under
one state folder (default ``data/kafka``). ``python -m pinterest_pipeline.kafka broker`` (``scripts/kafka-local``)
drives it.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

#: The Maven project listing the broker's jars, shipped inside this package.
POM = "kafka-pom.xml"
DEFAULT_VERSION = "4.2.0"
DEFAULT_PORT = 9092
DEFAULT_STATE_DIR = "data/kafka"
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL_MAIN = "kafka.tools.StorageTool"
#: Exit status of ``status`` when no broker runs (as LSB init scripts do).
NOT_RUNNING = 3


class JarsUnavailable(RuntimeError):
    """The broker's jars are not cached and could not be fetched (no Maven, no network...)."""


class BrokerFailed(RuntimeError):
    """The broker did not start or did not become ready."""


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$KAFKA_LOCAL_CACHE``, else ``$XDG_CACHE_HOME/pinterest-pipeline``, else ``~/.cache/pinterest-pipeline``."""
    environ = os.environ if environ is None else environ
    if environ.get("KAFKA_LOCAL_CACHE"):
        return Path(environ["KAFKA_LOCAL_CACHE"])
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pinterest-pipeline"


def ensure_jars(version: str = DEFAULT_VERSION, cache: Path | None = None, timeout: float = 900.0) -> Path:
    """The folder of the broker's jars for ``version``, fetched from Maven Central on first use."""
    libs = (cache or cache_root()) / f"kafka-{version}" / "libs"
    if (libs / f"kafka_2.13-{version}.jar").is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarsUnavailable("Maven (mvn) is not installed: it fetches the Kafka jars from Maven Central")
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=libs.parent, prefix=".libs-"))
    try:
        with resources.as_file(resources.files(__package__) / POM) as pom:
            command = [mvn, "-q", "-B", "-f", str(pom), f"-Dkafka.version={version}", "dependency:copy-dependencies",
                       "-DincludeScope=runtime", f"-DoutputDirectory={staging}"]
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0 or not (staging / f"kafka_2.13-{version}.jar").is_file():
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise JarsUnavailable(f"mvn could not fetch Kafka {version}:\n" + "\n".join(tail))
        try:
            staging.rename(libs)  # atomic: a concurrent fetch that won the race keeps its folder
        except OSError:
            if not libs.is_dir():
                raise
    except subprocess.TimeoutExpired:
        raise JarsUnavailable(f"mvn did not fetch Kafka {version} within {timeout:.0f} s") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs


def java_binary() -> str:
    """``$JAVA_HOME/bin/java`` or the ``java`` on ``PATH``."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home, "bin", "java") if home else None
    found = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    if found is None:
        raise BrokerFailed("Java 17 or newer is required to run the Kafka broker (no java on PATH)")
    return found


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, never starting with ``-`` (the
    storage tool would read it as an option; Kafka's own ``Uuid.randomUuid`` draws again in that case too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(port: int, controller_port: int, data_dir: Path,
                      overrides: Mapping[str, str] | None = None) -> str:
    """Configuration of a one-node cluster: combined roles, plaintext on 127.0.0.1, no automatic topics; then
    ``overrides`` (other broker settings, e.g. ``group.initial.rebalance.delay.ms``)."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        **(overrides or {}),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


@dataclass
class BrokerState:
    """What ``start`` leaves in ``<state>/broker.json`` for ``stop`` / ``status`` / ``topics``."""

    port: int
    controller_port: int
    version: str
    pid: int | None = None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class LocalKafka:
    """One broker whose files live in ``state_dir``; ports and version are remembered across runs.

    ``settings``: broker settings over :func:`server_properties`' own (written at each start).
    """

    def __init__(self, state_dir: str | Path = DEFAULT_STATE_DIR, *, port: int | None = None,
                 controller_port: int | None = None, version: str | None = None, heap: str = "512m",
                 cache: Path | None = None, settings: Mapping[str, str] | None = None) -> None:
        self.state_dir = Path(state_dir).resolve()
        recorded = self._read_state()
        self.port = port or (recorded.port if recorded else DEFAULT_PORT)
        self.controller_port = controller_port or (recorded.controller_port if recorded else self.port + 1)
        self.version = version or (recorded.version if recorded else DEFAULT_VERSION)
        self.heap, self.cache, self.settings = heap, cache, dict(settings or {})
        self._process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"LocalKafka({str(self.state_dir)!r}, port={self.port}, version={self.version!r})"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "broker.log"

    @property
    def _state_path(self) -> Path:
        return self.state_dir / "broker.json"

    def _read_state(self) -> BrokerState | None:
        try:
            return BrokerState(**json.loads(self._state_path.read_text()))
        except FileNotFoundError:
            return None

    def _write_state(self, pid: int | None) -> None:
        state = BrokerState(self.port, self.controller_port, self.version, pid)
        self._state_path.write_text(json.dumps(asdict(state)) + "\n")

    def pid(self) -> int | None:
        """The pid of this state folder's running broker, or None."""
        if self._process is not None:
            return self._process.pid if self._process.poll() is None else None
        state = self._read_state()
        if state is None or state.pid is None:
            return None
        try:
            command_line = Path(f"/proc/{state.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        # A recycled pid is someone else's process: it must be our broker on our configuration.
        ours = BROKER_MAIN.encode() in command_line and str(self.config_path).encode() in command_line
        return state.pid if ours else None

    def cluster_id(self) -> str | None:
        """The KRaft cluster id the state folder was formatted with (None before the first start)."""
        try:
            found = re.search(r"^cluster\.id=(\S+)$", (self.data_dir / "meta.properties").read_text(), re.M)
        except FileNotFoundError:
            return None
        return found.group(1) if found else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 90.0) -> None:
        """Fetch the jars if needed, format the storage on first use, start the broker, wait until it serves."""
        if self.is_running():
            return
        libs = ensure_jars(self.version, self.cache)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(server_properties(self.port, self.controller_port, self.data_dir, self.settings))
        if not (self.data_dir / "meta.properties").is_file():
            self._format(libs)
        for port in (self.port, self.controller_port):
            if port_open(port):
                raise BrokerFailed(f"port {port} on 127.0.0.1 is already in use")
        # Serial GC and the client compiler: a quick start on a small, busy machine (a laptop, CI).
        command = [java_binary(), f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                   "-Dlog4j2.level=INFO",
                   "-cp", f"{libs}/*", BROKER_MAIN, str(self.config_path)]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.state_dir,
                                             start_new_session=True)
        try:
            self._write_state(self._process.pid)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _format(self, libs: Path) -> None:
        command = [java_binary(), "-Dlog4j2.level=WARN", "-cp", f"{libs}/*", STORAGE_TOOL_MAIN, "format",
                   "--cluster-id", new_cluster_id(), "--config", str(self.config_path), "--ignore-formatted"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise BrokerFailed(f"formatting {self.data_dir} failed:\n{done.stdout}{done.stderr}")

    def wait_ready(self, timeout: float) -> None:
        """Wait until the broker answers metadata requests with itself registered, as the cluster this state
        folder was formatted for (not another broker that took the port first)."""
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            self._check_alive()
            if time.monotonic() > deadline:
                raise BrokerFailed(f"broker not listening on {self.bootstrap_servers} after {timeout:.0f} s")
            time.sleep(0.1)
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 3})
        ours = self.cluster_id()
        while True:
            self._check_alive()
            try:
                metadata = admin.list_topics(timeout=1)
                if metadata.brokers and metadata.cluster_id == ours:
                    return
            except Exception:  # noqa: BLE001 - not ready yet: retried until the deadline
                pass
            if time.monotonic() > deadline:
                raise BrokerFailed(f"broker on {self.bootstrap_servers} not ready after {timeout:.0f} s")
            time.sleep(0.2)

    def _check_alive(self) -> None:
        if not self.is_running():
            tail = self.log_path.read_text(errors="replace").splitlines()[-20:] if self.log_path.exists() else []
            raise BrokerFailed(f"the broker exited; end of {self.log_path}:\n" + "\n".join(tail))

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout``); False when none was running."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> bool:
        """Kill the broker at once (SIGKILL), as a crash would."""
        return self._signal(signal.SIGKILL, 10.0)

    def _signal(self, sig: signal.Signals, timeout: float) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, sig)
        if not self._wait_exit(timeout):
            os.kill(pid, signal.SIGKILL)
            self._wait_exit(10.0)
        self._process = None
        self._write_state(None)
        return True

    def _wait_exit(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while self.pid() is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


def ensure_topics(bootstrap_servers: str, names: Sequence[str], partitions: int = 1,
                  timeout: float = 30.0) -> list[str]:
    """Create the topics of ``names`` that do not exist (replication 1); the names created."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    created: list[str] = []
    pending = list(names)
    deadline = time.monotonic() + timeout
    while pending:
        existing = set(admin.list_topics(timeout=timeout).topics)
        pending = [name for name in pending if name not in existing]
        if not pending:
            break
        futures = admin.create_topics([NewTopic(name, partitions, 1) for name in pending],
                                      operation_timeout=timeout, request_timeout=timeout)
        errors = []
        for name, future in futures.items():
            try:
                future.result()
                created.append(name)
            except Exception as error:  # noqa: BLE001 - KafkaException: checked below
                code = error.args[0].code() if error.args and hasattr(error.args[0], "code") else None
                if code != KafkaError.TOPIC_ALREADY_EXISTS:
                    errors.append(f"{name}: {error}")
        if errors and time.monotonic() > deadline:
            raise BrokerFailed("could not create topics: " + "; ".join(errors))
        if errors:
            time.sleep(0.5)
    return created


def topic_summaries(bootstrap_servers: str, timeout: float = 10.0) -> list[tuple[str, int, int]]:
    """``(topic, partitions, records)`` of every non-internal topic, records = end minus start offsets."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "kafka-local-topics",
                         "enable.auto.commit": False})
    try:
        summaries = []
        metadata = consumer.list_topics(timeout=timeout)
        for name in sorted(t for t in metadata.topics if not t.startswith("__")):
            partitions = metadata.topics[name].partitions
            records = 0
            for partition in partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=timeout)
                records += high - low
            summaries.append((name, len(partitions), records))
        return summaries
    finally:
        consumer.close()
