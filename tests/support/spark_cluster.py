"""A Spark standalone cluster on this machine, started from pyspark's own launcher (``bin/spark-class``): one
master and N workers, every socket on 127.0.0.1, every process in its own process group, stopped with its
group. Used by the cluster tests (``tests/batch/test_cluster.py``) and ``bench/bench_cluster.py``."""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from pinterest_pipeline.demo.processes import free_port, wait_until_healthy

#: The interface every daemon, executor and driver binds.
LOOPBACK = "127.0.0.1"


def spark_home() -> Path:
    """pyspark's package folder: it holds ``bin/spark-class`` and the jars of a Spark distribution."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyspark is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def loopback_environment() -> dict[str, str]:
    """This environment with ``SPARK_LOCAL_IP`` set to 127.0.0.1 (what a driver of the cluster needs too)."""
    return {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": LOOPBACK}


def stop_group(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM the process group ``process`` leads (a worker's executors included), then SIGKILL what is left."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class StandaloneCluster:
    """``spark-class org.apache.spark.deploy.master.Master`` and ``workers`` × ``…worker.Worker`` (``cores`` and
    ``memory`` each) on 127.0.0.1 and free ports; logs and work folders in a temporary folder.

    :attr:`master_url` (``spark://127.0.0.1:<port>``) is what a driver connects to, :attr:`web_url` the master's
    web UI (``/json/``: workers and applications); :meth:`worker_states` each worker's own ``/json/``.
    """

    def __init__(self, workers: int = 2, cores: int = 1, memory: str = "1g", startup_timeout: float = 90.0) -> None:
        self.workers, self.cores, self.memory, self.startup_timeout = workers, cores, memory, startup_timeout
        self.port, self.web_port = free_port(), free_port()
        self.worker_web_ports = [free_port() for _ in range(workers)]
        self.master_url = f"spark://{LOOPBACK}:{self.port}"
        self.web_url = f"http://{LOOPBACK}:{self.web_port}"
        self.folder = Path(tempfile.mkdtemp(prefix="spark-cluster-"))
        self.processes: list[subprocess.Popen] = []

    def _launch(self, name: str, main_class: str, *args: str) -> subprocess.Popen:
        """``spark-class main_class args`` in a new process group, its output in ``<folder>/<name>.log``."""
        env = {**loopback_environment(), "SPARK_LOG_DIR": str(self.folder), "SPARK_WORKER_DIR": str(self.folder),
               "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false"}  # its REST server takes a fixed port
        with open(self.folder / f"{name}.log", "wb") as log:
            process = subprocess.Popen([str(spark_home() / "bin" / "spark-class"), main_class, *args], env=env,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=self.folder, start_new_session=True)
        self.processes.append(process)
        return process

    def start(self) -> "StandaloneCluster":
        """Start the master, wait for its web UI, start the workers, wait until the master counts them alive."""
        try:
            master = self._launch("master", "org.apache.spark.deploy.master.Master", "--host", LOOPBACK,
                                  "--port", str(self.port), "--webui-port", str(self.web_port))
            wait_until_healthy(f"{self.web_url}/json/", master, self.startup_timeout)
            for number, web_port in enumerate(self.worker_web_ports):
                work_dir = self.folder / f"worker-{number}"
                work_dir.mkdir()
                self._launch(f"worker-{number}", "org.apache.spark.deploy.worker.Worker", "--host", LOOPBACK,
                             "--port", str(free_port()), "--webui-port", str(web_port), "--cores", str(self.cores),
                             "--memory", self.memory, "--work-dir", str(work_dir), self.master_url)
            self._wait_for_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while self.state().get("aliveworkers", 0) < self.workers:
            dead = [p.args[1] for p in self.processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited before the cluster was up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {self.workers} workers alive after {self.startup_timeout:.0f} s")
            time.sleep(0.2)

    def state(self) -> dict[str, Any]:
        """The master's ``/json/``: ``aliveworkers``, ``workers``, ``activeapps``, ``completedapps`` ..."""
        return requests.get(f"{self.web_url}/json/", timeout=5).json()

    def worker_states(self) -> list[dict[str, Any]]:
        """Each worker's own ``/json/``: its ``executors`` and ``finishedexecutors`` (with their ``appid``)."""
        return [requests.get(f"http://{LOOPBACK}:{port}/json/", timeout=5).json() for port in self.worker_web_ports]

    def pids(self) -> list[int]:
        """The daemons' process ids (executors are their children)."""
        return [process.pid for process in self.processes]

    def log_tail(self, characters: int = 3000) -> str:
        """The end of each daemon's log."""
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-characters:]}"
                         for log in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        """Stop the workers (and their executors), then the master; remove the temporary folder."""
        for process in reversed(self.processes):
            stop_group(process)
        self.processes.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "StandaloneCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
