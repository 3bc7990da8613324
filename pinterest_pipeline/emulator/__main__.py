"""Entry point of ``python -m pinterest_pipeline.emulator {kafka|kinesis}``."""
from pinterest_pipeline.emulator.cli import main_with_route

raise SystemExit(main_with_route())
