"""A small seeded SQLite source database for emulator tests, and the row indices an emulator run samples."""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from pinterest_pipeline.emulator.runner import EmulationPlan, batches_of_indices
from pinterest_pipeline.source.database import make_engine, seed

SOURCE_ROWS = 400


def seeded_sqlite(folder: Path, rows: int = SOURCE_ROWS) -> str:
    """Seed ``rows`` rows per table into a new SQLite file in ``folder``; return its URL."""
    url = f"sqlite:///{folder / 'source.db'}"
    engine = make_engine(url)
    seed(engine, rows, seed=100)
    engine.dispose()
    return url


def sampled_indices(count: int, batch_size: int, seed: int, rows: int = SOURCE_ROWS) -> Counter:
    """How often each row index is sent by an emulator run with these flags (same sampling code)."""
    plan = EmulationPlan(count=count, batch_size=batch_size, seed=seed, max_index=rows - 1)
    return Counter(i for batch in batches_of_indices(random.Random(seed), plan) for i in batch)
