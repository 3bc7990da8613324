"""``make dist``: the artifacts users deploy, built from this checkout.

- ``dist/pinterest_pipeline-<version>-py3-none-any.whl``: the slim wheel (Spark, Delta, Airflow, Kafka, moto and
  papermill only in extras);
- ``dist/mwaa/dags/``: what to copy under an MWAA environment bucket's ``dags/`` (the DAG file and the package
  files it imports, with an ``.airflowignore`` inside the package folder only, so no other DAG is hidden), and
  ``dist/mwaa/requirements.txt``;
- ``dist/databricks/``: the two notebooks and the wheel, to import into a workspace / upload to a Volume.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAG_FILE = "124a514b9149_dag.py"
#: The package files the DAG file imports (and nothing else: no Spark, no Kafka on the Airflow workers).
DAG_PACKAGE_FILES = ("__init__.py", "config.py", "contract.py", "orchestration/__init__.py", "orchestration/dag.py")
#: Inside ``dags/pinterest_pipeline/``: keeps Airflow's DAG processor out of the package. Each line means the same
#: in both ``dag_ignore_file_syntax`` modes (Airflow 2's ``regexp``, Airflow 3's ``glob``).
PACKAGE_AIRFLOWIGNORE = "__init__.py\nconfig.py\ncontract.py\norchestration\n"
NOTEBOOKS = ("databricks_s3_to_databricks.ipynb", "databricks_kinisis_to_databricks.ipynb")
#: MWAA installs these with its own constraints file (one per Airflow and Python version).
MWAA_REQUIREMENTS = """\
# MWAA: pick the constraints file of your environment's Airflow and Python versions, e.g.
# --constraint "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"
apache-airflow-providers-databricks
"""


def build_wheel(out: Path) -> Path:
    """Build the wheel into ``out`` with PyPA ``build``; its path."""
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"building the wheel failed:\n{done.stdout}{done.stderr}")
    [wheel] = sorted(out.glob("pinterest_pipeline-*-py3-none-any.whl"))
    return wheel


def assemble_mwaa(out: Path) -> Path:
    """``<out>/mwaa/dags`` and ``<out>/mwaa/requirements.txt``; the dags folder."""
    dags = out / "mwaa" / "dags"
    dags.mkdir(parents=True)
    shutil.copy2(REPO / DAG_FILE, dags / DAG_FILE)
    for relative in DAG_PACKAGE_FILES:
        target = dags / "pinterest_pipeline" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "pinterest_pipeline" / relative, target)
    (dags / "pinterest_pipeline" / ".airflowignore").write_text(PACKAGE_AIRFLOWIGNORE)
    (out / "mwaa" / "requirements.txt").write_text(MWAA_REQUIREMENTS)
    return dags


def assemble_databricks(out: Path, wheel: Path) -> Path:
    """``<out>/databricks``: the notebooks and the wheel."""
    folder = out / "databricks"
    folder.mkdir(parents=True)
    for notebook in NOTEBOOKS:
        shutil.copy2(REPO / notebook, folder / notebook)
    shutil.copy2(wheel, folder / wheel.name)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder, emptied first (default dist/)")
    args = parser.parse_args(argv)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    wheel = build_wheel(args.out)
    assemble_mwaa(args.out)
    assemble_databricks(args.out, wheel)
    for path in sorted(p for p in args.out.rglob("*") if p.is_file()):
        print(path.relative_to(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
