"""④′ The streaming transport: a boto3 Kinesis client (AWS, or a local endpoint such as moto) and stream helpers.

Never imports Spark: the emulators, the gateway and the Spark data source all use it.
"""
from pinterest_pipeline.kinesis.client import ensure_stream, ensure_streams, kinesis_client, shard_ids

__all__ = ["ensure_stream", "ensure_streams", "kinesis_client", "shard_ids"]
