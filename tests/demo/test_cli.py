"""``python -m pinterest_pipeline.demo`` as a new user runs it (a fresh folder, embedded defaults, a small count):
its output is its own stage lines, one each, and the log file named at the end holds the other programs' output
(Spark, Ivy, the gateway); a failure shows the error and the log's path."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.demo.processes import free_port

#: Stages of ``make demo``, in order.
BATCH_STAGES = ["source", "gateway", "emulator", "lake", "spark", "batch", "insights", "report"]
#: Text other programs print and the demo's own lines never contain.
THIRD_PARTY = ("WARN", "INFO", "Ivy", ":: ", "log4j", "uvicorn", "Uvicorn", "SparkSession", "py4j", "%|")
STAGE_LINE = re.compile(r"^ ?\d+\. (\S+)\s")


def run_demo(workdir: Path, *args: str, env: dict[str, str] | None = None,
             timeout: float = 900) -> subprocess.CompletedProcess:
    """The demo in ``workdir`` (its data/ and out/ go there), with none of this environment's settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PINTEREST_") and k != "KAFKA_BOOTSTRAP_SERVERS"}
    return subprocess.run([sys.executable, "-m", "pinterest_pipeline.demo", *args], cwd=workdir, capture_output=True,
                          text=True, timeout=timeout, env={**clean, **(env or {})})


def log_named_in(text: str, workdir: Path) -> Path:
    """The log file a line of the demo names."""
    path = workdir / re.findall(r"(data/logs/\S+\.log)", text)[-1]
    assert path.is_file()
    return path


@pytest.mark.spark
def test_make_demo_tells_its_story_and_logs_the_rest(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--count", "200", "--batch-size", "50", "--flush-size", "50")
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    stages = [match[1] for match in map(STAGE_LINE.match, lines) if match]
    assert stages == BATCH_STAGES
    assert len(lines) == 2 + len(BATCH_STAGES) + len(INSIGHTS) + 1  # title, log, stages, insights, done
    for marker in THIRD_PARTY:
        assert marker not in done.stdout, marker
    assert re.search(r"3\. emulator  200 rows → 600 records .* 0 failed$", done.stdout, re.MULTILINE)
    assert re.search(r"4\. lake      600 records \(200 each\) in 12 objects", done.stdout)
    assert re.search(r"6\. batch     600 lines read, 0 quarantined, \d+ repeats removed → cleaned rows: ", done.stdout)
    assert lines[-1].startswith("done in ")
    log = log_named_in(lines[-1], tmp_path).read_text()
    assert "Ivy Default Cache" in log and "log4j" in log  # the JVM's output, sent to the log rather than lost
    assert all(line in log for line in lines[2:])  # the story too, between the other programs' lines
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "report.md").is_file()


def test_a_failing_demo_shows_the_error_and_the_log(tmp_path: Path) -> None:
    unreachable = f"mysql+pymysql://demo:secret@127.0.0.1:{free_port()}/pinterest"
    done = run_demo(tmp_path, "--skip-batch", env={"PINTEREST_DB_URL": unreachable}, timeout=120)
    assert done.returncode == 1
    assert "Traceback (most recent call last):" in done.stderr and "OperationalError" in done.stderr
    log = log_named_in(done.stderr, tmp_path)
    assert done.stderr.rstrip().endswith(str(log.relative_to(tmp_path)))
    assert "OperationalError" in log.read_text()
