"""② Emulators: random source rows → the gateway's Kafka REST routes (batch) or Kinesis routes (streaming).

``user_posting_emulation.py`` and ``user_posting_emulation_streaming.py`` are thin front ends of :mod:`.cli`.
"""
