"""The emulation loop: pick a random row index, read that row from each table, hand the rows to a transport."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from sqlalchemy import Engine
from tqdm import tqdm

from pinterest_pipeline.contract import SOURCE_TABLE_BY_KIND
from pinterest_pipeline.emulator.transports import Transport
from pinterest_pipeline.source.database import fetch_rows


@dataclass(frozen=True)
class EmulationPlan:
    """How many rows, how fast, how many per request, from which random seed.

    ``count`` None runs forever; ``rate`` None sleeps a random 0 or 1 s per row as the original did,
    0 never sleeps, R > 0 paces to R rows per second. One row is one record on each of the three legs.
    """

    count: int | None = None
    rate: float | None = None
    batch_size: int = 1
    seed: int = 100
    max_index: int = 11000


@dataclass(frozen=True)
class EmulationSummary:
    """Outcome of a run, as the final summary line prints it."""

    rows: int
    sent: int
    retried: int
    failed: int
    missing: int
    seconds: float

    @property
    def records_per_s(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.missing == 0

    def line(self) -> str:
        """One line for humans and log scrapers alike."""
        return (f"summary: rows={self.rows} sent={self.sent} retried={self.retried} failed={self.failed} "
                f"missing_in_source={self.missing} seconds={self.seconds:.2f} "
                f"records_per_s={self.records_per_s:.0f}")


def batches_of_indices(rng: random.Random, plan: EmulationPlan) -> Iterator[list[int]]:
    """Random row indices (inclusive range 0..max_index), ``batch_size`` at a time, ``count`` in all."""
    produced = 0
    while plan.count is None or produced < plan.count:
        size = plan.batch_size if plan.count is None else min(plan.batch_size, plan.count - produced)
        yield [rng.randint(0, plan.max_index) for _ in range(size)]
        produced += size


class Pacer:
    """Sleeps between batches: the original's random 0–1 s per row, none, or a steady rows/s."""

    def __init__(self, plan: EmulationPlan, rng: random.Random, sleep: Callable[[float], None] = time.sleep):
        self.plan, self.rng, self.sleep = plan, rng, sleep
        self.started = time.monotonic()
        self.rows = 0

    def after(self, rows: int) -> None:
        """Called once a batch of ``rows`` rows has been sent."""
        self.rows += rows
        if self.plan.rate is None:
            self.sleep(sum(self.rng.randrange(0, 2) for _ in range(rows)))
        elif self.plan.rate > 0:
            ahead = self.started + self.rows / self.plan.rate - time.monotonic()
            if ahead > 0:
                self.sleep(ahead)


def run_emulation(engine: Engine, transport: Transport, plan: EmulationPlan,
                  progress: bool = True) -> EmulationSummary:
    """Send ``plan.count`` random rows of each table through ``transport``, close it, and summarise."""
    rng = random.Random(plan.seed)
    pacer = Pacer(plan, rng)
    rows = missing = 0
    started = time.monotonic()
    with tqdm(total=plan.count, unit="row", disable=not progress, dynamic_ncols=True) as bar:
        try:
            for indices in batches_of_indices(rng, plan):
                for kind, table in SOURCE_TABLE_BY_KIND.items():
                    found = fetch_rows(engine, table, indices)
                    missing += len(indices) - len(found)
                    if found:
                        transport.send(kind, found)
                rows += len(indices)
                bar.update(len(indices))
                stats = transport.stats
                bar.set_postfix(sent=stats.sent, failed=stats.failed, refresh=False)
                pacer.after(len(indices))
        except KeyboardInterrupt:
            pass
        finally:
            transport.close()
    stats = transport.stats
    return EmulationSummary(rows, stats.sent, stats.retried, stats.failed, missing, time.monotonic() - started)
