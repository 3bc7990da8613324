"""User-posting emulators: random source rows sent to the gateway's Kafka REST or Kinesis routes."""
