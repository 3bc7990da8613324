"""The Airflow DAG's one task: a Databricks notebook run on MWAA, or the batch job on local Spark.

Imported by Airflow's DAG processor, so module-level imports stay light (no Spark, no Airflow);
Airflow itself is imported only when a DAG or task is built.

Settings are the project's (:mod:`pinterest_pipeline.config`), read when the DAG file is parsed: Airflow
reads Variables at parse time only from ``AIRFLOW_VAR_*`` environment variables, and those win over the plain
``PINTEREST_*`` ones. Relative paths of the local mode are relative to the folder of the DAG file.
"""
from __future__ import annotations

import shlex
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinterest_pipeline.config import LOCAL_MODE, Settings, load_settings
from pinterest_pipeline.contract import DEFAULT_PREFIX

if TYPE_CHECKING:
    from airflow.sdk import DAG, BaseOperator

DAG_ID = f"{DEFAULT_PREFIX}_dag"
TASK_ID = "submit_pintrest_analysis_run"
SCHEDULE = "@daily"
START_DATE = datetime(2024, 8, 25, tzinfo=timezone.utc)
TAGS = ("pinterest", "batch", "databricks")
#: The run's logical date (``YYYY-MM-DD``), rendered by Airflow when the task runs.
LOGICAL_DATE = "{{ ds }}"
DEFAULT_ARGS: dict[str, Any] = {
    "owner": DEFAULT_PREFIX,
    "depends_on_past": False,
    "email_on_failure": False,
    "email_on_retry": False,
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
}


def default_python(project_dir: Path) -> str:
    """The project's interpreter: ``<project_dir>/.venv/bin/python`` if present, else the running one."""
    venv_python = project_dir / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def notebook_task(settings: Settings) -> dict[str, Any]:
    """The Jobs API ``notebook_task``: the batch notebook and its widget parameters."""
    return {
        "notebook_path": settings.notebook_path,
        "base_parameters": {"lake_root": settings.databricks_lake_root, "prefix": settings.prefix,
                            "catalog": settings.databricks_catalog, "schema": settings.databricks_schema,
                            "logical_date": LOGICAL_DATE},
    }


def local_batch_command(settings: Settings, project_dir: Path) -> list[str]:
    """The batch job's command line: Delta tables under the warehouse and the Markdown report, for the run's
    logical date (an Airflow template), on the configured Spark master if one is."""
    return [
        settings.python or default_python(project_dir), "-m", "pinterest_pipeline.batch",
        "--lake-root", settings.lake_root,
        "--prefix", settings.prefix,
        "--warehouse", settings.warehouse,
        "--report", settings.report,
        "--logical-date", LOGICAL_DATE,
        *(["--master", settings.spark_master] if settings.spark_master else []),
    ]


def build_databricks_task(settings: Settings) -> BaseOperator:
    """The original's task: submit the batch notebook to the existing cluster and wait for it."""
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

    return DatabricksSubmitRunOperator(
        task_id=TASK_ID,
        databricks_conn_id=settings.databricks_conn_id,
        existing_cluster_id=settings.databricks_cluster_id,
        notebook_task=notebook_task(settings),
        timeout_seconds=settings.databricks_timeout_seconds,
        polling_period_seconds=settings.polling_period_seconds,
    )


def build_local_task(settings: Settings, project_dir: Path) -> BaseOperator:
    """The same task id running the batch job on local Spark with the project's interpreter, in ``project_dir``."""
    try:
        from airflow.providers.standard.operators.bash import BashOperator
    except ImportError:  # Airflow 2, before the standard provider
        from airflow.operators.bash import BashOperator

    command = local_batch_command(settings, project_dir)
    return BashOperator(
        task_id=TASK_ID,
        bash_command=shlex.join(command),
        cwd=str(project_dir),
        env={"PYSPARK_PYTHON": command[0], "PYSPARK_DRIVER_PYTHON": command[0]},
        append_env=True,
    )


def build_dag(project_dir: str | Path, settings: Settings | None = None) -> DAG:
    """The ``124a514b9149_dag`` DAG with its one task, built for the configured mode.

    ``project_dir``: the folder of the DAG file (the local task runs there; its ``.venv`` is preferred).
    """
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2 (still offered by MWAA)
        from airflow import DAG

    project_dir = Path(project_dir).resolve()
    settings = settings or load_settings()
    with DAG(
        dag_id=DAG_ID,
        schedule=SCHEDULE,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # runs update the same Delta tables and checkpoint: one at a time
        default_args=DEFAULT_ARGS,
        tags=list(TAGS),
        description="Daily batch run: S3 lake → cleansed Delta tables and insights (Databricks or local Spark)",
    ) as dag:
        if settings.dag_mode == LOCAL_MODE:
            build_local_task(settings, project_dir)
        else:
            build_databricks_task(settings)
    return dag
