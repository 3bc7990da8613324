"""The Airflow DAG's one task: a Databricks notebook run on MWAA, or the batch job on local Spark.

Imported by Airflow's DAG processor, so module-level imports stay light (no Spark, no Airflow);
Airflow itself is imported only when a DAG or task is built.

Settings are read when the DAG file is parsed, each from the first of: the environment variable
``AIRFLOW_VAR_<NAME>`` (an Airflow Variable given through the environment), the plain environment
variable ``<NAME>``, then the default below.
"""
from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinterest_pipeline.config import Settings
from pinterest_pipeline.contract import DEFAULT_PREFIX

if TYPE_CHECKING:
    from airflow.sdk import DAG, BaseOperator

DAG_ID = f"{DEFAULT_PREFIX}_dag"
TASK_ID = "submit_pintrest_analysis_run"
SCHEDULE = "@daily"
START_DATE = datetime(2024, 8, 25, tzinfo=UTC)
TAGS = ("pinterest", "batch", "databricks")
DEFAULT_ARGS: dict[str, Any] = {
    "owner": DEFAULT_PREFIX,
    "depends_on_past": False,
    "email_on_failure": False,
    "email_on_retry": False,
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
}

#: The two ways the task can run.
MWAA_MODE, LOCAL_MODE = "mwaa", "local"
MODES = (MWAA_MODE, LOCAL_MODE)

#: Repository root: the folder holding the DAG file and this package.
REPO_ROOT = Path(__file__).resolve().parents[1]


def default_python(repo_root: Path = REPO_ROOT) -> str:
    """The project's interpreter: ``<repo>/.venv/bin/python`` if present, else the running one."""
    venv_python = repo_root / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


#: Setting name → default. Names are also the environment variables (and ``AIRFLOW_VAR_`` + name).
DEFAULTS: dict[str, str] = {
    "PINTEREST_DAG_MODE": MWAA_MODE,
    "PINTEREST_DATABRICKS_CONN_ID": "databricks_default",
    "PINTEREST_DATABRICKS_CLUSTER_ID": "1108-162752-8okw8dgg",
    "PINTEREST_NOTEBOOK_PATH": "/Workspace/Shared/pinterest-data-pipeline/databricks_s3_to_databricks",
    "PINTEREST_DATABRICKS_LAKE_ROOT": f"/mnt/{DEFAULT_PREFIX}-bucket",
    "PINTEREST_POLLING_PERIOD_SECONDS": "30",
    "PINTEREST_PREFIX": DEFAULT_PREFIX,
    "PINTEREST_LAKE_ROOT": str(REPO_ROOT / Settings.lake_root),
    "PINTEREST_WAREHOUSE": str(REPO_ROOT / Settings.warehouse),
    "PINTEREST_REPORT": str(REPO_ROOT / "out" / "report.md"),
    "PINTEREST_PYTHON": default_python(),
}


def read_setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    """``AIRFLOW_VAR_<name>``, else ``<name>``, else the default of :data:`DEFAULTS` (empty values are skipped)."""
    environ = os.environ if environ is None else environ
    return environ.get(f"AIRFLOW_VAR_{name}") or environ.get(name) or DEFAULTS[name]


@dataclass(frozen=True)
class DagSettings:
    """Everything the DAG's task needs, resolved at parse time."""

    mode: str
    databricks_conn_id: str
    cluster_id: str
    notebook_path: str
    databricks_lake_root: str
    polling_period_seconds: int
    prefix: str
    lake_root: str
    warehouse: str
    report: str
    python: str

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"PINTEREST_DAG_MODE must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.polling_period_seconds < 1:
            raise ValueError("PINTEREST_POLLING_PERIOD_SECONDS must be at least 1")


def load_dag_settings(environ: Mapping[str, str] | None = None) -> DagSettings:
    """The task's settings from ``AIRFLOW_VAR_*`` / plain environment variables and the defaults."""
    def get(name: str) -> str:
        return read_setting(name, environ)

    polling = get("PINTEREST_POLLING_PERIOD_SECONDS").strip()
    if not polling.isdigit():
        raise ValueError(f"PINTEREST_POLLING_PERIOD_SECONDS must be a whole number of seconds, not {polling!r}")
    return DagSettings(
        mode=get("PINTEREST_DAG_MODE").strip().lower(),
        databricks_conn_id=get("PINTEREST_DATABRICKS_CONN_ID"),
        cluster_id=get("PINTEREST_DATABRICKS_CLUSTER_ID"),
        notebook_path=get("PINTEREST_NOTEBOOK_PATH"),
        databricks_lake_root=get("PINTEREST_DATABRICKS_LAKE_ROOT"),
        polling_period_seconds=int(polling),
        prefix=get("PINTEREST_PREFIX"),
        lake_root=get("PINTEREST_LAKE_ROOT"),
        warehouse=get("PINTEREST_WAREHOUSE"),
        report=get("PINTEREST_REPORT"),
        python=get("PINTEREST_PYTHON"),
    )


def notebook_task(settings: DagSettings) -> dict[str, Any]:
    """The Jobs API ``notebook_task``: the batch notebook and its widget parameters."""
    return {
        "notebook_path": settings.notebook_path,
        "base_parameters": {"lake_root": settings.databricks_lake_root, "prefix": settings.prefix},
    }


def local_batch_command(settings: DagSettings) -> list[str]:
    """The batch job's command line: Delta tables under the warehouse and the Markdown report."""
    return [
        settings.python, "-m", "pinterest_pipeline.batch",
        "--lake-root", settings.lake_root,
        "--prefix", settings.prefix,
        "--warehouse", settings.warehouse,
        "--report", settings.report,
    ]


def build_databricks_task(settings: DagSettings) -> BaseOperator:
    """The original's task: submit the batch notebook to the existing cluster and wait for it."""
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

    return DatabricksSubmitRunOperator(
        task_id=TASK_ID,
        databricks_conn_id=settings.databricks_conn_id,
        existing_cluster_id=settings.cluster_id,
        notebook_task=notebook_task(settings),
        polling_period_seconds=settings.polling_period_seconds,
    )


def build_local_task(settings: DagSettings) -> BaseOperator:
    """The same task id running the batch job on local Spark with the project's interpreter."""
    from airflow.providers.standard.operators.bash import BashOperator

    return BashOperator(
        task_id=TASK_ID,
        bash_command=shlex.join(local_batch_command(settings)),
        cwd=str(REPO_ROOT),
        env={"PYSPARK_PYTHON": settings.python, "PYSPARK_DRIVER_PYTHON": settings.python},
        append_env=True,
    )


def build_dag(settings: DagSettings | None = None) -> DAG:
    """The ``124a514b9149_dag`` DAG with its one task, built for the configured mode."""
    from airflow.sdk import DAG

    settings = settings or load_dag_settings()
    with DAG(
        dag_id=DAG_ID,
        schedule=SCHEDULE,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # runs overwrite the same Delta tables: one at a time
        default_args=DEFAULT_ARGS,
        tags=list(TAGS),
        description="Daily batch run: S3 lake → cleansed Delta tables and insights (Databricks or local Spark)",
    ) as dag:
        if settings.mode == LOCAL_MODE:
            build_local_task(settings)
        else:
            build_databricks_task(settings)
    return dag
