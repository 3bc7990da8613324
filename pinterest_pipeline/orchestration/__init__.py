"""⑥ Orchestration: the Airflow DAG builder behind ``124a514b9149_dag.py`` (MWAA → Databricks, or local Spark)."""
from pinterest_pipeline.orchestration.dag import build_dag

__all__ = ["build_dag"]
