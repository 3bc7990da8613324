"""The batch leg: lake objects → cleaned Delta tables and insight tables (``python -m pinterest_pipeline.batch``)."""
from pinterest_pipeline.batch.job import BatchResult, cleaned_table_name, quarantine_table_name, run_batch

__all__ = ["BatchResult", "cleaned_table_name", "quarantine_table_name", "run_batch"]
