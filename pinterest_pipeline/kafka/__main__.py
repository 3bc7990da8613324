"""Entry point of ``python -m pinterest_pipeline.kafka``."""
from pinterest_pipeline.kafka.cli import main

raise SystemExit(main())
