"""Write-ahead journal of one topic-partition: the records acknowledged, as JSON lines, fsync'd before the answer
(one append may hold the records of many requests: see :mod:`pinterest_pipeline.lake.group_commit`).

A journal file is named by the offset of its first line (``0000000012.wal``). Records stay in it after their
object is written, until the journal is replaced by a fresh one holding only the records still pending. A
line without its final newline is the trace of a write cut short by a crash before the acknowledgement:
reading the journal drops it.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pinterest_pipeline.lake.store import fsync_dir, make_dirs

SUFFIX = ".wal"


@dataclass(eq=False)
class Journal:
    """One journal file: its first offset and its size in bytes."""

    path: Path
    start: int
    size: int = 0

    @classmethod
    def create(cls, folder: Path, start: int, lines: list[bytes]) -> "Journal":
        """A new journal holding ``lines``, made durable at once (replaces a journal of the same start)."""
        make_dirs(folder)
        data = b"".join(lines)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            path = folder / f"{start:010d}{SUFFIX}"
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        fsync_dir(folder)
        return cls(path, start, len(data))

    def append(self, lines: list[bytes]) -> None:
        """Append newline-terminated lines and fsync them (``FileNotFoundError`` once the file is removed: it is
        never created again by a late append)."""
        data = b"".join(lines)
        with os.fdopen(os.open(self.path, os.O_WRONLY | os.O_APPEND), "ab") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        self.size += len(data)

    def truncate(self, size: int) -> None:
        """Cut the file back to ``size`` bytes (undo of an append)."""
        with open(self.path, "r+b") as file:
            file.truncate(size)
            os.fsync(file.fileno())
        self.size = size

    def remove(self) -> None:
        """Delete the file."""
        self.path.unlink(missing_ok=True)


def read_journal(path: Path) -> tuple[Journal, list[bytes]]:
    """A journal and its complete lines; a torn last line is cut off the file."""
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    journal = Journal(path, int(path.name.removesuffix(SUFFIX)), len(data))
    if len(complete) != len(data):
        journal.truncate(len(complete))
    return journal, [line + b"\n" for line in complete.split(b"\n")[:-1]]


def read_journals(folder: Path) -> list[tuple[Journal, list[bytes]]]:
    """Every journal of one partition folder, oldest first (temporaries left by a crash are deleted)."""
    if not folder.is_dir():
        return []
    for temporary in folder.glob(".*.tmp"):
        temporary.unlink()
    return [read_journal(path) for path in sorted(folder.glob(f"*{SUFFIX}"))]
