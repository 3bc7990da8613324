"""Entry point of ``python -m pinterest_pipeline.aws``."""
from pinterest_pipeline.aws.cli import main

raise SystemExit(main())
