"""The gateway's Kafka REST Proxy v2 contract, in process (TestClient) and as a real process (restart, crash, S3)."""
from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from starlette.exceptions import StarletteDeprecationWarning

from pinterest_pipeline.config import Settings
from pinterest_pipeline.demo.processes import GatewayProcess, MotoServer
from pinterest_pipeline.gateway.app import create_app
from pinterest_pipeline.gateway.cli import parse_args, settings_from_args
from pinterest_pipeline.gateway.lake_backend import LakeBackend
from pinterest_pipeline.lake.layout import object_key

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # it prefers httpx2 to httpx
    from starlette.testclient import TestClient

PREFIX = "124a514b9149"
PIN, GEO = f"{PREFIX}.pin", f"{PREFIX}.geo"
PRODUCE_HEADERS = {"Content-Type": "application/vnd.kafka.json.v2+json"}
V2 = "application/vnd.kafka.v2+json"


def body(*values: Any) -> bytes:
    return json.dumps({"records": [{"value": v} for v in values]}).encode()


def lake_objects(lake: Path, topic: str = PIN) -> dict[str, list[Any]]:
    """Object name → records, for every object of ``topic`` (all partitions)."""
    paths = sorted((lake / "topics" / topic).glob("partition=*/*.json"))
    return {p.name: [json.loads(line) for line in p.read_text().splitlines()] for p in paths}


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Any]:
    """Start the app over a lake writer in ``tmp_path/lake`` with the given settings; closed at the end."""
    clients: list[TestClient] = []

    def start(**overrides: Any) -> TestClient:
        settings = Settings(lake_root=str(tmp_path / "lake"), max_body_bytes=4096, **overrides)
        client = TestClient(create_app(settings, LakeBackend.from_settings(settings)))
        clients.append(client.__enter__())
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Any) -> TestClient:
    return make_client()


def test_produce_answers_byte_for_byte_as_the_rest_proxy(client: TestClient) -> None:
    answer = client.post(f"/topics/{PIN}", content=body({"index": 7, "title": "a"}), headers=PRODUCE_HEADERS)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == V2
    assert answer.content == (b'{"offsets":[{"partition":0,"offset":0,"error_code":null,"error":null}],'
                              b'"key_schema_id":null,"value_schema_id":null}')


def test_offsets_increase_and_each_record_becomes_an_object(client: TestClient, tmp_path: Path) -> None:
    offsets = []
    for values in [({"ind": 1},), ({"ind": 2}, {"ind": 3}), ({"ind": 4, "country": "Côte d'Ivoire"},)]:
        answer = client.post(f"/topics/{PIN}", content=body(*values), headers=PRODUCE_HEADERS)
        offsets += [entry["offset"] for entry in answer.json()["offsets"]]
    assert offsets == [0, 1, 2, 3]
    geo = client.post(f"/topics/{GEO}", content=body({"ind": 1}), headers=PRODUCE_HEADERS)
    assert geo.json()["offsets"][0]["offset"] == 0  # offsets are per topic-partition
    lake = tmp_path / "lake"
    values = [{"ind": 1}, {"ind": 2}, {"ind": 3}, {"ind": 4, "country": "Côte d'Ivoire"}]
    assert lake_objects(lake) == {f"{PIN}+0+{i:010d}.json": [v] for i, v in enumerate(values)}
    assert (lake / object_key(PIN, 0, 3)).read_bytes() == '{"ind":4,"country":"Côte d\'Ivoire"}\n'.encode()


def test_flush_size_three_fills_objects_and_the_last_one_waits(make_client: Any, tmp_path: Path) -> None:
    client = make_client(flush_size=3)
    for start in (0, 2, 4):
        client.post(f"/topics/{PIN}", content=body({"ind": start}, {"ind": start + 1}), headers=PRODUCE_HEADERS)
    client.post(f"/topics/{PIN}", content=body({"ind": 6}), headers=PRODUCE_HEADERS)
    assert lake_objects(tmp_path / "lake") == {
        f"{PIN}+0+0000000000.json": [{"ind": 0}, {"ind": 1}, {"ind": 2}],
        f"{PIN}+0+0000000003.json": [{"ind": 3}, {"ind": 4}, {"ind": 5}],
    }
    assert client.app.state.backend.writer.pending(PIN) == 1


def test_shutdown_closes_the_backend_and_flushes_partial_objects_when_asked(make_client: Any,
                                                                            tmp_path: Path) -> None:
    client = make_client(flush_size=10, flush_on_close=True)
    client.post(f"/topics/{PIN}", content=body({"ind": 1}, {"ind": 2}), headers=PRODUCE_HEADERS)
    assert lake_objects(tmp_path / "lake") == {}
    client.__exit__(None, None, None)  # the lifespan's shutdown
    assert lake_objects(tmp_path / "lake") == {f"{PIN}+0+0000000000.json": [{"ind": 1}, {"ind": 2}]}


def test_a_charset_parameter_and_any_json_value_are_accepted(client: TestClient) -> None:
    headers = {"Content-Type": "application/vnd.kafka.json.v2+json; charset=utf-8"}
    answer = client.post(f"/topics/{PIN}", content=body([1, 2], "text", 3.5, False), headers=headers)
    assert answer.status_code == 200 and len(answer.json()["offsets"]) == 4


def test_records_may_name_a_partition(make_client: Any, tmp_path: Path) -> None:
    client = make_client(partitions=2)
    request = {"records": [{"value": {"ind": 1}, "partition": 1}, {"value": {"ind": 2}, "key": "k"}]}
    answer = client.post(f"/topics/{PIN}", json=request, headers=PRODUCE_HEADERS)
    assert [(o["partition"], o["offset"]) for o in answer.json()["offsets"]] == [(1, 0), (0, 0)]
    assert lake_objects(tmp_path / "lake") == {f"{PIN}+0+0000000000.json": [{"ind": 2}],
                                               f"{PIN}+1+0000000000.json": [{"ind": 1}]}


VALID = body({"ind": 1})
ERRORS = {
    "unknown topic": (f"/topics/{PREFIX}.nope", PRODUCE_HEADERS, VALID, 404, 40401, "Topic not found."),
    "json content type": (f"/topics/{PIN}", {"Content-Type": "application/json"}, VALID, 415, 415,
                          "HTTP 415 Unsupported Media Type"),
    "binary embedded format": (f"/topics/{PIN}", {"Content-Type": "application/vnd.kafka.binary.v2+json"}, VALID,
                               415, 415, "HTTP 415 Unsupported Media Type"),
    "no content type": (f"/topics/{PIN}", {}, VALID, 415, 415, "HTTP 415 Unsupported Media Type"),
    "malformed json": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records": [{"value": {"ind": 1}}', 400, 400,
                       "Malformed JSON"),
    "empty body": (f"/topics/{PIN}", PRODUCE_HEADERS, b"", 400, 400, "Malformed JSON"),
    "not utf-8": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"value":"\xff"}]}', 400, 400, "Malformed JSON"),
    "NaN": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"value":{"x":NaN}}]}', 400, 400, "Malformed JSON"),
    "body not an object": (f"/topics/{PIN}", PRODUCE_HEADERS, b"[]", 400, 400, "must be a JSON object"),
    "records not an array": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":{"value":1}}', 400, 400,
                             '"records" must be a JSON array'),
    "record not an object": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"value":1},2]}', 400, 400,
                             "records[1] must be a JSON object"),
    "unknown record field": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"valu":1}]}', 400, 400,
                             'Unrecognized field "valu"'),
    "partition not an integer": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"value":1,"partition":"0"}]}',
                                 400, 400, "records[0].partition must be an integer"),
    "empty records": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[]}', 422, 422, "records must not be empty"),
    "missing records": (f"/topics/{PIN}", PRODUCE_HEADERS, b"{}", 422, 422, "records must not be empty"),
    "missing value": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"value":1},{"key":"k"}]}', 422, 422,
                      "records[1].value must not be null"),
    "negative partition": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"value":1,"partition":-1}]}', 422,
                           422, "records[0].partition must be greater than or equal to 0"),
    "unknown partition": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"value":1},{"value":2,"partition":1}]}',
                          404, 40402, "Partition not found."),
    "unpaired surrogate": (f"/topics/{PIN}", PRODUCE_HEADERS, b'{"records":[{"value":"\\ud800"}]}', 422, 422,
                           "not JSON-serialisable"),
    "oversized body": (f"/topics/{PIN}", PRODUCE_HEADERS, body(*[{"title": "x" * 100}] * 50), 413, 413,
                       "HTTP 413 Request Entity Too Large"),
    # The proxy's order: the content type, then the body, and only then the topic.
    "unknown topic, json content type": (f"/topics/{PREFIX}.nope", {"Content-Type": "application/json"}, VALID,
                                         415, 415, "HTTP 415 Unsupported Media Type"),
    "unknown topic, oversized body": (f"/topics/{PREFIX}.nope", PRODUCE_HEADERS, body(*[{"title": "x" * 100}] * 50),
                                      413, 413, "HTTP 413 Request Entity Too Large"),
    "unknown topic, malformed json": (f"/topics/{PREFIX}.nope", PRODUCE_HEADERS, b'{"records": [', 400, 400,
                                      "Malformed JSON"),
    "unknown topic, record not an object": (f"/topics/{PREFIX}.nope", PRODUCE_HEADERS, b'{"records":[2]}', 400,
                                            400, "records[0] must be a JSON object"),
    "unknown topic, empty records": (f"/topics/{PREFIX}.nope", PRODUCE_HEADERS, b'{"records":[]}', 422, 422,
                                     "records must not be empty"),
    "unknown topic, unknown partition": (f"/topics/{PREFIX}.nope", PRODUCE_HEADERS,
                                         b'{"records":[{"value":1,"partition":5}]}', 404, 40401, "Topic not found."),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_every_rejected_request_gets_the_proxy_error_and_stores_nothing(client: TestClient, tmp_path: Path,
                                                                       case: str) -> None:
    path, headers, content, status, error_code, message = ERRORS[case]
    answer = client.post(path, content=content, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == V2
    assert list(answer.json()) == ["error_code", "message"]
    assert answer.json()["error_code"] == error_code and message in answer.json()["message"]
    assert not (tmp_path / "lake" / "topics").exists()
    assert client.app.state.backend.writer.pending(PIN) == 0
    accepted = client.post(f"/topics/{PIN}", content=VALID, headers=PRODUCE_HEADERS)
    assert accepted.json()["offsets"][0]["offset"] == 0  # the rejected request used no offset


def test_a_streamed_body_over_the_limit_is_cut_off_with_413(client: TestClient, tmp_path: Path) -> None:
    chunks = (b'{"records":[' + b",".join([b'{"value":"' + b"x" * 1000 + b'"}'] * 8) + b"]}",)
    answer = client.post(f"/topics/{PIN}", content=iter(chunks), headers=PRODUCE_HEADERS)  # no Content-Length
    assert answer.status_code == 413 and answer.json()["error_code"] == 413
    assert not (tmp_path / "lake" / "topics").exists()


def test_a_failing_backend_answers_500_and_stores_nothing(client: TestClient, tmp_path: Path) -> None:
    blocker = tmp_path / "lake" / "_gateway_state" / PIN / "partition=0"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the write-ahead log folder should be")
    answer = client.post(f"/topics/{PIN}", content=body({"ind": 1}, {"ind": 2}), headers=PRODUCE_HEADERS)
    assert answer.status_code == 500
    assert answer.json() == {"error_code": 50002, "message": "Kafka error: NotADirectoryError"}
    health = client.get("/health")
    assert health.status_code == 503 and health.json()["problems"][f"{PIN}[0]"].startswith("journal: ")
    blocker.unlink()
    assert client.get("/health").json() == {"status": "ok"}
    retried = client.post(f"/topics/{PIN}", content=body({"ind": 1}, {"ind": 2}), headers=PRODUCE_HEADERS)
    assert [o["offset"] for o in retried.json()["offsets"]] == [0, 1]
    assert list(lake_objects(tmp_path / "lake").values()) == [[{"ind": 1}], [{"ind": 2}]]


class UnreachableBackend:
    """A backend whose broker cannot be reached: every call fails, as a Kafka client's would."""

    def topics(self) -> list[str]:
        raise ConnectionRefusedError("broker down")

    produce = partition_count = topics

    def problems(self) -> dict[str, str]:
        return {"kafka": "broker down"}

    def close(self) -> None:
        pass


class VanishingTopicBackend(UnreachableBackend):
    """A backend that lists the topic, then finds it gone when producing (deleted in between)."""

    def topics(self) -> list[str]:
        return [PIN]

    def partition_count(self, topic: str) -> int:
        return 1

    def produce(self, topic: str, values: list[Any], partitions: Any = None, keys: Any = None) -> list[tuple[int, int]]:
        raise LookupError(topic)  # what a backend raises for a topic the cluster does not have (UnknownTopic)


def test_a_topic_gone_between_listing_and_produce_answers_404_not_500(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(lake_root=str(tmp_path / "lake")), VanishingTopicBackend())) as client:
        answer = client.post(f"/topics/{PIN}", content=VALID, headers=PRODUCE_HEADERS)
    assert (answer.status_code, answer.json()) == (404, {"error_code": 40401, "message": "Topic not found."})


@pytest.mark.parametrize("method,path", [("GET", "/topics"), ("GET", f"/topics/{PIN}"), ("POST", f"/topics/{PIN}")])
def test_an_unreachable_backend_answers_a_proxy_500(tmp_path: Path, method: str, path: str) -> None:
    settings = Settings(lake_root=str(tmp_path / "lake"))
    with TestClient(create_app(settings, UnreachableBackend())) as client:
        answer = client.request(method, path, content=VALID, headers=PRODUCE_HEADERS)
        health = client.get("/health")
    assert answer.status_code == 500
    assert answer.json() == {"error_code": 50002, "message": "Kafka error: ConnectionRefusedError"}
    assert (health.status_code, health.json()) == (503, {"status": "unavailable", "problems": {"kafka": "broker down"}})


def test_the_api_key_is_required_everywhere_but_health_and_never_logged(make_client: Any, tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(api_key="s3cr3t-key")
    for headers in [PRODUCE_HEADERS, {**PRODUCE_HEADERS, "x-api-key": "wrong"}, {**PRODUCE_HEADERS, "x-api-key": ""}]:
        answer = client.post(f"/topics/{PIN}", content=VALID, headers=headers)
        assert (answer.status_code, answer.json()) == (403, {"message": "Forbidden"})
        assert answer.headers["content-type"] == "application/json"
    assert client.get("/topics").status_code == 403
    assert not (tmp_path / "lake" / "topics").exists()
    assert client.get("/health").json() == {"status": "ok"}
    accepted = client.post(f"/topics/{PIN}", content=VALID, headers={**PRODUCE_HEADERS, "x-api-key": "s3cr3t-key"})
    assert accepted.status_code == 200
    assert "s3cr3t-key" not in caplog.text and "s3cr3t-key" not in repr(client.app.state.settings)


def test_topics_can_be_listed_and_described(make_client: Any) -> None:
    client = make_client(partitions=2)
    listing = client.get("/topics")
    assert listing.headers["content-type"] == V2
    assert listing.json() == sorted([f"{PREFIX}.geo", f"{PREFIX}.pin", f"{PREFIX}.user"])
    described = client.get(f"/topics/{PIN}").json()
    assert described == {"name": PIN, "configs": {}, "partitions": [
        {"partition": p, "leader": 0, "replicas": [{"broker": 0, "leader": True, "in_sync": True}]} for p in (0, 1)]}
    assert client.get("/topics/other").json() == {"error_code": 40401, "message": "Topic not found."}


def test_partitions_can_be_listed_described_and_produced_to(make_client: Any, tmp_path: Path) -> None:
    client = make_client(partitions=2)
    assert client.get("/").json() == {}
    listed = client.get(f"/topics/{PIN}/partitions")
    assert listed.headers["content-type"] == V2 and [p["partition"] for p in listed.json()] == [0, 1]
    assert client.get(f"/topics/{PIN}/partitions/1").json()["partition"] == 1
    assert client.get(f"/topics/{PIN}/partitions/2").json() == {"error_code": 40402, "message": "Partition not found."}
    answer = client.post(f"/topics/{PIN}/partitions/1", content=body({"ind": 5}, {"ind": 6}), headers=PRODUCE_HEADERS)
    assert [(o["partition"], o["offset"]) for o in answer.json()["offsets"]] == [(1, 0), (1, 1)]
    assert lake_objects(tmp_path / "lake") == {f"{PIN}+1+0000000000.json": [{"ind": 5}],
                                               f"{PIN}+1+0000000001.json": [{"ind": 6}]}
    refused = [client.post(f"/topics/{PIN}/partitions/2", content=body({"ind": 7}), headers=PRODUCE_HEADERS),
               client.post(f"/topics/{PIN}/partitions/0", headers=PRODUCE_HEADERS,
                           json={"records": [{"value": {"ind": 8}, "partition": 0}]}),
               client.post(f"/topics/{PREFIX}.nope/partitions/0", content=body({"ind": 9}), headers=PRODUCE_HEADERS)]
    assert [(r.status_code, r.json()["error_code"]) for r in refused] == [(404, 40402), (400, 400), (404, 40401)]
    assert len(lake_objects(tmp_path / "lake")) == 2


def test_unknown_routes_and_methods_answer_like_the_proxy(client: TestClient) -> None:
    missing = client.get("/consumers/x")
    assert (missing.status_code, missing.json()) == (404, {"error_code": 404, "message": "HTTP 404 Not Found"})
    wrong = client.delete(f"/topics/{PIN}")
    assert (wrong.status_code, wrong.json()["error_code"]) == (405, 405)
    assert set(wrong.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_topics_flag_replaces_the_default_topics(make_client: Any) -> None:
    client = make_client(topics=("only.one",))
    assert client.get("/topics").json() == ["only.one"]
    assert client.post(f"/topics/{PIN}", content=VALID, headers=PRODUCE_HEADERS).status_code == 404


def test_settings_come_from_the_environment_then_the_flags(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no db_creds.yml here
    monkeypatch.setenv("PINTEREST_LAKE_ROOT", "/from/env")
    monkeypatch.setenv("PINTEREST_API_KEY", "env-key")
    monkeypatch.setenv("PINTEREST_PREFIX", "abc")
    settings = settings_from_args(parse_args(["--flush-size", "5", "--kinesis-endpoint", "http://k:1",
                                              "--rotate-interval-ms", "250", "--topics", "a, b"]))
    assert (settings.lake_root, settings.api_key, settings.prefix) == ("/from/env", "env-key", "abc")
    assert (settings.flush_size, settings.kinesis_endpoint, settings.topic_names) == (5, "http://k:1", ("a", "b"))
    assert "env-key" not in repr(settings)
    flagged = settings_from_args(parse_args(["--lake-root", str(tmp_path / "flag"), "--api-key", "flag-key"]))
    assert (flagged.lake_root, flagged.api_key) == (str(tmp_path / "flag"), "flag-key")
    assert flagged.topic_names == ("abc.pin", "abc.geo", "abc.user")
    backend = LakeBackend.from_settings(settings_from_args(parse_args(
        ["--lake-root", str(tmp_path / "lake"), "--rotate-interval-ms", "250"])))
    assert backend.writer.rotate_interval_s == 0.25
    backend.close()


def post(url: str, *values: Any, topic: str = PIN) -> list[int]:
    answer = requests.post(f"{url}/topics/{topic}", data=body(*values), headers=PRODUCE_HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text
    return [entry["offset"] for entry in answer.json()["offsets"]]


def test_a_restarted_gateway_keeps_offsets_monotonic(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with GatewayProcess(lake, flush_size=1) as gateway:
        assert post(gateway.url, {"ind": 0}, {"ind": 1}) == [0, 1]
        assert gateway.stop() in (0, -15)
        gateway.start()
        assert post(gateway.url, {"ind": 2}) == [2]
    assert [name for name in lake_objects(lake)] == [f"{PIN}+0+{i:010d}.json" for i in range(3)]


def test_records_acknowledged_before_a_crash_land_exactly_once(tmp_path: Path) -> None:
    """SIGKILL while clients are sending, with objects half full: every answered record survives, once."""
    lake = tmp_path / "lake"
    sent: set[str] = set()
    acknowledged: list[str] = []
    stop = threading.Event()

    def client(number: int) -> None:
        session, request = requests.Session(), 0
        while not stop.is_set():
            ids = [f"{number}-{request}-{k}" for k in range(1 + request % 3)]
            request += 1
            sent.update(ids)
            try:
                answer = session.post(f"{gateway.url}/topics/{PIN}", data=body(*({"id": i} for i in ids)),
                                      headers=PRODUCE_HEADERS, timeout=30)
            except requests.RequestException:
                return
            if answer.status_code != 200:
                return
            acknowledged.extend(ids)

    with GatewayProcess(lake, flush_size=3) as gateway:
        clients = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(4)]
        try:
            for thread in clients:
                thread.start()
            deadline = time.monotonic() + 30
            while len(acknowledged) < 80 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert post(gateway.url, {"id": "geo-1"}, {"id": "geo-2"}, topic=GEO) == [0, 1]  # a partial object
            assert not lake_objects(lake, GEO)
            gateway.kill()
        finally:
            stop.set()  # the clients send nothing new, whatever happened above
        gateway.extra_args.append("--flush-on-close")
        gateway.start()
        for thread in clients:
            thread.join(60)
        assert not any(thread.is_alive() for thread in clients), "a client did not stop"
        post(gateway.url, {"id": "after-restart"})
        assert gateway.stop() in (0, -15)
    assert lake_objects(lake, GEO) == {f"{GEO}+0+0000000000.json": [{"id": "geo-1"}, {"id": "geo-2"}]}
    stored = lake_objects(lake)
    counts = Counter(record["id"] for records in stored.values() for record in records)
    assert len(acknowledged) >= 80
    assert all(counts[i] == 1 for i in acknowledged), "an acknowledged record is missing or repeated"
    assert max(counts.values()) == 1 and set(counts) <= sent | {"after-restart"}
    starts = sorted(int(name.rsplit("+", 1)[1].removesuffix(".json")) for name in stored)
    sizes = [len(stored[f"{PIN}+0+{s:010d}.json"]) for s in starts]
    assert starts == [sum(sizes[:i]) for i in range(len(starts))]  # contiguous offsets, named by start
    assert all(size <= 3 for size in sizes)


def test_an_s3_lake_root_puts_the_objects_in_the_bucket(moto: MotoServer, tmp_path: Path) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="gateway-lake")
    args = ["--state-dir", str(tmp_path / "state"), "--flush-on-close"]
    with GatewayProcess("s3://gateway-lake/lake", flush_size=2, extra_args=args, env=moto.environment()) as gateway:
        assert post(gateway.url, {"ind": 1}, {"ind": 2}, {"ind": 3}) == [0, 1, 2]
        assert gateway.stop() in (0, -15)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="gateway-lake")["Contents"])
    assert keys == [f"lake/{object_key(PIN, 0, 0)}", f"lake/{object_key(PIN, 0, 2)}"]
    first = s3.get_object(Bucket="gateway-lake", Key=keys[0])["Body"].read()
    assert first == b'{"ind":1}\n{"ind":2}\n'
