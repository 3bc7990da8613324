"""``make demo-stream``: the streaming path on one machine, Kinesis played by a local moto server.

moto server → three streams → gateway (``--kinesis-endpoint``) ← streaming emulator → streaming job
(``python -m pinterest_pipeline.streaming --available-now``) → three Delta tables, whose row counts and first
rows are printed.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from pinterest_pipeline.config import Settings
from pinterest_pipeline.demo.processes import GatewayProcess, MotoServer
from pinterest_pipeline.demo.steps import emulate, step
from pinterest_pipeline.kinesis import ensure_streams, kinesis_client
from pinterest_pipeline.source.database import ensure_seeded

#: Rows of each streaming table shown at the end.
SHOWN_ROWS = 5


def run_streaming_demo(settings: Settings, count: int, batch_size: int, workdir: str | Path) -> None:
    """Streams on moto, the emulator through the gateway's Kinesis routes, then the streaming job (available now)."""
    workdir = Path(workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    warehouse = workdir / "warehouse"
    ensure_seeded(settings.database_url)
    with MotoServer() as moto:
        step(f"Kinesis (moto server) at {moto.url}")
        for name in ensure_streams(kinesis_client(moto.url, settings.region), settings.prefix):
            print(f"stream {name} ACTIVE")
        extra = ["--kinesis-endpoint", moto.url, "--log-level", "warning"]
        with GatewayProcess(workdir / "lake", extra_args=extra) as gateway:
            step(f"Streaming emulator → gateway {gateway.url}/streams/<stream>/record")
            emulate(gateway.url, settings.prefix, count, batch_size, route="kinesis")
        step("Streaming job (availableNow): Kinesis → cleansing → Delta")
        command = [sys.executable, "-m", "pinterest_pipeline.streaming", "--prefix", settings.prefix,
                   "--warehouse", str(warehouse), "--endpoint-url", moto.url, "--region", settings.region,
                   "--available-now", "--show-rows", str(SHOWN_ROWS)]
        subprocess.run(command, check=True)
    print(f"\nDelta tables under {warehouse}")
