"""Entry point of ``python -m pinterest_pipeline.batch``."""
from pinterest_pipeline.batch.cli import main

raise SystemExit(main())
