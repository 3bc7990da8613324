"""The emulators' command line: bad flags exit 2 with a message, secrets can stay off the command line, a hung
gateway costs the request timeout per try."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from pinterest_pipeline.emulator.cli import main
from tests.support import REPO_ROOT
from tests.support.scripted_http_server import ScriptedServer

OK = (200, {"offsets": [{"partition": 0, "offset": 0, "error_code": None, "error": None}],
            "key_schema_id": None, "value_schema_id": None})


@pytest.mark.parametrize("flags,complaint", [
    (["--count", "-5"], "--count: must be at least 1"),
    (["--rate", "-1"], "--rate: must be at least 0"),
    (["--rate", "nan"], "--rate: must be at least 0"),
    (["--max-attempts", "0"], "--max-attempts: must be at least 1"),
    (["--batch-size", "501"], "--batch-size: must be between 1 and 500"),
    (["--concurrency", "0"], "--concurrency: must be between 1 and 64"),
    (["--invoke-url", "not-a-url"], "--invoke-url: not an http(s) URL"),
    (["--invoke-url", "ftp://host/x"], "--invoke-url: not an http(s) URL"),
    (["--request-timeout", "0"], "--request-timeout: must be at least 0.1"),
    (["--api-key-file", "/nonexistent/key"], "cannot read a secret from /nonexistent/key"),
])
def test_bad_flags_exit_2_with_the_reason(flags: list[str], complaint: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main("kafka", flags)
    assert exit_.value.code == 2 and complaint in capsys.readouterr().err


def test_an_invoke_url_from_the_environment_is_checked_too(source_url: str) -> None:
    run = subprocess.run([sys.executable, "user_posting_emulation.py", "--db-url", source_url, "--count", "1"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "PINTEREST_INVOKE_URL": "localhost:8080"})
    assert run.returncode == 2 and "not an http(s) URL" in run.stderr and "Traceback" not in run.stderr


def test_secrets_can_come_from_files(tmp_path: Path, source_url: str) -> None:
    key_file, url_file = tmp_path / "key", tmp_path / "db-url"
    key_file.write_text("key-from-a-file\n")
    url_file.write_text(source_url + "\n")
    with ScriptedServer([OK]) as server:
        code = main("kafka", ["--invoke-url", server.url, "--count", "1", "--rate", "0", "--no-progress",
                              "--api-key-file", str(key_file), "--db-url-file", str(url_file)])
    assert code == 0
    assert {r["headers"]["x-api-key"] for r in server.requests} == {"key-from-a-file"}


@pytest.fixture
def hung_gateway() -> Iterator[str]:
    """A listening socket that never accepts: connections complete, requests are never answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_hung_gateway_costs_the_request_timeout_per_try(hung_gateway: str, source_url: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main("kinesis", ["--invoke-url", hung_gateway, "--db-url", source_url, "--count", "1", "--rate", "0",
                            "--no-progress", "--max-attempts", "2", "--request-timeout", "0.3"])
    assert code == 1
    assert "'timeout': 3" in capsys.readouterr().err  # the three tables' records, each given up after 2 tries


def test_the_streaming_emulator_sends_concurrently_and_keeps_each_rows_order(source_url: str) -> None:
    answer = (200, {"ShardId": "shardId-000000000000", "SequenceNumber": "1"})
    with ScriptedServer([answer]) as server:
        code = main("kinesis", ["--invoke-url", server.url, "--db-url", source_url, "--count", "40", "--rate", "0",
                                "--no-progress", "--concurrency", "4", "--max-index", "9"])
    assert code == 0 and len(server.requests) == 120
    kinds_by_row: dict[int, list[str]] = {}
    for request in server.requests:  # in arrival order
        row = request["body"]["Data"]
        kind = request["path"].split("/")[2].rsplit("-", 1)[1]
        kinds_by_row.setdefault(row["index"] if "index" in row else row["ind"], []).append(kind)
    for kinds in kinds_by_row.values():  # each repeat of a row: its pin, geo and user records, in that order
        assert kinds == ["pin", "geo", "user"] * (len(kinds) // 3)
