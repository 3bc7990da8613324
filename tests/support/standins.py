"""Stand-ins for the cloud runtimes: the built artifacts, and virtualenvs holding only what a runtime holds.

Virtualenvs are made by uv under ``~/.cache/pinterest-pipeline/venvs/<name>-<hash of the requirements>`` and
reused while the requirements stay the same; the project's wheel is (re)installed into them for every run.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO_ROOT

VENV_ROOT = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pinterest-pipeline" / "venvs"
#: Libraries of the Databricks 15.4 LTS runtime (Spark 3.5, Python 3.11) that the notebooks touch.
DATABRICKS_SPARK_35 = ("pyspark>=3.5,<3.6", "delta-spark>=3.2,<4", "pandas==1.5.3", "numpy==1.23.5",
                       "pyarrow==14.0.1", "matplotlib==3.7.2", "tabulate", "pyyaml")
#: A Spark 4 runtime (the line of the 17.x LTS runtimes), with boto3 as every runtime has it.
DATABRICKS_SPARK_4 = ("pyspark>=4.2,<4.3", "delta-spark==4.4.0", "pandas>=2.2,<3", "pyarrow>=16", "boto3",
                      "matplotlib", "tabulate", "pyyaml")


def uv(*args: str) -> None:
    """Run uv (installed in the project's virtualenv); raise with its output on failure."""
    done = subprocess.run([sys.executable, "-m", "uv", *args], capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"uv {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def build_dist(out: Path) -> Path:
    """``make dist`` into ``out`` (scripts/build_dist.py); the folder."""
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "build_dist.py"), "--out", str(out)], check=True,
                   capture_output=True, timeout=600)
    return out


def ensure_venv(name: str, requirements: tuple[str, ...], constraints: tuple[str, ...] = ()) -> Path:
    """The interpreter of a virtualenv holding ``requirements`` (made on first use, then reused)."""
    digest = hashlib.sha256("\n".join((*requirements, "--", *constraints)).encode()).hexdigest()[:10]
    folder = VENV_ROOT / f"{name}-{digest}"
    python = folder / "bin" / "python"
    if not (folder / ".complete").exists():
        uv("venv", "--quiet", "--clear", "--python", sys.executable, str(folder))
        extra = [f"--constraint={path}" for path in constraints]
        uv("pip", "install", "--quiet", "--python", str(python), *extra, *requirements)
        (folder / ".complete").touch()
    return python


def install_wheel(python: Path, wheel: Path) -> None:
    """Install (or replace) the project's wheel, with its unconditional requirements only."""
    uv("pip", "install", "--quiet", "--python", str(python), "--reinstall-package", "pinterest-pipeline", str(wheel))
