"""The batch tests' lake (repeats and damaged lines included) and one run of the job over it, shared by the
tests of the job and of its report (fixtures in ``tests/batch/conftest.py``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pinterest_pipeline.batch import BatchResult
from tests.support.lake_files import MALFORMED_LINES, sampled_rows, write_lake

PREFIX = "124a514b9149"
DISTINCT_ROWS = 3000
SENT_RECORDS = 3000
#: Records that repeat an ``ind`` already sent with other values (a row edited between two sends).
EDITED_RECORDS = 60


@dataclass(frozen=True)
class Lake:
    root: Path
    distinct_indices: int


@dataclass(frozen=True)
class Run:
    lake: Lake
    warehouse: Path
    result: BatchResult
    #: Every ``(done, total, step)`` the run reported to its progress callback, in order.
    progress: list[tuple[int, int, str]] = field(default_factory=list)


def make_lake(root: Path) -> Lake:
    """``SENT_RECORDS`` records per topic drawn from ``DISTINCT_ROWS`` rows, ``EDITED_RECORDS`` repeats that
    differ, plus :data:`MALFORMED_LINES`."""
    rows = sampled_rows(DISTINCT_ROWS, SENT_RECORDS, edited=EDITED_RECORDS)
    write_lake(root, PREFIX, rows, flush_size=500, single_record_objects=3, partitions=2, malformed=MALFORMED_LINES)
    return Lake(root, len({row["index"] for row in rows["pin"]}))
