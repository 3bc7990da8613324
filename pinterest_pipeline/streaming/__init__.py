"""⑤′ The streaming job: Kinesis streams → the shared cleansing → Delta tables, with the Python Kinesis data source
that stands in for Databricks' own outside Databricks. ``python -m pinterest_pipeline.streaming``.
"""

#: The streaming source format of Kinesis: Databricks' built-in one there, the package's Python data source elsewhere.
KINESIS_FORMAT = "kinesis"
