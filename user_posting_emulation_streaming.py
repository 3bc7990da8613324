"""Streaming emulator: random Pinterest rows from the source database → API gateway → Kinesis streams.

Run ``python user_posting_emulation_streaming.py --help``; with no flags it behaves as the original.
"""
import sys

from pinterest_pipeline.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main("kinesis"))
