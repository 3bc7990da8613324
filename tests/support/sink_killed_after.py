"""``python -m tests.support.sink_killed_after N BOOTSTRAP LAKE GROUP FLUSH_SIZE TOPIC... [--follow]``: the
Kafka → lake sink as a child process that SIGKILLs itself just after its N-th object is durable, before
committing past it. It runs until caught up, or with ``--follow`` as a member of a group that waits for
records (until its N-th object).

A crash at a state rather than at a time: whatever the machine's load, the lake holds exactly N objects when
the process dies. ``KAFKA_*`` variables of the environment reach the consumer as they do for the CLI.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from pinterest_pipeline.kafka.client_config import client_config
from pinterest_pipeline.kafka.sink import LakeSink, SinkOptions
from pinterest_pipeline.lake.store import LocalObjectStore


class DyingStore(LocalObjectStore):
    """A local lake whose process is killed (SIGKILL: no clean-up runs) once ``kill_after`` objects are written."""

    def __init__(self, root: Path, kill_after: int) -> None:
        super().__init__(root)
        self.kill_after, self.written = kill_after, 0

    def put(self, key: str, data: bytes) -> None:
        super().put(key, data)
        self.written += 1
        if self.written == self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    """Run the sink; exit 1 if it ended without being killed (caught up with fewer objects than N)."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.sink_killed_after")
    for name in ("kill_after", "bootstrap", "lake", "group", "flush_size"):
        parser.add_argument(name)
    parser.add_argument("topics", nargs="+")
    parser.add_argument("--follow", action="store_true", help="wait for records instead of ending when caught up")
    args = parser.parse_args(argv)
    options = SinkOptions(lake_root=args.lake, topics=tuple(args.topics), group_id=args.group,
                          flush_size=int(args.flush_size), until_caught_up=not args.follow)
    store = DyingStore(Path(args.lake), int(args.kill_after))
    stats = LakeSink(options, client_config(args.bootstrap), store=store).run()
    print(f"caught up after {stats.objects} objects, before object {args.kill_after}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
