"""The local harness, not pipeline code: the demos, and the servers they (and the tests and benchmarks) start."""
