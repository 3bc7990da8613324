"""Entry point of ``python -m pinterest_pipeline.demo``."""
from pinterest_pipeline.demo.cli import main

raise SystemExit(main())
