"""Reading what the pipeline stored through independent clients: a Delta table's rows through DuckDB, Arrow and
pandas; every record of a Kinesis stream through boto3."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import duckdb

from pinterest_pipeline.kinesis import shard_ids

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def rows_three_ways(table: DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The table's rows as DuckDB (over its Parquet files), Arrow and pandas read them."""
    result = duckdb.connect().execute("SELECT * FROM read_parquet(?)",
                                      [[urlparse(uri).path for uri in table.inputFiles()]])
    columns = [d[0] for d in result.description]
    return {"duckdb": [dict(zip(columns, row)) for row in result.fetchall()],
            "arrow": table.toArrow().to_pylist(),
            "pandas": table.toPandas().to_dict("records")}


def stream_records(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    """Every record of every shard of ``stream``, from its start (GetRecords)."""
    records = []
    for shard in shard_ids(kinesis, stream):
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records += kinesis.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    return records
