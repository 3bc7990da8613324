"""④ The lake: objects in the Confluent S3 sink layout, written by the gateway's lake writer or the Kafka sink.

Never imports Spark: the batch job reads the lake with Spark's own readers.
"""
from pinterest_pipeline.lake.layout import lake_line, object_key, parse_object_name
from pinterest_pipeline.lake.writer import LakeWriter

__all__ = ["LakeWriter", "lake_line", "object_key", "parse_object_name"]
