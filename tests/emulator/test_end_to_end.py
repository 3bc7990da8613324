"""The batch emulator against a live gateway subprocess: N rows in → N records out per topic, no loss."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pinterest_pipeline.contract import KINDS, decode_json, encode_json, topic_name
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.source.database import make_engine, seed
from tests.support import REPO_ROOT
from tests.support.children import Children
from tests.support.scripted_http_server import ScriptedServer
from tests.support.source_sample import drawn_indices

REPO = REPO_ROOT
PREFIX = "124a514b9149"


def lake_records(lake: Path, kind: str) -> tuple[int, list[dict]]:
    """Number of objects and every record of one topic."""
    objects = sorted((lake / "topics" / topic_name(PREFIX, kind)).glob("partition=*/*.json"))
    return len(objects), [json.loads(line) for path in objects for line in path.read_text().splitlines()]


def wait_for_objects(lake: Path, count: int, timeout: float = 60.0) -> None:
    """Block until the pin topic holds ``count`` objects: the emulator is mid-run."""
    folder = lake / "topics" / topic_name(PREFIX, "pin")
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("partition=*/*.json"))) < count:
        assert time.monotonic() < deadline, "emulator never started sending"
        time.sleep(0.05)


def emulate(url: str, source_url: str, *flags: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "user_posting_emulation.py"), "--invoke-url", url, "--no-progress",
               "--max-attempts", "12", *flags]
    if source_url:
        command += ["--db-url", source_url]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300)


def summary_of(output: str) -> dict[str, float]:
    line = next(line for line in output.splitlines() if line.startswith("summary:"))
    return {key: float(value) for key, value in re.findall(r"(\w+)=([\d.]+)", line)}


@pytest.mark.parametrize("count,batch_size,concurrency", [(150, 25, 1), (40, 1, 1), (150, 25, 4), (60, 1, 8)])
def test_every_row_arrives_once_per_topic(tmp_path: Path, source_url: str, count: int, batch_size: int,
                                          concurrency: int) -> None:
    with GatewayProcess(tmp_path / "lake", flush_size=1) as gateway:
        result = emulate(gateway.url, source_url, "--count", str(count), "--rate", "0", "--batch-size", str(batch_size),
                         "--seed", "7", "--concurrency", str(concurrency))
    assert result.returncode == 0, result.stderr
    summary = summary_of(result.stdout)
    assert summary["sent"] == 3 * count and summary["failed"] == 0 and summary["retried"] == 0
    expected = drawn_indices(count, seed=7)
    for kind in KINDS:
        objects, records = lake_records(tmp_path / "lake", kind)
        assert objects == count  # flush.size=1: one object per record, as the original sink
        key = "index" if kind == "pin" else "ind"
        assert Counter(record[key] for record in records) == expected


def test_records_carry_the_source_row(tmp_path: Path, source_url: str) -> None:

    from pinterest_pipeline.source.database import fetch_rows

    with GatewayProcess(tmp_path / "lake", flush_size=10) as gateway:
        assert emulate(gateway.url, source_url, "--count", "30", "--rate", "0", "--batch-size", "10").returncode == 0
    engine = make_engine(source_url)
    _, geo = lake_records(tmp_path / "lake", "geo")
    expected = [decode_json(encode_json(row)) for row in fetch_rows(engine, "geolocation_data", [r["ind"] for r in geo])]
    assert geo == expected
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", geo[0]["timestamp"])


def wait_for_text(path: Path, text: str, timeout: float = 120.0) -> None:
    """Block until the file at ``path`` contains ``text``."""
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)


def test_gateway_killed_mid_run_loses_nothing(tmp_path: Path, source_url: str, children: Children) -> None:
    lake, log = tmp_path / "lake", tmp_path / "emulator.log"
    with GatewayProcess(lake, refuse_while_down=True, extra_args=["--log-level", "warning"]) as gateway:
        command = [sys.executable, str(REPO / "user_posting_emulation.py"), "--invoke-url", gateway.url,
                   "--no-progress", "--db-url", source_url, "--count", "300", "--rate", "50", "--batch-size", "5",
                   "--seed", "11", "--max-attempts", "12"]
        with log.open("w") as errors:
            emulator = children.start(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        wait_for_objects(lake, 30)
        assert emulator.poll() is None, "the emulator ended before the crash"  # 300 rows at 50 rows/s: ~6 s
        gateway.kill()  # SIGKILL: a crash, no shutdown code runs; connections are refused meanwhile
        wait_for_text(log, "connection-error, try 2 of 12")  # the emulator met the outage and backs off
        gateway.start()
        stdout, _ = emulator.communicate(timeout=120)
    assert emulator.returncode == 0, log.read_text()
    summary = summary_of(stdout)
    assert summary["retried"] > 0 and summary["failed"] == 0
    expected = drawn_indices(300, seed=11)
    for kind in KINDS:
        _, records = lake_records(tmp_path / "lake", kind)
        arrived = Counter(record["index" if kind == "pin" else "ind"] for record in records)
        assert not expected - arrived, f"{kind}: rows lost"  # at least once
        assert set(arrived) == set(expected), f"{kind}: rows that were never drawn"


def test_rejected_requests_are_reported_with_nonzero_exit(tmp_path: Path, source_url: str) -> None:
    with GatewayProcess(tmp_path / "lake", extra_args=["--api-key", "k-1"]) as gateway:
        result = emulate(gateway.url, source_url, "--count", "5", "--rate", "0")
    assert result.returncode == 1
    assert summary_of(result.stdout)["failed"] == 15
    assert "403" in result.stderr and "k-1" not in result.stdout + result.stderr


def test_records_a_200_answer_refuses_are_counted_failed_with_nonzero_exit(tmp_path: Path, source_url: str) -> None:
    # A REST proxy answers 200 with a per-record error_code for records it did not store (1: not retriable).
    refused = {"offsets": [{"partition": None, "offset": None, "error_code": 1, "error": "record too large"}],
               "key_schema_id": None, "value_schema_id": None}
    with ScriptedServer([(200, refused)]) as server:
        result = emulate(server.url, source_url, "--count", "2", "--rate", "0")
    assert result.returncode == 1
    assert (summary_of(result.stdout)["sent"], summary_of(result.stdout)["failed"]) == (0, 6)
    assert len(server.requests) == 6


@pytest.mark.mariadb
def test_emulator_reads_mariadb_through_db_creds(tmp_path: Path, mariadb_server) -> None:
    from pinterest_pipeline.source.database import create_tables, fetch_rows

    engine = make_engine(mariadb_server.url)
    create_tables(engine, drop=True)
    seed(engine, 120, seed=5)
    (tmp_path / "db_creds.yml").write_text(
        f"RDS_HOST: {mariadb_server.host}\nRDS_PASSWORD: {mariadb_server.password}\nRDS_USER: {mariadb_server.user}\n"
        f"RDS_DATABASE: {mariadb_server.database}\nRDS_PORT: {mariadb_server.port}\n")
    with GatewayProcess(tmp_path / "lake", flush_size=10) as gateway:
        result = emulate(gateway.url, "", "--count", "40", "--rate", "0", "--batch-size", "8", "--seed", "3",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mariadb_server.password not in result.stdout + result.stderr
    assert f"source: mysql+pymysql://{mariadb_server.user}:***@{mariadb_server.host}:{mariadb_server.port}/" in result.stdout
    _, users = lake_records(tmp_path / "lake", "user")
    assert len(users) == 40
    expected = [decode_json(encode_json(row)) for row in fetch_rows(engine, "user_data", [u["ind"] for u in users])]
    assert users == expected
    engine.dispose()


def test_sample_data_is_named_and_never_sent_to_a_remote_gateway_by_default(tmp_path: Path) -> None:
    remote = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"
    refused = emulate(remote, "", "--count", "3", cwd=tmp_path)
    assert refused.returncode == 2
    assert "refusing to send the built-in sample data" in refused.stderr and "--allow-sample-data" in refused.stderr
    assert not (tmp_path / "data").exists()  # nothing seeded, nothing read, nothing sent
    with GatewayProcess(tmp_path / "lake") as gateway:  # on this machine the sample data is the point
        local = emulate(gateway.url, "", "--count", "3", "--rate", "0", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    assert "source: sqlite:///data/pinterest.db (sample data)" in local.stdout
    allowed = emulate("http://gateway.invalid:9", "", "--count", "1", "--rate", "0", "--max-attempts", "1",
                      "--allow-sample-data", cwd=tmp_path)  # .invalid never resolves: it tries, and fails
    assert "source: sqlite:///data/pinterest.db (sample data)" in allowed.stdout
    assert "refusing" not in allowed.stderr and allowed.returncode == 1
