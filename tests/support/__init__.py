"""Helpers shared by the tests: reference implementations, private servers, sample data."""
from pathlib import Path

#: The repository checkout the tests run from (the top-level scripts, notebooks and DAG file live there).
REPO_ROOT = Path(__file__).resolve().parents[2]
