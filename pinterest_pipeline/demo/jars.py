"""Jars fetched on a first run (Spark's Delta packages through Ivy, the Kafka broker through Maven): what came,
how big, where it is kept, for the one line that says so."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


def ivy_jar_folders(home: Path | None = None) -> list[Path]:
    """The folders Spark's ``--packages`` jars are copied to (``~/.ivy2*/jars``, whatever Ivy version names it)."""
    return sorted((home or Path.home()).glob(".ivy2*/jars"))


def jars_in(folders: Iterable[Path]) -> dict[Path, int]:
    """Every ``*.jar`` directly in ``folders``, with its size in bytes."""
    return {path: path.stat().st_size for folder in folders if folder.is_dir() for path in folder.glob("*.jar")}


@dataclass(frozen=True)
class Fetched:
    """Jars that appeared between two looks at the same folders."""

    jars: dict[Path, int]

    @classmethod
    def between(cls, before: dict[Path, int], after: dict[Path, int]) -> "Fetched":
        return cls({path: size for path, size in after.items() if path not in before})

    def __bool__(self) -> bool:
        return bool(self.jars)

    def line(self, what: str, source: str = "Maven Central") -> str:
        """``first run: fetched <what> (33 jars, 52.1 MB) from Maven Central, cached in <folder>``."""
        folders = sorted({str(path.parent) for path in self.jars})
        size_mb = sum(self.jars.values()) / 1e6
        return (f"first run: fetched {what} ({len(self.jars)} jars, {size_mb:.1f} MB) from {source}, "
                f"cached in {', '.join(folders)}")
