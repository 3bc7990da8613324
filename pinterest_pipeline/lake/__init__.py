"""The lake: objects in the Confluent S3 sink layout, written by the gateway or the Kafka sink."""
