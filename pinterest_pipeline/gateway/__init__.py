"""The local API gateway: the Kafka REST Proxy v2 produce API of the original, in front of a record backend."""
