"""① The source database (the original's RDS): synthetic rows, their tables, seeding and row reads.

``python -m pinterest_pipeline.source seed|count``.
"""
from pinterest_pipeline.source.database import ensure_seeded, fetch_rows, make_engine, seed

__all__ = ["ensure_seeded", "fetch_rows", "make_engine", "seed"]
