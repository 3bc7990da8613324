"""Child processes a test starts, each killed and reaped when the test ends, however it ends."""
from __future__ import annotations

import subprocess
from typing import Any, Sequence


class Children:
    """Starts children like :class:`subprocess.Popen`; :meth:`kill_all` ends whichever still run."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []

    def start(self, command: Sequence[str], **options: Any) -> subprocess.Popen:
        """``subprocess.Popen(command, **options)``, remembered for :meth:`kill_all`."""
        process = subprocess.Popen(command, **options)
        self._started.append(process)
        return process

    def kill_all(self) -> None:
        """SIGKILL every child still running, wait for each, close their pipes."""
        for process in self._started:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
