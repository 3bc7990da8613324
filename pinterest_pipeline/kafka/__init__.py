"""④ The batch transport: Kafka client settings, a local broker, and the sink writing the lake.

Needs the ``kafka`` extra (confluent-kafka) except for :mod:`~pinterest_pipeline.kafka.client_config`; nothing is
imported here so that the gateway can read client settings without loading the broker or the sink.
"""
