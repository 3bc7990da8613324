"""Storage faults under a running gateway: refused writes answer 500 and report on /health, and the partition
heals by itself once storage works again; a killed object write leaves nothing behind after a restart."""
from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import requests

from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.lake.writer import LakeWriter

TOPIC = "124a514b9149.pin"
HEADERS = {"Content-Type": "application/vnd.kafka.json.v2+json"}


def unprivileged() -> list[str]:
    """A launcher that makes file modes bind the child: as root, drop the capabilities that bypass them."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test read-only storage as root"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def set_writable(root: Path, writable: bool) -> None:
    """Add or remove every write permission under ``root`` (itself included)."""
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~0o222)


def post(gateway: GatewayProcess, value: dict) -> requests.Response:
    return requests.post(f"{gateway.url}/topics/{TOPIC}", json={"records": [{"value": value}]}, headers=HEADERS,
                         timeout=30)


def test_a_read_only_lake_fails_requests_then_heals_without_a_restart(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with GatewayProcess(lake, launcher=unprivileged()) as gateway:
        assert post(gateway, {"ind": 1}).status_code == 200
        set_writable(lake, False)
        try:
            refused = post(gateway, {"ind": 2})
            health = requests.get(f"{gateway.url}/health", timeout=30)
        finally:
            set_writable(lake, True)
        assert refused.status_code == 500 and refused.json()["error_code"] == 50002
        assert health.status_code == 503 and "PermissionError" in health.json()["problems"][f"{TOPIC}[0]"]
        assert requests.get(f"{gateway.url}/health", timeout=30).json() == {"status": "ok"}
        accepted = post(gateway, {"ind": 3})
        assert accepted.status_code == 200 and accepted.json()["offsets"][0]["offset"] == 1
    objects = sorted((lake / "topics" / TOPIC / "partition=0").glob("*.json"))
    assert [(p.name, json.loads(p.read_text())) for p in objects] == [
        (f"{TOPIC}+0+0000000000.json", {"ind": 1}), (f"{TOPIC}+0+0000000001.json", {"ind": 3})]


def test_a_restart_removes_what_a_killed_object_write_left(tmp_path: Path) -> None:
    folder = tmp_path / "lake" / "topics" / TOPIC / "partition=0"
    folder.mkdir(parents=True)
    # What LocalObjectStore.put leaves when killed between its write and its rename.
    leftover = folder / f".{TOPIC}+0+0000000000.json.k3x9_q2a.tmp"
    leftover.write_bytes(b'{"ind": 1')
    unrelated = folder / ".someone-elses-file.tmp"
    unrelated.write_bytes(b"")
    with LakeWriter(tmp_path / "lake", topics=[TOPIC]) as writer:
        assert writer.append(TOPIC, [{"ind": 1}]) == [(0, 0)]
    assert not leftover.exists() and unrelated.exists()
    assert sorted(p.name for p in folder.iterdir()) == [".someone-elses-file.tmp", f"{TOPIC}+0+0000000000.json"]
