"""Batch emulator: random Pinterest rows from the source database → API gateway → Kafka REST Proxy topics.

Run ``python user_posting_emulation.py --help``; with no flags it behaves as the original (endless loop).
"""
import sys

from pinterest_pipeline.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main("kafka"))
