"""Group commit: concurrent appends share one fsync; a failed fsync fails all its waiters and takes their records
back; a gateway killed under many single-record clients keeps every acknowledged record exactly once."""
from __future__ import annotations

import errno
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from pinterest_pipeline.contract import encode_json
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.lake.layout import lake_line
from pinterest_pipeline.lake.partition_log import PartitionLog
from pinterest_pipeline.lake.wal import Journal
from pinterest_pipeline.lake.writer import LakeWriter

TOPIC = "124a514b9149.pin"
HEADERS = {"Content-Type": "application/vnd.kafka.json.v2+json"}


class HeldSync:
    """Wraps :meth:`Journal.append` (write + fsync): once :attr:`armed`, the next append waits until :attr:`gate`
    opens, then runs, or when :attr:`fail` is set writes the lines and raises EIO as a failed fsync does; the
    others are real."""

    def __init__(self, real: Any, fail: bool) -> None:
        self.real, self.fail = real, fail
        self.entered, self.gate = threading.Event(), threading.Event()
        self.armed, self.calls = False, 0

    def __call__(self, journal: Journal, lines: list[bytes]) -> None:
        self.calls += 1
        if self.armed:
            self.armed = False
            self.entered.set()
            assert self.gate.wait(60), "the gate never opened"
            if self.fail:
                with open(journal.path, "ab") as file:
                    file.write(b"".join(lines))
                raise OSError(errno.EIO, "Input/output error")
        self.real(journal, lines)


@pytest.fixture
def held_sync(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> HeldSync:
    held = HeldSync(Journal.append, fail=request.param)
    monkeypatch.setattr(Journal, "append", lambda journal, lines: held(journal, lines))
    return held


def objects(lake: Path) -> list[tuple[str, list[dict]]]:
    folder = lake / "topics" / TOPIC / "partition=0"
    return [(p.name, [json.loads(line) for line in p.read_text().splitlines()]) for p in sorted(folder.glob("*.json"))]


def start_appends(writer: LakeWriter, values: list[dict]) -> tuple[list[threading.Thread], dict[int, Any]]:
    """One thread per value, each appending it alone; their outcomes (offsets or the error) by value index."""
    outcomes: dict[int, Any] = {}

    def append(index: int) -> None:
        try:
            outcomes[index] = writer.append(TOPIC, [values[index]])
        except OSError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=append, args=(i,)) for i in range(len(values))]
    for thread in threads:
        thread.start()
    return threads, outcomes


def first_log(writer: LakeWriter) -> PartitionLog:
    return writer._topic(TOPIC).logs[0]


def wait_until_written(log: PartitionLog, next_offset: int, timeout: float = 30.0) -> None:
    """Until the appends queued behind the held round have taken their offsets."""
    deadline = time.monotonic() + timeout
    while True:
        with log.state_lock:
            if log.next_offset == next_offset:
                return
        assert time.monotonic() < deadline, f"{log.next_offset} offsets written, {next_offset} expected"
        time.sleep(0.005)


@pytest.mark.parametrize("held_sync", [False], indirect=True)
def test_appends_waiting_behind_one_fsync_share_the_next(tmp_path: Path, held_sync: HeldSync) -> None:
    rounds: list[int] = []
    with LakeWriter(tmp_path / "lake", topics=[TOPIC], on_journal_write=lambda _s, n: rounds.append(n)) as writer:
        log = first_log(writer)
        held_sync.armed = True
        threads, outcomes = start_appends(writer, [{"ind": 0}])
        assert held_sync.entered.wait(30)
        more, more_outcomes = start_appends(writer, [{"ind": i} for i in range(1, 16)])
        wait_until_written(log, 16)
        assert log.commit.durable_end == 0 and not objects(tmp_path / "lake")  # nothing durable: no object
        held_sync.gate.set()
        for thread in threads + more:
            thread.join(60)
    assert rounds == [1, 15]  # the first round wrote the first record, one more wrote the 15 queued meanwhile
    assert held_sync.calls == 2
    assert sorted(o for outcome in [*outcomes.values(), *more_outcomes.values()] for _, o in outcome) == list(range(16))
    assert sorted(records[0]["ind"] for _, records in objects(tmp_path / "lake")) == list(range(16))


@pytest.mark.parametrize("held_sync", [True], indirect=True)
def test_a_failed_group_fsync_fails_every_waiter_and_their_offsets_are_reused(tmp_path: Path,
                                                                              held_sync: HeldSync) -> None:
    lake, state = tmp_path / "lake", tmp_path / "state"
    with LakeWriter(lake, state_dir=state, topics=[TOPIC]) as writer:
        log = first_log(writer)
        assert writer.append(TOPIC, [{"ind": 0}]) == [(0, 0)]
        assert writer.append(TOPIC, [{"ind": 1}]) == [(0, 1)]
        held_sync.armed = True
        threads, outcomes = start_appends(writer, [{"ind": 100 + i} for i in range(6)])
        assert held_sync.entered.wait(30)
        wait_until_written(log, 8)
        held_sync.gate.set()
        for thread in threads:
            thread.join(60)
        assert len(outcomes) == 6
        assert all(isinstance(outcome, OSError) and "write failed" in str(outcome) for outcome in outcomes.values())
        assert "Input/output error" in str(log.journal_failure)
        journal = state / TOPIC / "partition=0" / "0000000000.wal"
        assert journal.read_bytes() == b"".join(lake_line({"ind": i}) for i in range(2))  # the tail cut off
        assert writer.problems() == {}  # the storage works again: healthy without a restart
        assert writer.append(TOPIC, [{"ind": 2}]) == [(0, 2)]  # the offsets taken back are given again
        assert writer.append(TOPIC, [{"ind": 3}]) == [(0, 3)]
        # A waiter of the failed generation waking only now: offset 2 is durable again, but not its record.
        with pytest.raises(OSError, match="write failed"):
            log.wait_durable(3, 0)
        log.wait_durable(2, 0)  # what was durable before the failure stays acknowledged
    assert objects(lake) == [(f"{TOPIC}+0+{i:010d}.json", [{"ind": i}]) for i in range(4)]


def test_a_gateway_killed_under_16_single_record_clients_keeps_each_acknowledged_record_once(tmp_path: Path) -> None:
    lake, acknowledged, enough = tmp_path / "lake", Counter[str](), threading.Event()
    lock = threading.Lock()

    def client(number: int, url: str) -> None:
        with requests.Session() as session:
            for request in range(100_000):
                record_id = f"{number}-{request}"
                try:
                    answer = session.post(f"{url}/topics/{TOPIC}", headers=HEADERS, timeout=30,
                                          data=encode_json({"records": [{"value": {"id": record_id}}]}))
                except requests.RequestException:
                    return
                if answer.status_code != 200:
                    return
                with lock:
                    acknowledged[record_id] += 1
                    if len(acknowledged) >= 800:
                        enough.set()

    with GatewayProcess(lake) as gateway:
        threads = [threading.Thread(target=client, args=(n, gateway.url), daemon=True) for n in range(16)]
        for thread in threads:
            thread.start()
        assert enough.wait(120), "the clients got too few answers"
        gateway.kill()
        with lock:
            acked = set(acknowledged)
        for thread in threads:
            thread.join(60)
        gateway.start()  # recovery writes the objects of journaled records
    folder = lake / "topics" / TOPIC / "partition=0"
    stored = Counter(json.loads(path.read_text())["id"] for path in folder.glob("*.json"))
    assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged records lost"
    assert max(stored.values()) == 1, "a record was stored twice"
    offsets = sorted(int(path.stem.rsplit("+", 1)[1]) for path in folder.glob("*.json"))
    assert offsets == list(range(len(offsets)))
