"""The source database on SQLite and on a private MariaDB server: seeding, counts and row reads."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from sqlalchemy import Engine, inspect, text

from pinterest_pipeline.config import load_settings
from pinterest_pipeline.contract import SOURCE_COLUMNS
from pinterest_pipeline.source.cli import main as cli_main
from pinterest_pipeline.source.database import (
    create_tables,
    ensure_seeded,
    fetch_row_at,
    fetch_rows,
    make_engine,
    row_count,
    seed,
    table_row_counts,
)
from pinterest_pipeline.source.generator import generate_rows
from pinterest_pipeline.source.schema import TABLES
from tests.support import REPO_ROOT
from tests.support.mariadb_server import MariaDBServer

ROWS = 3000
REPO = REPO_ROOT


def assert_same_row(fetched: dict[str, Any], generated: dict[str, Any]) -> None:
    """Equal column for column, in order; floats compared approximately."""
    assert list(fetched) == list(generated)
    for column, value in generated.items():
        if isinstance(value, float):
            assert fetched[column] == pytest.approx(value, abs=1e-9), column
        else:
            assert fetched[column] == value, column
            assert type(fetched[column]) is type(value), column


def assert_matches_generator(engine: Engine, indices: list[int]) -> None:
    for table in SOURCE_COLUMNS:
        fetched = fetch_rows(engine, table, indices)
        assert len(fetched) == len(indices)
        for index, row in zip(indices, fetched):
            assert_same_row(row, generate_rows(index, 1)[table][0])


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('source') / 'nested' / 'source.db'}")
    assert seed(engine, ROWS, chunk_size=1200) == ROWS
    yield engine
    engine.dispose()


def test_sqlite_counts(sqlite_engine: Engine) -> None:
    assert {table: row_count(sqlite_engine, table) for table in TABLES} == dict.fromkeys(TABLES, ROWS)


def test_table_columns_follow_the_contract() -> None:
    assert {name: tuple(table.columns.keys()) for name, table in TABLES.items()} == SOURCE_COLUMNS


def test_fetch_rows_keeps_order_and_multiplicity_and_skips_missing(sqlite_engine: Engine) -> None:
    rows = fetch_rows(sqlite_engine, "pinterest_data", [10, 2, 10, ROWS + 5, ROWS - 1, -1, 0])
    assert [row["index"] for row in rows] == [10, 2, 10, ROWS - 1, 0]
    assert rows[0] == rows[2] and rows[0] is not rows[2]
    rows[0]["title"] = "changed"
    assert rows[2]["title"] != "changed"


def test_fetched_values_and_types_match_the_generator(sqlite_engine: Engine) -> None:
    assert_matches_generator(sqlite_engine, [0, 1, 999, 1000, 1001, 2345, ROWS - 1])
    geo = fetch_rows(sqlite_engine, "geolocation_data", [7])[0]
    user = fetch_rows(sqlite_engine, "user_data", [7])[0]
    assert isinstance(geo["timestamp"], datetime) and isinstance(user["date_joined"], datetime)


def test_fetch_rows_edge_cases(sqlite_engine: Engine) -> None:
    assert fetch_rows(sqlite_engine, "user_data", []) == []
    assert fetch_rows(sqlite_engine, "user_data", [ROWS, ROWS + 1]) == []
    with pytest.raises(ValueError, match="unknown source table"):
        fetch_rows(sqlite_engine, "users; DROP TABLE user_data", [1])


def test_fetch_row_at_is_the_original_offset_read(sqlite_engine: Engine) -> None:
    assert fetch_row_at(sqlite_engine, "user_data", 42) == generate_rows(42, 1)["user_data"][0]
    assert fetch_row_at(sqlite_engine, "user_data", ROWS) is None


def test_seed_reports_chunks_and_restores_sqlite_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'chunks.db'}")
    with engine.connect() as conn:
        before = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    chunks: list[int] = []
    assert seed(engine, 2500, chunk_size=777, on_chunk=chunks.append) == 2500
    assert chunks == [777, 777, 777, 169]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == before
    assert_matches_generator(engine, [0, 776, 777, 2499])
    with pytest.raises(ValueError):
        seed(engine, 10, chunk_size=0)
    assert row_count(engine, "pinterest_data") == 2500, "a rejected seed must not touch the data"
    engine.dispose()


def test_ensure_seeded_is_idempotent_and_never_overwrites_a_partial_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'sample.db'}"
    assert ensure_seeded(url, rows=400) is True
    assert ensure_seeded(url, rows=900) is False
    engine = make_engine(url)
    assert table_row_counts(engine) == dict.fromkeys(TABLES, 400)

    TABLES["user_data"].drop(engine)
    with pytest.raises(RuntimeError, match="partly filled"):
        ensure_seeded(url, rows=400)
    assert row_count(engine, "pinterest_data") == 400

    create_tables(engine, drop=True)
    assert table_row_counts(engine) == dict.fromkeys(TABLES, 0)
    assert ensure_seeded(url, rows=300) is True
    assert table_row_counts(engine) == dict.fromkeys(TABLES, 300)
    engine.dispose()


def test_cli_seed_and_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert cli_main(["seed", "--rows", "250", "--seed", "7", "--chunk-size", "100", "--url", url,
                     "--no-progress"]) == 0
    summary = capsys.readouterr().out
    assert "seeded 250 rows per table" in summary and "rows/s" in summary
    assert fetch_rows(make_engine(url), "geolocation_data", [3]) == [generate_rows(3, 1, seed=7)["geolocation_data"][0]]
    done = subprocess.run([sys.executable, "-m", "pinterest_pipeline.source", "count", "--url", url],
                          capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.splitlines() == [f"{table}: 250" for table in TABLES]


def test_cli_count_reports_missing_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["count", "--url", f"sqlite:///{tmp_path / 'empty.db'}"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{table}: missing" for table in TABLES]


@pytest.fixture(scope="module")
def seeded_mariadb(mariadb_server: MariaDBServer) -> Iterator[Engine]:
    engine = make_engine(mariadb_server.url)
    seed(engine, ROWS, chunk_size=1000)
    yield engine
    engine.dispose()


@pytest.mark.mariadb
def test_mariadb_holds_the_generated_rows(seeded_mariadb: Engine) -> None:
    assert table_row_counts(seeded_mariadb) == dict.fromkeys(TABLES, ROWS)
    assert_matches_generator(seeded_mariadb, [0, 5, 999, 1000, 2222, ROWS - 1])
    rows = fetch_rows(seeded_mariadb, "geolocation_data", [9, 4, 9, ROWS + 1])
    assert [row["ind"] for row in rows] == [9, 4, 9]
    assert fetch_row_at(seeded_mariadb, "pinterest_data", 11)["index"] == 11


@pytest.mark.mariadb
def test_mariadb_schema_keeps_the_reserved_index_column(seeded_mariadb: Engine) -> None:
    columns = {name: [c["name"] for c in inspect(seeded_mariadb).get_columns(name)] for name in TABLES}
    assert {name: tuple(c) for name, c in columns.items()} == SOURCE_COLUMNS
    with seeded_mariadb.connect() as conn:
        assert conn.execute(text("SELECT MAX(`index`) FROM pinterest_data")).scalar() == ROWS - 1


@pytest.mark.mariadb
def test_db_creds_file_reaches_the_same_data(seeded_mariadb: Engine, mariadb_server: MariaDBServer,
                                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    creds = tmp_path / "db_creds.yml"
    creds.write_text(yaml.safe_dump({
        "RDS_HOST": mariadb_server.host, "RDS_PASSWORD": mariadb_server.password,
        "RDS_USER": mariadb_server.user, "RDS_DATABASE": mariadb_server.database, "RDS_PORT": mariadb_server.port,
    }))
    url = load_settings(creds_file=creds, environ={}).database_url
    assert ensure_seeded(url) is False
    engine = make_engine(url)
    assert fetch_rows(engine, "user_data", [17, 3]) == fetch_rows(seeded_mariadb, "user_data", [17, 3])
    engine.dispose()
    assert cli_main(["seed", "--rows", str(ROWS), "--creds-file", str(creds), "--no-progress"]) == 0
    summary = capsys.readouterr().out
    assert f"seeded {ROWS} rows per table into mysql+pymysql://{mariadb_server.user}:***@" in summary
    assert mariadb_server.password not in summary
    assert cli_main(["count", "--creds-file", str(creds)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{table}: {ROWS}" for table in TABLES]
