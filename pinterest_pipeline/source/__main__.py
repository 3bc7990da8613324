"""Entry point of ``python -m pinterest_pipeline.source``."""
from pinterest_pipeline.source.cli import main

raise SystemExit(main())
