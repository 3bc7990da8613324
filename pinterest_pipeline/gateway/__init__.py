"""③ The local API Gateway: the Kafka REST Proxy v2 routes and the Kinesis routes of the original, over a record
backend (the lake writer, or a real Kafka). ``python -m pinterest_pipeline.gateway``.
"""
from pinterest_pipeline.gateway.app import create_app

__all__ = ["create_app"]
