"""Airflow DAG ``124a514b9149_dag``: the daily batch run of the Pinterest pipeline.

On MWAA (the default) its one task, ``submit_pintrest_analysis_run``, submits the batch notebook
to Databricks; with ``PINTEREST_DAG_MODE=local`` the same task runs the batch job on local Spark.
The task is built in ``pinterest_pipeline.orchestration``; docs/airflow.md lists the settings.
"""
from pathlib import Path

from pinterest_pipeline.orchestration import build_dag

dag = build_dag(project_dir=Path(__file__).parent)
