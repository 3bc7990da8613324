"""Entry point of ``python -m pinterest_pipeline.gateway``."""
from pinterest_pipeline.gateway.cli import main

raise SystemExit(main())
