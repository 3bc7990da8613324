"""What one batch run found, as the small tables both reports (Markdown and HTML) show."""
from __future__ import annotations

import pandas as pd

from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.batch.job import BatchResult


def records_table(result: BatchResult) -> pd.DataFrame:
    """Per topic: lines read, good records, lines quarantined, repeats removed, cleaned rows."""
    duplicates = result.duplicates
    return pd.DataFrame([
        {"topic": kind, "lines read": c["raw"], "good records": c["good"], "quarantined": c["quarantined"],
         "repeats removed": duplicates[kind], "cleaned rows": result.cleaned_rows[kind]}
        for kind, c in result.counts.items()
    ])


def reasons_table(result: BatchResult) -> pd.DataFrame:
    """Quarantined lines per topic and reason (no rows when nothing was quarantined)."""
    rows = [{"topic": kind, "reason": reason, "lines": lines}
            for kind, reasons in result.reasons.items() for reason, lines in reasons.items()]
    return pd.DataFrame(rows, columns=["topic", "reason", "lines"])


def quality_table(result: BatchResult) -> pd.DataFrame:
    """Empty, placeholder and unreadable values found in good records (only the issues that occurred)."""
    found = result.data_quality[result.data_quality["value_count"] > 0].reset_index(drop=True)
    return found.rename(columns={"kind": "topic", "column_name": "column", "value_count": "values"})


def insight_title(name: str) -> str:
    """``"1. Most popular category in each country"`` from the query's docstring."""
    doc = INSIGHTS[name].__doc__ or name
    return " ".join(doc.split()).split(" → ")[0].rstrip(". ")
