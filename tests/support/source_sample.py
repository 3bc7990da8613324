"""A small seeded SQLite source database for emulator tests, and the row indices an emulator run draws."""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from pinterest_pipeline.source.database import make_engine, seed

SOURCE_ROWS = 400


def seeded_sqlite(folder: Path, rows: int = SOURCE_ROWS) -> str:
    """Seed ``rows`` rows per table into a new SQLite file in ``folder``; return its URL."""
    url = f"sqlite:///{folder / 'source.db'}"
    engine = make_engine(url)
    seed(engine, rows, seed=100)
    engine.dispose()
    return url


def drawn_indices(count: int, seed: int, rows: int = SOURCE_ROWS) -> Counter:
    """How often each row index is sent by an emulator run of ``--count count --seed seed`` (``--rate 0``) over
    a source of ``rows`` rows, derived from the contract rather than the emulator's code (CONVENTIONS §7: as the
    original, one ``random.randint`` over the whole index range per row, from a generator seeded once)."""
    draw = random.Random(seed)
    return Counter(draw.randint(0, rows - 1) for _ in range(count))
