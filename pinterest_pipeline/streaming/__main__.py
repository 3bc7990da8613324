"""Entry point of ``python -m pinterest_pipeline.streaming``."""
from pinterest_pipeline.streaming.cli import main

raise SystemExit(main())
