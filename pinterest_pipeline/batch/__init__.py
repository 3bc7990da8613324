"""⑤ The batch job: lake objects → quarantine, cleaned and insight Delta tables, and a report.

``python -m pinterest_pipeline.batch``; the batch notebook calls :func:`run_batch`.
"""
from pinterest_pipeline.batch.job import BatchResult, run_batch

__all__ = ["BatchResult", "run_batch"]
