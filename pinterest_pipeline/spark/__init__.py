"""Spark, shared by the batch (⑤) and streaming (⑤′) jobs: the session, raw schemas and JSON parsing with its
reject rules, the cleansing functions, and Delta I/O. The only place, with ``batch/`` and ``streaming/``, that
imports Spark.
"""
