"""The three source tables as SQLAlchemy Core tables, columns in the original order (docs/data-contract.md §1)."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, Double, Integer, MetaData, String, Table, Text

from pinterest_pipeline.contract import SOURCE_COLUMNS

metadata = MetaData()
_MYSQL = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}

pinterest_data = Table(
    "pinterest_data", metadata,
    Column("index", Integer, primary_key=True, autoincrement=False),
    Column("unique_id", String(36)),
    Column("title", String(255)),
    Column("description", Text),
    Column("poster_name", String(255)),
    Column("follower_count", String(32)),
    Column("tag_list", Text),
    Column("is_image_or_video", String(64)),
    Column("image_src", String(255)),
    Column("downloaded", Integer),
    Column("save_location", String(255)),
    Column("category", String(64)),
    **_MYSQL,
)
geolocation_data = Table(
    "geolocation_data", metadata,
    Column("ind", Integer, primary_key=True, autoincrement=False),
    Column("timestamp", DateTime),
    Column("latitude", Double),
    Column("longitude", Double),
    Column("country", String(128)),
    **_MYSQL,
)
user_data = Table(
    "user_data", metadata,
    Column("ind", Integer, primary_key=True, autoincrement=False),
    Column("first_name", String(128)),
    Column("last_name", String(128)),
    Column("age", Integer),
    Column("date_joined", DateTime),
    **_MYSQL,
)

TABLES: dict[str, Table] = {table.name: table for table in (pinterest_data, geolocation_data, user_data)}


def source_table(name: str) -> Table:
    """The table called ``name``; a clear error for any other name (names are never put into SQL text)."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown source table {name!r}; expected one of {sorted(TABLES)}") from None


def index_column(name: str) -> Column:
    """The row-index column the three tables are joined on (``index`` or ``ind``)."""
    table = source_table(name)
    return table.columns[SOURCE_COLUMNS[name][0]]
