"""The lake writer: sink layout and content, durable acknowledgements, recovery, rotation, S3 through moto."""
from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pinterest_pipeline.demo.processes import MotoServer
from pinterest_pipeline.lake import partition_log
from pinterest_pipeline.lake.layout import lake_line, object_key
from pinterest_pipeline.lake.store import storage_options_for
from pinterest_pipeline.lake.writer import LakeWriter, default_state_dir

TOPIC = "124a514b9149.pin"


def objects(lake: Path, topic: str = TOPIC, partition: int = 0) -> dict[str, list[dict]]:
    """File name → records of every object of one topic-partition."""
    folder = lake / "topics" / topic / f"partition={partition}"
    return {p.name: [json.loads(line) for line in p.read_text().splitlines()] for p in sorted(folder.glob("*.json"))}


def wal_files(state: Path, topic: str = TOPIC, partition: int = 0) -> list[Path]:
    return sorted((state / topic / f"partition={partition}").glob("*.wal"))


def rows(start: int, count: int) -> list[dict]:
    return [{"ind": i, "title": f"pin {i}", "follower_count": "5k"} for i in range(start, start + count)]


def test_flush_size_one_writes_one_object_per_record_in_the_sink_layout(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with LakeWriter(lake, topics=[TOPIC]) as writer:
        assert writer.append(TOPIC, rows(0, 2)) == [(0, 0), (0, 1)]
        assert writer.append(TOPIC, [{"title": "é ünïcode", "n": None}]) == [(0, 2)]
    key = object_key(TOPIC, 0, 2)
    assert key == f"topics/{TOPIC}/partition=0/{TOPIC}+0+0000000002.json"
    assert (lake / key).read_bytes() == '{"title":"é ünïcode","n":null}\n'.encode()
    assert objects(lake) == {
        f"{TOPIC}+0+0000000000.json": rows(0, 1),
        f"{TOPIC}+0+0000000001.json": rows(1, 1),
        f"{TOPIC}+0+0000000002.json": [{"title": "é ünïcode", "n": None}],
    }
    assert not wal_files(lake / "_gateway_state")


def test_flush_size_three_keeps_the_partial_object_in_the_log_until_it_fills(tmp_path: Path) -> None:
    lake, state = tmp_path / "lake", tmp_path / "lake" / "_gateway_state"
    with LakeWriter(lake, flush_size=3) as writer:
        offsets = [writer.append(TOPIC, rows(0, 2)), writer.append(TOPIC, rows(2, 5))]
        assert offsets == [[(0, 0), (0, 1)], [(0, 2), (0, 3), (0, 4), (0, 5), (0, 6)]]
        assert writer.pending(TOPIC) == 1
        assert len(wal_files(state)) == 1
    assert objects(lake) == {f"{TOPIC}+0+0000000000.json": rows(0, 3), f"{TOPIC}+0+0000000003.json": rows(3, 3)}
    # The next run continues the offsets and completes the object the first run left open.
    with LakeWriter(lake, flush_size=3) as writer:
        assert writer.append(TOPIC, rows(7, 2)) == [(0, 7), (0, 8)]
    assert objects(lake)[f"{TOPIC}+0+0000000006.json"] == rows(6, 3)
    assert not wal_files(state)


def test_flush_on_close_writes_partial_objects_and_offsets_continue_from_the_lake(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with LakeWriter(lake, flush_size=4, flush_on_close=True) as writer:
        writer.append(TOPIC, rows(0, 6))
    assert list(objects(lake)) == [f"{TOPIC}+0+0000000000.json", f"{TOPIC}+0+0000000004.json"]
    assert not wal_files(lake / "_gateway_state")
    with LakeWriter(lake, flush_size=4) as writer:  # no log left: the next offset comes from the last object
        assert writer.append(TOPIC, rows(6, 1)) == [(0, 6)]


CRASHING_WRITER = """
import json, os, signal, sys
from pinterest_pipeline.lake.writer import LakeWriter
lake, state, flush_size, topic, batches = sys.argv[1:]
writer = LakeWriter(lake, flush_size=int(flush_size), state_dir=state)
for batch in json.loads(batches):
    print(json.dumps(writer.append(topic, batch)), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def crash_after(lake: Path, state: Path, flush_size: int, *batches: list[dict]) -> list[list[list[int]]]:
    """Append ``batches`` in a child process that then dies by SIGKILL; the offsets it acknowledged."""
    child = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(lake), str(state), str(flush_size), TOPIC,
                            json.dumps(batches)], capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    return [json.loads(line) for line in child.stdout.splitlines()]


def test_after_a_crash_the_journal_resumes_without_repeating_written_objects(tmp_path: Path) -> None:
    lake, state = tmp_path / "lake", tmp_path / "state"
    acknowledged = crash_after(lake, state, 3, rows(0, 2), rows(2, 2), rows(4, 3))
    assert [offset for batch in acknowledged for _, offset in batch] == list(range(7))
    assert len(objects(lake)) == 2 and wal_files(state)  # offset 6 is only in the journal
    with LakeWriter(lake, flush_size=3, state_dir=state) as writer:
        assert writer.pending(TOPIC) == 1
        assert writer.append(TOPIC, rows(7, 2)) == [(0, 7), (0, 8)]
    assert objects(lake) == {f"{TOPIC}+0+{s:010d}.json": rows(s, 3) for s in (0, 3, 6)}
    assert not wal_files(state)


def test_journaled_records_past_the_last_object_are_written_on_restart(tmp_path: Path) -> None:
    lake, state = tmp_path / "lake", tmp_path / "state"
    crash_after(lake, state, 1, rows(0, 1))
    # As if one more record had been journaled and acknowledged, and the crash came before its object.
    with wal_files(state)[0].open("ab") as journal:
        journal.write(lake_line(rows(1, 1)[0]))
    with LakeWriter(lake, flush_size=1, state_dir=state) as writer:
        assert writer.pending(TOPIC) == 0
        assert writer.append(TOPIC, rows(2, 1)) == [(0, 2)]
    assert objects(lake) == {f"{TOPIC}+0+{i:010d}.json": rows(i, 1) for i in range(3)}


def test_a_torn_journal_line_never_acknowledged_is_dropped_on_recovery(tmp_path: Path) -> None:
    lake, state = tmp_path / "lake", tmp_path / "state"
    crash_after(lake, state, 3, rows(0, 2))
    with wal_files(state)[0].open("ab") as journal:
        journal.write(b'{"ind":99,"tit')  # a write cut short by the crash, before the fsync and the answer
    with LakeWriter(lake, flush_size=3, state_dir=state) as writer:
        assert writer.pending(TOPIC) == 2
        assert writer.append(TOPIC, rows(2, 1)) == [(0, 2)]
    assert objects(lake) == {f"{TOPIC}+0+0000000000.json": rows(0, 3)}


def test_a_full_journal_is_renewed_with_the_pending_records_only(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partition_log, "JOURNAL_LIMIT_BYTES", 1)
    lake, state = tmp_path / "lake", tmp_path / "state"
    with LakeWriter(lake, flush_size=2, state_dir=state) as writer:
        writer.append(TOPIC, rows(0, 3))
        assert [p.name for p in wal_files(state)] == ["0000000002.wal"]
        assert wal_files(state)[0].read_bytes() == lake_line(rows(2, 1)[0])
        writer.append(TOPIC, rows(3, 1))
        assert not wal_files(state)  # nothing pending: no journal until the next record
        writer.append(TOPIC, rows(4, 1))
    with LakeWriter(lake, flush_size=2, state_dir=state, flush_on_close=True) as writer:
        assert writer.pending(TOPIC) == 1
    assert objects(lake) == {f"{TOPIC}+0+{s:010d}.json": rows(s, min(2, 5 - s)) for s in (0, 2, 4)}


def test_an_object_that_cannot_be_written_waits_in_the_log_and_lands_later(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    blocker = lake / "topics" / TOPIC
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the topic folder should be")
    with LakeWriter(lake, flush_size=2) as writer:
        assert writer.append(TOPIC, rows(0, 3)) == [(0, 0), (0, 1), (0, 2)]  # acknowledged: in the log
        assert writer.pending(TOPIC) == 3
    blocker.unlink()
    with LakeWriter(lake, flush_size=2, flush_on_close=True) as writer:
        assert writer.pending(TOPIC) == 1  # the full object was written on recovery
    assert objects(lake) == {f"{TOPIC}+0+0000000000.json": rows(0, 2), f"{TOPIC}+0+0000000002.json": rows(2, 1)}


def test_a_log_that_cannot_be_written_stores_nothing_and_consumes_no_offset(tmp_path: Path) -> None:
    lake, state = tmp_path / "lake", tmp_path / "state"
    with LakeWriter(lake, flush_size=2, partitions=2, state_dir=state) as writer:
        blocker = state / TOPIC / "partition=1"
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_text("not a folder")
        with pytest.raises(OSError):
            writer.append(TOPIC, rows(0, 3), partitions=[0, 1, 0])  # partition 0 logged, then 1 fails
        assert writer.pending(TOPIC) == 0
        assert not wal_files(state) and not (lake / "topics").exists()
        blocker.unlink()
        assert writer.append(TOPIC, rows(0, 3), partitions=[0, 1, 0]) == [(0, 0), (1, 0), (0, 1)]
    assert objects(lake, partition=0) == {f"{TOPIC}+0+0000000000.json": [rows(0, 1)[0], rows(2, 1)[0]]}


@pytest.mark.parametrize("bad", [math.nan, {"when": object()}, "\ud800", {"x": [1, math.inf]}])
def test_a_value_that_is_not_json_is_refused_and_nothing_is_stored(tmp_path: Path, bad: object) -> None:
    with LakeWriter(tmp_path / "lake", flush_size=1) as writer:
        with pytest.raises(ValueError):
            writer.append(TOPIC, [{"ind": 1}, bad])
        assert writer.append(TOPIC, [{"ind": 2}]) == [(0, 0)]
    assert objects(tmp_path / "lake") == {f"{TOPIC}+0+0000000000.json": [{"ind": 2}]}


def test_unknown_partitions_and_bad_topic_names_are_refused(tmp_path: Path) -> None:
    with LakeWriter(tmp_path / "lake", partitions=2) as writer:
        with pytest.raises(ValueError):
            writer.append(TOPIC, rows(0, 2), partitions=[0, 2])
        for topic in ["../escape", "a/b", "..", ""]:
            with pytest.raises(ValueError):
                writer.append(topic, rows(0, 1))
        assert writer.pending(TOPIC) == 0
    assert not (tmp_path / "lake" / "topics").exists()


def test_requests_go_round_robin_over_partitions_unless_they_name_one(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with LakeWriter(lake, partitions=2) as writer:
        assert writer.append(TOPIC, rows(0, 2)) == [(0, 0), (0, 1)]
        assert writer.append(TOPIC, rows(2, 1)) == [(1, 0)]
        assert writer.append(TOPIC, rows(3, 1)) == [(0, 2)]
        assert writer.append(TOPIC, rows(4, 2), partitions=[1, 1]) == [(1, 1), (1, 2)]
    assert len(objects(lake, partition=0)) == 3 and len(objects(lake, partition=1)) == 3
    assert objects(lake, partition=1)[f"{TOPIC}+1+0000000002.json"] == rows(5, 1)


class ManualClock:
    """A clock that moves only when the test says so: rotation happens at a state, not at a time."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_for_objects(lake: Path, timeout: float = 30.0) -> dict[str, list[dict]]:
    """Until the rotation timer (a thread checking a few times per interval) has written an object."""
    deadline = time.monotonic() + timeout
    while not objects(lake):
        assert time.monotonic() < deadline, "the rotation timer wrote nothing"
        time.sleep(0.02)
    return objects(lake)


def test_rotation_writes_a_partial_object_once_its_first_record_is_old_enough(tmp_path: Path) -> None:
    lake, clock = tmp_path / "lake", ManualClock()
    with LakeWriter(lake, flush_size=100, rotate_interval_s=2.0, clock=clock) as writer:
        writer.append(TOPIC, rows(0, 2))
        clock.advance(1.0)
        writer.append(TOPIC, rows(2, 1))  # younger: the object's age is its first record's
        clock.advance(0.75)
        writer.write_due_objects()  # the first record is 1.75 s old: not due yet
        assert objects(lake) == {} and writer.pending(TOPIC) == 3
        clock.advance(0.25)  # 2 s old: due, and the background timer writes it, no append needed
        assert wait_for_objects(lake) == {f"{TOPIC}+0+0000000000.json": rows(0, 3)}
        assert writer.append(TOPIC, rows(3, 1)) == [(0, 3)]
        assert writer.pending(TOPIC) == 1


def test_concurrent_appends_get_distinct_offsets_and_each_record_lands_once(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    acknowledged: list[tuple[int, int]] = []

    def client(number: int) -> None:
        for request in range(20):
            start = number * 1000 + request * 2
            acknowledged.extend(writer.append(TOPIC, rows(start, 2)))

    with LakeWriter(lake, flush_size=5) as writer:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(offset for _, offset in acknowledged) == list(range(240))
    stored = objects(lake)
    assert all(len(records) == 5 for records in stored.values()) and len(stored) == 48
    inds = sorted(r["ind"] for records in stored.values() for r in records)
    assert inds == sorted(n * 1000 + i for n in range(6) for i in range(40))


def test_one_writer_per_state_folder(tmp_path: Path) -> None:
    with LakeWriter(tmp_path / "lake"):
        with pytest.raises(RuntimeError, match="another lake writer"):
            LakeWriter(tmp_path / "lake")
    LakeWriter(tmp_path / "lake").close()  # released by close


def test_state_lives_outside_the_topics_folder() -> None:
    assert default_state_dir("data/lake") == Path("data/lake/_gateway_state")
    assert default_state_dir("s3://bucket") == Path("data/gateway_state/bucket")
    assert default_state_dir("s3://bucket/some/prefix/") == Path("data/gateway_state/bucket/some/prefix")


def test_records_are_compact_json_lines() -> None:
    assert lake_line({"a": [1, 2.5], "b": "x y"}) == b'{"a":[1,2.5],"b":"x y"}\n'
    assert lake_line("multi\nline") == b'"multi\\nline"\n'


def test_s3_endpoint_comes_from_the_option_then_the_environment() -> None:
    env = {"AWS_ENDPOINT_URL": "http://generic", "AWS_ENDPOINT_URL_S3": "http://s3-specific"}
    assert storage_options_for("s3://b/p", environ=env) == {"endpoint_url": "http://s3-specific"}
    assert storage_options_for("s3://b/p", environ={"AWS_ENDPOINT_URL": "http://generic"}) == {
        "endpoint_url": "http://generic"}
    assert storage_options_for("s3://b/p", "http://explicit", environ=env) == {"endpoint_url": "http://explicit"}
    assert storage_options_for("data/lake", environ=env) == {}


@pytest.fixture
def aws_env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    for name, value in moto.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    return moto


def bucket_objects(moto: MotoServer, bucket: str) -> dict[str, bytes]:
    s3 = moto.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}


def test_an_s3_lake_gets_the_same_keys_and_content(aws_env: MotoServer, tmp_path: Path) -> None:
    aws_env.client("s3").create_bucket(Bucket="lake-writer-env")
    root = "s3://lake-writer-env/pinterest"
    with LakeWriter(root, flush_size=2, state_dir=tmp_path / "state") as writer:  # endpoint from AWS_ENDPOINT_URL
        assert writer.append(TOPIC, rows(0, 3)) == [(0, 0), (0, 1), (0, 2)]
    assert bucket_objects(aws_env, "lake-writer-env") == {
        f"pinterest/{object_key(TOPIC, 0, 0)}": b"".join(lake_line(r) for r in rows(0, 2)),
    }
    with LakeWriter(root, flush_size=2, state_dir=tmp_path / "state", flush_on_close=True) as writer:
        assert writer.append(TOPIC, rows(3, 2)) == [(0, 3), (0, 4)]
    stored = bucket_objects(aws_env, "lake-writer-env")
    assert sorted(stored) == [f"pinterest/{object_key(TOPIC, 0, s)}" for s in (0, 2, 4)]
    assert stored[f"pinterest/{object_key(TOPIC, 0, 4)}"] == lake_line(rows(4, 1)[0])
    shutil.rmtree(tmp_path / "state")  # offsets continue from the bucket alone
    with LakeWriter(root, flush_size=2, state_dir=tmp_path / "state") as writer:
        assert writer.append(TOPIC, rows(5, 1)) == [(0, 5)]


def test_an_s3_endpoint_can_be_given_explicitly(aws_env: MotoServer, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    aws_env.client("s3").create_bucket(Bucket="lake-writer-explicit")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    with LakeWriter("s3://lake-writer-explicit", endpoint_url=aws_env.url, state_dir=tmp_path / "s") as writer:
        writer.append(TOPIC, rows(0, 1))
    assert list(bucket_objects(aws_env, "lake-writer-explicit")) == [object_key(TOPIC, 0, 0)]
