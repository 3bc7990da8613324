"""Steps the demos share: banners, running an emulator as a user would, describing the lake, the batch job."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Literal

from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.lake.layout import parse_object_name


def step(title: str) -> None:
    """Print a step banner."""
    print(f"\n=== {title} ===", flush=True)


def emulate(invoke_url: str, prefix: str, count: int, batch_size: int,
            route: Literal["kafka", "kinesis"] = "kafka") -> None:
    """Run an emulator (``python -m pinterest_pipeline.emulator``) at full speed; raise if it lost records."""
    command = [sys.executable, "-m", "pinterest_pipeline.emulator", route, "--invoke-url", invoke_url,
               "--prefix", prefix, "--count", str(count), "--rate", "0", "--batch-size", str(batch_size),
               "--seed", "100"]
    subprocess.run(command, check=True)


def describe_lake(lake_root: Path, prefix: str) -> None:
    """Objects and records per topic, and one example object name."""
    for kind in KINDS:
        topic = topic_name(prefix, kind)
        objects = sorted((lake_root / "topics" / topic).glob("partition=*/*.json"))
        records: Counter[int] = Counter()
        for path in objects:
            with path.open() as lines:
                records[parse_object_name(path.name).partition] += sum(1 for _ in lines)
        example = objects[0].relative_to(lake_root) if objects else "-"
        print(f"{topic:<20} objects={len(objects):<6} records={sum(records.values()):<7} e.g. {example}")


def run_batch_job(lake_root: Path, prefix: str, warehouse: Path, report: Path) -> None:
    """The batch job over the lake as its own process: cleansed Delta tables, insights, report."""
    command = [sys.executable, "-m", "pinterest_pipeline.batch", "--lake-root", str(lake_root), "--prefix", prefix,
               "--warehouse", str(warehouse), "--report", str(report)]
    subprocess.run(command, check=True)
