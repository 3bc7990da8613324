"""The lake as a file stream: each run of the batch job reads only the objects no earlier run has read.

Spark's file source (on Databricks, Auto Loader ``cloudFiles``) remembers in its checkpoint which objects it has
read; with ``Trigger.AvailableNow`` a run reads what arrived since the last one and stops. The three topics are
one query (one checkpoint, one micro-batch per run): each line comes with its topic, so the batch is split by
topic without reading an object twice.
"""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pinterest_pipeline.batch.lake_reader import located_lines, topic_glob
from pinterest_pipeline.contract import KINDS, topic_name

#: Databricks' incremental file source.
AUTO_LOADER = "cloudFiles"


def lake_checkpoint(warehouse_root: str, prefix: str) -> str:
    """``<warehouse>/_checkpoints/<prefix>_lake/``: the stream's record of the objects already read."""
    return f"{warehouse_root.rstrip('/')}/_checkpoints/{prefix}_lake/"


def _topic_lines(spark: SparkSession, lake_root: str, topic: str, auto_loader: bool) -> DataFrame:
    """The lines of one topic's objects as a stream (:func:`located_lines` columns)."""
    path = topic_glob(lake_root, topic)
    if auto_loader:
        reader = spark.readStream.format(AUTO_LOADER).option("cloudFiles.format", "text")
    else:
        reader = spark.readStream.format("text")
    return located_lines(reader.load(path), topic)


def lake_lines(spark: SparkSession, lake_root: str, prefix: str, auto_loader: bool = False) -> DataFrame:
    """Every line of the three topics of ``prefix`` not read before (``raw_line``, ``source_file``, ``topic``)."""
    streams = [_topic_lines(spark, lake_root, topic_name(prefix, kind), auto_loader) for kind in KINDS]
    return reduce(DataFrame.unionByName, streams)


def of_topic(lines: DataFrame, topic: str) -> DataFrame:
    """The lines of one topic (Spark prunes the other topics' sources from the plan: their topic is a constant)."""
    return lines.where(F.col("topic") == topic)
