"""Delta I/O, the one writer: path-based tables under a warehouse folder, or managed tables on Databricks."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from pinterest_pipeline.spark.session import absolute_location, on_databricks

if TYPE_CHECKING:
    from delta.tables import DeltaTable

#: A catalog or schema name used unquoted: letters, digits, underscores.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def qualified_schema(catalog: str | None, schema: str | None) -> str | None:
    """``catalog.schema``, ``schema`` or None (the session's current schema); ``ValueError`` for other names."""
    parts = [part.strip() for part in (catalog, schema) if part and part.strip()]
    if catalog and catalog.strip() and not (schema and schema.strip()):
        raise ValueError("a catalog needs a schema too")
    for part in parts:
        if not _IDENTIFIER.match(part):
            raise ValueError(f"not a plain catalog or schema name: {part!r} (letters, digits and _ only)")
    return ".".join(parts) or None


#: Commits :meth:`Warehouse.append_once` looks back through for its own version: room for a few maintenance
#: commits (``OPTIMIZE``, ``VACUUM``) between a failed micro-batch and its replay.
APPEND_LOOKBACK = 20


@dataclass(frozen=True)
class Warehouse:
    """Where the pipeline's Delta tables live.

    ``managed`` (decided once, by :meth:`for_runtime`): tables are catalog names (Databricks), in ``schema``
    (``catalog.schema`` or ``schema``; None = the session's current one); otherwise each table is the folder
    ``<root>/<name>``.
    """

    root: str
    managed: bool = False
    schema: str | None = None

    @classmethod
    def for_runtime(cls, root: str, schema: str | None = None) -> "Warehouse":
        """Managed tables in ``schema`` on Databricks, folders under ``root`` anywhere else."""
        return cls(root, managed=on_databricks(), schema=schema)

    def ensure_schema(self, spark: SparkSession) -> None:
        """Create the schema of managed tables unless it exists (needs ``CREATE SCHEMA`` on the catalog)."""
        if self.managed and self.schema:
            spark.sql(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")

    def location(self, name: str) -> str:
        """The table's catalog name, or ``<root>/<name>`` (absolute for a local folder)."""
        if self.managed:
            return f"{self.schema}.{name}" if self.schema else name
        return absolute_location(f"{self.root.rstrip('/')}/{name}")

    def write(self, df: DataFrame, name: str, mode: str = "overwrite", properties: Mapping[str, str] | None = None,
              user_metadata: str | None = None) -> str:
        """Write ``df`` as table ``name``; its location.

        ``overwrite`` replaces data and schema of an earlier run; ``append`` adds rows; ``ignore`` creates the table
        only if it does not exist. ``properties``: Delta table properties (``delta.*``) of a table this creates;
        ``user_metadata``: text kept in the commit's ``commitInfo.userMetadata``.
        """
        location = self.location(name)
        writer = df.write.format("delta").mode(mode).options(**(properties or {}))
        if mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")
        if user_metadata is not None:
            writer = writer.option("userMetadata", user_metadata)
        if self.managed:
            writer.saveAsTable(location)
        else:
            writer.save(location)
        return location

    def append_once(self, spark: SparkSession, rows: DataFrame, name: str, writer: str, version: int) -> bool:
        """Append ``rows`` to table ``name`` as ``version`` of ``writer`` unless that version (or a later one) is
        already among the table's last :data:`APPEND_LOOKBACK` commits; whether it appended.

        The version is recorded in the commit's ``userMetadata`` (``<writer>@<version>``), and the check reads only
        those few commit files: Delta's own ``txnAppId`` / ``txnVersion`` check rebuilds the whole table state
        (several Spark jobs) on every append in Delta 4.4. Versions of one writer must be appended in order, one at
        a time (a streaming query's batches are).
        """
        for marker in self._recent_user_metadata(spark, name):
            seen_writer, _, seen_version = (marker or "").rpartition("@")
            if seen_writer == writer and seen_version.isdigit() and int(seen_version) >= version:
                return False
        self.append_marked(rows, name, writer, version)
        return True

    def append_marked(self, rows: DataFrame, name: str, writer: str, version: int) -> None:
        """Append ``rows`` to table ``name`` as ``version`` of ``writer`` without looking for it first: for a
        caller that knows the version is new (a streaming query's batches after the first one it ran). Appending
        no rows commits nothing (Delta skips empty commits)."""
        self.write(rows, name, mode="append", user_metadata=f"{writer}@{version}")

    def _recent_user_metadata(self, spark: SparkSession, name: str) -> list[str | None]:
        """``userMetadata`` of the table's last :data:`APPEND_LOOKBACK` commits, newest first (none: no table yet)."""
        from pyspark.errors import AnalysisException

        try:
            history = self._history(spark, name, APPEND_LOOKBACK)
            return [marker for (marker,) in history.select("userMetadata").collect()]
        except AnalysisException:
            if self.exists(spark, name):
                raise
            return []

    def create_if_missing(self, spark: SparkSession, name: str, schema: str | StructType,
                          properties: Mapping[str, str] | None = None) -> str:
        """An empty table ``name`` of ``schema`` (with Delta table ``properties``) unless one exists (so concurrent
        first appends do not race)."""
        return self.write(spark.createDataFrame([], schema), name, mode="ignore", properties=properties)

    def read(self, spark: SparkSession, name: str) -> DataFrame:
        """Table ``name``."""
        location = self.location(name)
        return spark.table(location) if self.managed else spark.read.format("delta").load(location)

    def exists(self, spark: SparkSession, name: str) -> bool:
        """Whether table ``name`` was written."""
        if self.managed:
            return spark.catalog.tableExists(self.location(name))
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(spark, self.location(name))

    def merge_least_rows(self, spark: SparkSession, rows: DataFrame, name: str, key: str = "ind") -> int:
        """Delta ``MERGE`` of ``rows`` (one per ``key``) into table ``name``: a new key is inserted, a known one
        replaced when the new row is the smaller (the other columns compared in order, NULL first, as ``min``
        of a struct does). The table keeps, per key, the least row ever merged, whatever the order of arrival,
        and merging the same rows again changes nothing. Returns the rows inserted (new keys); the table must have
        no other writer meanwhile."""
        table = self._delta_table(spark, name)
        others = [f"`{column}`" for column in rows.columns if column != key]
        smaller = f"struct({', '.join(f'new.{c}' for c in others)}) < struct({', '.join(f'old.{c}' for c in others)})"
        (table.alias("old").merge(rows.alias("new"), f"old.`{key}` = new.`{key}`")
         .whenMatchedUpdateAll(condition=smaller).whenNotMatchedInsertAll().execute())
        # The commit's own metrics: ``execute`` returns them only from Delta 4 on (the table has one writer).
        return self.last_commit_metric(spark, name, "numTargetRowsInserted")

    def last_commit_metric(self, spark: SparkSession, name: str, metric: str) -> int:
        """``metric`` of the ``operationMetrics`` of table ``name``'s latest commit (e.g. ``numOutputRows`` of a
        write): read from the commit file alone, no scan of the table. The table must have had no other writer
        since the commit meant."""
        return int(self._history(spark, name, 1).first()["operationMetrics"][metric])

    def _history(self, spark: SparkSession, name: str, limit: int) -> DataFrame:
        """The last ``limit`` commits of table ``name``, newest first. Managed tables go through SQL: Delta 3's
        ``DeltaTable.forName`` cannot parse a ``catalog.schema.table`` name."""
        if self.managed:
            return spark.sql(f"DESCRIBE HISTORY {self.location(name)} LIMIT {int(limit)}")
        return self._delta_table(spark, name).history(limit)

    def _delta_table(self, spark: SparkSession, name: str) -> "DeltaTable":
        """Table ``name`` as a ``delta.tables.DeltaTable``."""
        from delta.tables import DeltaTable

        location = self.location(name)
        return DeltaTable.forName(spark, location) if self.managed else DeltaTable.forPath(spark, location)


def remove_folder(spark: SparkSession, path: str) -> None:
    """Delete ``path`` and everything under it, on any filesystem Spark reaches (local, ``s3a://``, ``dbfs:``)."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(hadoop_path, True)
