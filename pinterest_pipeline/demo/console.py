"""What a demo shows: one line per stage and a progress bar while a stage waits, on the terminal it started
with; everything else goes to a log file under ``data/logs/``.

While a :class:`Console` is open, file descriptors 1 and 2 of this process point at the log file, so whatever
any library, the JVM (Spark, Ivy, log4j) or a child process writes there lands in the log; the console keeps
its own copies of the terminal's descriptors for the demo's lines. Python logging and warnings go to the log
too. The stage lines are copied into the log, so it tells the whole story.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

LOG_DIR = Path("data/logs")
#: Width of the stage name column.
NAME_WIDTH = 9
logger = logging.getLogger("pinterest_pipeline.demo")


def duration(seconds: float) -> str:
    """``"42.3 s"`` or ``"3 min 12 s"``."""
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


def names_in_brief(names: Sequence[str]) -> str:
    """``"124a514b9149.pin|geo|user"`` for names that share a beginning."""
    if len(names) < 2:
        return ", ".join(names)
    common = os.path.commonprefix(list(names))
    return common + "|".join(name[len(common):] for name in names)


def per_topic(counts: dict[str, int]) -> str:
    """``"3,000 each"`` when every topic has as many, else ``"pin 3,000, geo 2,998, user 3,000"``."""
    if len(set(counts.values())) == 1:
        return f"{next(iter(counts.values())):,} each"
    return ", ".join(f"{kind} {count:,}" for kind, count in counts.items())


class Console:
    """The demo's terminal output, and the log file that takes everything else (see the module docstring).

    ``bars``: draw progress bars (None = only when the terminal is one).
    """

    def __init__(self, name: str, log_dir: str | Path = LOG_DIR, bars: bool | None = None) -> None:
        self.path = Path(log_dir) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        self.bars = bars
        self.out: TextIO = sys.stdout
        self.err: TextIO = sys.stderr
        self.started = time.monotonic()
        self._stages = 0
        self._saved: tuple[int, int] | None = None
        self._handler: logging.Handler | None = None
        self._root_level = logging.WARNING

    def __enter__(self) -> "Console":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        self.out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8", errors="replace")
        self.err = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
        if self.bars is None:
            self.bars = self.out.isatty()
        self._saved = (os.dup(1), os.dup(2))
        log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        self._handler = logging.FileHandler(self.path, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(self._handler)
        self._root_level = root.level
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        logging.captureWarnings(False)
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            logging.getLogger().setLevel(self._root_level)
            self._handler.close()
        if self._saved is not None:
            for fd, saved in zip((1, 2), self._saved):
                os.dup2(saved, fd)
                os.close(saved)
            self._saved = None
        self.out.close()
        self.err.close()

    def _print(self, text: str, stream: TextIO | None = None) -> None:
        print(text, file=stream or self.out, flush=True)
        logger.info("%s", text)

    def title(self, text: str) -> None:
        """The first line: what this demo runs, and where its log goes."""
        self._print(f"{text}\n(other programs' output: {self.path})")

    def stage(self, name: str, text: str) -> None:
        """One numbered line: a stage and its figures."""
        self._stages += 1
        self._print(f"{self._stages:>2}. {name:<{NAME_WIDTH}} {text}")

    def detail(self, text: str) -> None:
        """A line under the last stage."""
        self._print(f"{'':>4}{'':<{NAME_WIDTH}} {text}")

    def finished(self) -> None:
        """The last line: total time and the log's path."""
        self._print(f"done in {duration(time.monotonic() - self.started)}; other programs' output: {self.path}")

    def failed(self, error: BaseException) -> None:
        """The error in full on the terminal's stderr (and in the log), then the log's path."""
        text = "".join(traceback.format_exception(error)).rstrip()
        self._print(f"\n{text}\n\nthe demo failed; other programs' output (Spark, Kafka, the gateway ...): {self.path}",
                    self.err)

    def bar(self, desc: str, total: float | None = None, unit: str = "it") -> tqdm:
        """A progress bar on the terminal, gone when closed (a stage line takes its place)."""
        fmt = None if total else "{desc}: {elapsed}"
        return tqdm(total=total, desc=f"{'':>4}{desc}", unit=unit, file=self.out, leave=False,
                    disable=not self.bars, dynamic_ncols=True, mininterval=0.2, bar_format=fmt)

    @contextmanager
    def watch(self, desc: str, read: Callable[[], float], total: float | None = None,
              unit: str = "it") -> Iterator[tqdm]:
        """A progress bar that follows ``read()`` (polled from a thread) while the body runs."""
        stop = threading.Event()
        with self.bar(desc, total, unit) as progress:
            if progress.disable:
                yield progress
                return

            def follow() -> None:
                while not stop.wait(0.25):
                    progress.n = read()
                    progress.refresh()

            poller = threading.Thread(target=follow, name=f"progress-{desc}", daemon=True)
            poller.start()
            try:
                yield progress
            finally:
                stop.set()
                poller.join()

    def waiting(self, desc: str) -> "AbstractContextManager[tqdm]":
        """A bar that shows only the time spent, for a wait of unknown length."""
        return self.watch(desc, lambda: 0)

    def append_log(self, path: Path, what: str) -> None:
        """Copy another program's own log file into this one."""
        if path.is_file():
            with open(self.path, "ab") as log:
                log.write(f"\n----- {what}: {path} -----\n".encode())
                log.write(path.read_bytes())
