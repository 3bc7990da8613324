"""The source database on SQLite or MySQL/MariaDB: engine, tables, bulk seeding and row reads."""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import Connection, Engine, Select, bindparam, create_engine, func, insert, inspect, select
from sqlalchemy.engine import make_url

from pinterest_pipeline.source.generator import generate_rows
from pinterest_pipeline.source.schema import TABLES, index_column, metadata, source_table

DEFAULT_CHUNK_SIZE = 10_000
#: Per-connection SQLite settings for a bulk load: no fsync per page, a big page cache.
_SQLITE_BULK_PRAGMAS = {"synchronous": "OFF", "cache_size": "-131072", "temp_store": "MEMORY"}


def make_engine(url: str) -> Engine:
    """A pooled engine; for a SQLite file, its folder is created first."""
    parsed = make_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        options["pool_recycle"] = 3600
    return create_engine(parsed, **options)


def safe_url(engine: Engine) -> str:
    """The engine's URL with the password masked, fit for logs."""
    return engine.url.render_as_string(hide_password=True)


def create_tables(engine: Engine, drop: bool = False) -> None:
    """Create the three source tables if missing; with ``drop``, drop them first."""
    if drop:
        metadata.drop_all(engine)
    metadata.create_all(engine)


@contextmanager
def _bulk_load_settings(conn: Connection) -> Iterator[None]:
    """On SQLite, fast pragmas for the duration of a seed, restored afterwards; elsewhere nothing."""
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in _SQLITE_BULK_PRAGMAS}
    for name, value in _SQLITE_BULK_PRAGMAS.items():
        conn.exec_driver_sql(f"PRAGMA {name} = {value}")
    conn.commit()
    try:
        yield
    finally:
        for name, value in previous.items():
            conn.exec_driver_sql(f"PRAGMA {name} = {int(value)}")
        conn.commit()


def seed(engine: Engine, rows: int, seed: int = 100, chunk_size: int = DEFAULT_CHUNK_SIZE,
         on_chunk: Callable[[int], None] | None = None) -> int:
    """Recreate the tables and fill each with ``rows`` generated rows, ``chunk_size`` per executemany.

    All inserts run in one transaction, so a failed seed leaves empty tables, never a partial sample.
    ``on_chunk`` is called with the number of rows per table after each chunk. Returns rows per table.
    """
    return _fill_tables(engine, rows, seed, chunk_size, on_chunk)


def _fill_tables(engine: Engine, rows: int, random_seed: int, chunk_size: int,
                 on_chunk: Callable[[int], None] | None) -> int:
    """The body of :func:`seed` (apart so that ``ensure_seeded``'s ``seed`` argument does not hide it)."""
    if rows < 0 or chunk_size < 1:
        raise ValueError(f"rows must be >= 0 and chunk_size >= 1 (got {rows}, {chunk_size})")
    create_tables(engine, drop=True)
    with engine.connect() as conn, _bulk_load_settings(conn):
        with conn.begin():
            for start in range(0, rows, chunk_size):
                count = min(chunk_size, rows - start)
                for table, table_rows in generate_rows(start, count, random_seed).items():
                    conn.execute(insert(TABLES[table]), table_rows)
                if on_chunk is not None:
                    on_chunk(count)
    return rows


def row_count(engine: Engine, table: str) -> int:
    """Number of rows in one source table."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(source_table(table))).scalar_one()


def table_row_counts(engine: Engine) -> dict[str, int | None]:
    """Rows per source table, None for a table that does not exist."""
    existing = set(inspect(engine).get_table_names())
    return {name: row_count(engine, name) if name in existing else None for name in TABLES}


def ensure_seeded(url: str, rows: int = 11000, seed: int = 100) -> bool:
    """Seed the database at ``url`` when all three tables are missing or empty; True if it seeded.

    A database where some tables hold rows and others do not is never overwritten: that is an error.
    """
    engine = make_engine(url)
    try:
        counts = table_row_counts(engine)
        if not any(counts.values()):
            _fill_tables(engine, rows, seed, DEFAULT_CHUNK_SIZE, on_chunk=None)
            return True
        if not all(counts.values()):
            raise RuntimeError(
                f"source database {safe_url(engine)} is partly filled (rows per table: {counts}); "
                "rebuild it with `python -m pinterest_pipeline.source seed`"
            )
        return False
    finally:
        engine.dispose()


@lru_cache(maxsize=None)
def _rows_by_index_statement(table: str) -> Select:
    """``SELECT <columns> FROM <table> WHERE <index> IN (<bound list>)``."""
    return select(source_table(table)).where(index_column(table).in_(bindparam("indices", expanding=True)))


def fetch_rows(engine: Engine, table: str, indices: Sequence[int]) -> list[dict[str, Any]]:
    """Rows of ``table`` for ``indices``, in their order and multiplicity; absent indices are skipped.

    One query per call. Each row is a fresh dict with the original column names in the original order.
    """
    statement = _rows_by_index_statement(table)
    wanted = [int(index) for index in indices]
    if not wanted:
        return []
    with engine.connect() as conn:
        result = conn.execute(statement, {"indices": sorted(set(wanted))})
        found = {row[0]: row._asdict() for row in result}
    return [dict(found[index]) for index in wanted if index in found]


def fetch_row_at(engine: Engine, table: str, position: int) -> dict[str, Any] | None:
    """The original project's read, ``SELECT * FROM <table> LIMIT <position>, 1`` (benchmark baseline)."""
    statement = select(source_table(table)).limit(1).offset(position)
    with engine.connect() as conn:
        row = conn.execute(statement).first()
    return None if row is None else row._asdict()
