"""An independent answer to docs/data-contract.md §3–§5 with DuckDB SQL over the same lake files.

Written from the contract, not from the Spark code: lines are read as bytes, decoded where they are UTF-8,
and judged with DuckDB's JSON functions (which accept ``NaN`` and ``Infinity``, so those are looked for apart,
outside string literals), cleansing is plain SQL, one row per ``ind`` is a window over the rows in column order,
and each "top per group" is a max-then-min query rather than a window ranking. Used by the end-to-end tests and
by ``bench/bench_batch.py``.
"""
from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pinterest_pipeline.contract import MAX_RECORD_BYTES

INT_TYPES = "('BIGINT', 'UBIGINT')"
NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"

MACROS = """
CREATE OR REPLACE MACRO blank_to_null(x) AS CASE WHEN trim(x) = '' THEN NULL ELSE x END;
CREATE OR REPLACE MACRO drop_values(x, bad) AS CASE WHEN list_contains(bad, x) THEN NULL ELSE blank_to_null(x) END;
CREATE OR REPLACE MACRO typed_or_absent(line, path, types) AS coalesce(json_type(line, path), 'NULL') IN types;
CREATE OR REPLACE MACRO followers(x) AS CASE
    WHEN regexp_full_match(trim(x), '[0-9]+(\\.[0-9]+)?\\s*[kKmM]?') THEN CAST(round(
        CAST(regexp_extract(trim(x), '^[0-9.]+') AS DECIMAL(24, 6))
        * CASE lower(right(trim(x), 1)) WHEN 'k' THEN 1000 WHEN 'm' THEN 1000000 ELSE 1 END) AS BIGINT)
    END;
CREATE OR REPLACE MACRO age_group(age) AS CASE
    WHEN age BETWEEN 18 AND 24 THEN '18-24' WHEN age BETWEEN 25 AND 35 THEN '25-35'
    WHEN age BETWEEN 36 AND 50 THEN '36-50' WHEN age > 50 THEN '+50' END;
"""

#: Lines of one topic's objects: the bytes of each (a blob's text form escapes every byte that is not printable
#: ASCII, a newline as the four characters \x0A, so splitting it there and casting back gives the exact bytes;
#: the newline ending an object ends its last line), and the text of those that are UTF-8 (NULL otherwise).
LINES = r"""
CREATE TABLE {kind}_lines AS
WITH split AS (SELECT CAST(unnest(string_split(regexp_replace(CAST(content AS VARCHAR), '\\x0A$', ''), '\x0A'))
                      AS BLOB) AS raw FROM read_blob('{files}'))
SELECT raw, try(decode(raw)) AS line FROM split"""

#: Strict JSON: an object, no ``NaN`` / ``Infinity`` (any case) outside string literals, not over the size limit.
GOOD_LINE = rf"""octet_length(raw) <= {MAX_RECORD_BYTES} AND json_valid(line) AND json_type(line) = 'OBJECT'
  AND NOT regexp_matches(regexp_replace(line, '"([^"\\]|\\.)*"', '', 'g'), '(?i)nan|inf')"""
FINITE_OR_ABSENT = "coalesce(isfinite(TRY_CAST(line->>'{path}' AS DOUBLE)), true)"

CLEANSING = f"""
CREATE TABLE pin_good AS SELECT * FROM pin_lines
WHERE {GOOD_LINE} AND json_type(line, '$.index') IN {INT_TYPES}
  AND typed_or_absent(line, '$.downloaded', {INT_TYPES});
CREATE TABLE geo_good AS SELECT * FROM geo_lines
WHERE {GOOD_LINE} AND json_type(line, '$.ind') IN {INT_TYPES}
  AND typed_or_absent(line, '$.latitude', {NUMBER_TYPES}) AND typed_or_absent(line, '$.longitude', {NUMBER_TYPES})
  AND {FINITE_OR_ABSENT.format(path="$.latitude")} AND {FINITE_OR_ABSENT.format(path="$.longitude")};
CREATE TABLE user_good AS SELECT * FROM user_lines
WHERE {GOOD_LINE} AND json_type(line, '$.ind') IN {INT_TYPES} AND typed_or_absent(line, '$.age', {INT_TYPES});

CREATE TABLE pin_rows AS SELECT
    CAST(line->>'$.index' AS BIGINT) AS ind,
    blank_to_null(line->>'$.unique_id') AS unique_id,
    drop_values(line->>'$.title', ['No Title Data Available']) AS title,
    drop_values(line->>'$.description',
        ['No description available Story format', 'No description available', 'Untitled']) AS description,
    followers(line->>'$.follower_count') AS follower_count,
    drop_values(line->>'$.poster_name', ['User Info Error']) AS poster_name,
    drop_values(line->>'$.tag_list', ['N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e']) AS tag_list,
    blank_to_null(line->>'$.is_image_or_video') AS is_image_or_video,
    drop_values(line->>'$.image_src', ['Image src error.']) AS image_src,
    regexp_replace(blank_to_null(line->>'$.save_location'), '^Local save in ', '') AS save_location,
    blank_to_null(line->>'$.category') AS category
FROM pin_good;
CREATE TABLE geo_rows AS SELECT
    CAST(line->>'$.ind' AS BIGINT) AS ind,
    blank_to_null(line->>'$.country') AS country,
    [CAST(line->>'$.latitude' AS DOUBLE), CAST(line->>'$.longitude' AS DOUBLE)] AS coordinates,
    try_strptime(line->>'$.timestamp', '%Y-%m-%d %H:%M:%S') AS timestamp
FROM geo_good;
CREATE TABLE users_rows AS SELECT
    CAST(line->>'$.ind' AS BIGINT) AS ind,
    nullif(concat_ws(' ', blank_to_null(line->>'$.first_name'), blank_to_null(line->>'$.last_name')), '') AS user_name,
    CAST(line->>'$.age' AS BIGINT) AS age,
    try_strptime(line->>'$.date_joined', '%Y-%m-%d %H:%M:%S') AS date_joined
FROM user_good;
"""

#: Columns of each cleaned table, in order (§5).
CLEAN_COLUMNS = {
    "pin": ("ind", "unique_id", "title", "description", "follower_count", "poster_name", "tag_list",
            "is_image_or_video", "image_src", "save_location", "category"),
    "geo": ("ind", "country", "coordinates", "timestamp"),
    "users": ("ind", "user_name", "age", "date_joined"),
}


def one_row_per_ind(table: str) -> str:
    """Keep, per ``ind``, the least of its cleaned rows compared column by column in order, NULL first: the rule
    that makes the kept row independent of which repeat came first (the batch job's documented choice)."""
    order = ", ".join(f"{column} ASC NULLS FIRST" for column in CLEAN_COLUMNS[table][1:])
    return (f"CREATE TABLE {table} AS SELECT * FROM {table}_rows "
            f"QUALIFY row_number() OVER (PARTITION BY ind ORDER BY {order}) = 1;")


def _most_popular_category(source: str, group: str) -> str:
    return f"""
    WITH counts AS (SELECT {group}, category, count(*) AS n FROM ({source})
                    WHERE {group} IS NOT NULL AND category IS NOT NULL GROUP BY ALL),
         best AS (SELECT {group}, max(n) AS n FROM counts GROUP BY ALL)
    SELECT c.{group}, min(c.category) AS category, c.n AS category_count
    FROM counts c JOIN best b ON c.{group} = b.{group} AND c.n = b.n
    GROUP BY c.{group}, c.n ORDER BY c.{group}"""


PIN_GEO = "SELECT *, year(timestamp) AS post_year FROM pin JOIN geo USING (ind)"
PIN_USER = "SELECT *, age_group(age) AS age_group, year(date_joined) AS post_year FROM pin JOIN users USING (ind)"
TOP_USERS = """
    WITH known AS (SELECT country, poster_name, follower_count FROM pin JOIN geo USING (ind)
                   WHERE country IS NOT NULL AND poster_name IS NOT NULL AND follower_count IS NOT NULL),
         best AS (SELECT country, max(follower_count) AS follower_count FROM known GROUP BY country)
    SELECT k.country, min(k.poster_name) AS poster_name, b.follower_count
    FROM known k JOIN best b USING (country) WHERE k.follower_count = b.follower_count
    GROUP BY k.country, b.follower_count ORDER BY k.country"""

INSIGHT_SQL = {
    "insight_1_popular_category_by_country": _most_popular_category(PIN_GEO, "country"),
    "insight_2_popular_category_by_year": _most_popular_category(
        f"{PIN_GEO} WHERE year(timestamp) BETWEEN 2018 AND 2022", "post_year"),
    "insight_3a_top_user_by_country": TOP_USERS,
    "insight_3b_top_country_by_followers":
        f"SELECT country, follower_count FROM ({TOP_USERS}) ORDER BY follower_count DESC, country LIMIT 1",
    "insight_4_popular_category_by_age_group": _most_popular_category(PIN_USER, "age_group"),
    "insight_5_median_followers_by_age_group": f"""
        SELECT age_group, median(follower_count) AS median_follower_count FROM ({PIN_USER})
        WHERE age_group IS NOT NULL AND follower_count IS NOT NULL GROUP BY age_group ORDER BY age_group""",
    "insight_6_users_joined_by_year": """
        SELECT year(date_joined) AS post_year, count(*) AS number_users_joined FROM users
        WHERE year(date_joined) BETWEEN 2015 AND 2020 GROUP BY ALL ORDER BY post_year""",
    "insight_7_median_followers_by_join_year": f"""
        SELECT post_year, median(follower_count) AS median_follower_count FROM ({PIN_USER})
        WHERE post_year BETWEEN 2015 AND 2020 AND follower_count IS NOT NULL GROUP BY ALL ORDER BY post_year""",
    "insight_8_median_followers_by_age_group_and_join_year": f"""
        SELECT age_group, post_year, median(follower_count) AS median_follower_count FROM ({PIN_USER})
        WHERE post_year BETWEEN 2015 AND 2020 AND follower_count IS NOT NULL AND age_group IS NOT NULL
        GROUP BY ALL ORDER BY age_group, post_year""",
}


class DuckDBReference:
    """The lake of one prefix loaded into an in-memory DuckDB, cleaned, ready to answer §6."""

    def __init__(self, lake_root: Path, prefix: str, threads: int | None = None) -> None:
        self.con = duckdb.connect()
        if threads:
            self.con.execute(f"SET threads = {threads}")
        self.con.execute(MACROS)
        for kind in ("pin", "geo", "user"):
            files = f"{lake_root}/topics/{prefix}.{kind}/partition=*/*.json"
            self.con.execute(LINES.format(kind=kind, files=files))
        self.con.execute(CLEANSING)
        for table in CLEAN_COLUMNS:
            self.con.execute(one_row_per_ind(table))

    def differing_repeats(self, kind: str) -> int:
        """How many ``ind`` of ``kind`` have cleaned records that differ (so that the rule above chooses)."""
        table = "users" if kind == "user" else kind
        return self.con.execute(f"""SELECT count(*) FROM (SELECT ind FROM (SELECT DISTINCT * FROM {table}_rows)
                                    GROUP BY ind HAVING count(*) > 1)""").fetchone()[0]

    def rejected_lines(self, kind: str) -> list[bytes]:
        """Lines of ``kind`` (their bytes) that are not a usable record."""
        return [r[0] for r in self.con.execute(
            f"SELECT raw FROM {kind}_lines EXCEPT ALL SELECT raw FROM {kind}_good").fetchall()]

    def table(self, kind: str) -> pd.DataFrame:
        """The cleaned table of ``kind`` (``pin``, ``geo`` or ``user``)."""
        return self.con.execute(f"SELECT * FROM {'users' if kind == 'user' else kind} ORDER BY ind").df()

    def insight(self, name: str) -> pd.DataFrame:
        """One insight of §6, by its Delta table name."""
        return self.con.execute(INSIGHT_SQL[name]).df()

    def insights(self) -> dict[str, pd.DataFrame]:
        """Every insight, by table name."""
        return {name: self.insight(name) for name in INSIGHT_SQL}


def comparable_rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain Python values (ints, floats rounded to 6 places, None, tuples for arrays), so that
    frames from different engines compare equal when their values are."""
    def plain(value: object) -> object:
        if isinstance(value, (list, tuple, np.ndarray)):
            return tuple(plain(v) for v in value)
        if value is None or value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, (float, np.floating)):
            return None if math.isnan(value) else round(float(value), 6)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
        return value
    return [tuple(plain(v) for v in row) for row in frame.astype(object).itertuples(index=False)]
