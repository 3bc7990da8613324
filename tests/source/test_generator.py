"""The synthetic source rows: determinism, chunk independence, columns, dirty values and value ranges."""
from __future__ import annotations

import re
import statistics
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from pinterest_pipeline.contract import SOURCE_COLUMNS
from pinterest_pipeline.source.generator import BLOCK_SIZE, generate_rows
from pinterest_pipeline.source.vocabulary import format_follower_count

# The contract's facts (CONVENTIONS §3), written out here rather than taken from the generator.
CATEGORIES = {"art", "beauty", "christmas", "diy-and-crafts", "education", "event-planning", "finance", "home-decor",
              "mens-fashion", "quotes", "tattoos", "travel", "vehicles"}
MEDIA_TYPES = {"image", "video", "multi-video(story page format)"}
#: Every dirty value of each pin column: its placeholders, and the empty string.
DIRTY_VALUES = {
    "follower_count": ("User Info Error", ""),
    "poster_name": ("User Info Error", ""),
    "title": ("No Title Data Available", ""),
    "description": ("No description available Story format", "No description available", "Untitled", ""),
    "tag_list": ("N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e", ""),
    "image_src": ("Image src error.", ""),
}
#: The shapes of a readable follower count: ``452``, ``5k`` / ``12k``, ``3.2k``, ``1M`` / ``2.5M``.
FOLLOWER_COUNT_SHAPES = {
    "digits": re.compile(r"[0-9]+"),
    "thousands": re.compile(r"[0-9]+k"),
    "decimal thousands": re.compile(r"[0-9]+\.[0-9]+k"),
    "millions": re.compile(r"[0-9]+(\.[0-9]+)?M"),
}

SAMPLE = 5000
Rows = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def sample() -> Rows:
    return generate_rows(0, SAMPLE, seed=100)


def test_same_seed_same_rows_other_seed_other_rows(sample: Rows) -> None:
    assert generate_rows(0, SAMPLE, seed=100) == sample
    other = generate_rows(0, SAMPLE, seed=101)
    for table in SOURCE_COLUMNS:
        differing = sum(a != b for a, b in zip(sample[table], other[table]))
        assert differing > SAMPLE * 0.9, table


@pytest.mark.parametrize("cuts", [
    (0, 7, BLOCK_SIZE, BLOCK_SIZE + 1, 2 * BLOCK_SIZE + 333, SAMPLE),
    (0, 1, 2, 4999, SAMPLE),
    (0, 2500, SAMPLE),
])
def test_row_is_the_same_whatever_the_chunking(sample: Rows, cuts: tuple[int, ...]) -> None:
    pieces: Rows = {table: [] for table in SOURCE_COLUMNS}
    for start, end in zip(cuts, cuts[1:]):
        for table, rows in generate_rows(start, end - start, seed=100).items():
            pieces[table].extend(rows)
    assert pieces == sample


def test_single_row_far_away_matches_its_block() -> None:
    far = 1_234_567
    alone = generate_rows(far, 1)
    within = generate_rows(far - 10, 20)
    for table in SOURCE_COLUMNS:
        assert alone[table] == [within[table][10]]


def test_exact_columns_order_and_indices() -> None:
    rows = generate_rows(995, 10)
    for table, columns in SOURCE_COLUMNS.items():
        assert [tuple(row) for row in rows[table]] == [columns] * 10
        assert [row[columns[0]] for row in rows[table]] == list(range(995, 1005))
    assert generate_rows(3, 0) == {table: [] for table in SOURCE_COLUMNS}


@pytest.mark.parametrize("start,count,seed", [(-1, 5, 100), (0, -5, 100), (0, 5, -1)])
def test_invalid_arguments_are_rejected(start: int, count: int, seed: int) -> None:
    with pytest.raises(ValueError):
        generate_rows(start, count, seed)


def test_every_dirty_value_is_present_at_a_realistic_rate(sample: Rows) -> None:
    for column, values in DIRTY_VALUES.items():
        counts = Counter(row[column] for row in sample["pinterest_data"])
        for value in values:
            assert 0 < counts[value] < SAMPLE * 0.1, (column, value, counts[value])


def test_follower_count_takes_every_shape(sample: Rows) -> None:
    readable = [row["follower_count"] for row in sample["pinterest_data"]
                if row["follower_count"] not in DIRTY_VALUES["follower_count"]]
    for shape, pattern in FOLLOWER_COUNT_SHAPES.items():
        assert any(pattern.fullmatch(value) for value in readable), shape
    unmatched = [v for v in readable if not any(p.fullmatch(v) for p in FOLLOWER_COUNT_SHAPES.values())]
    assert unmatched == []


@pytest.mark.parametrize("followers,shown", [
    (0, "0"), (452, "452"), (999, "999"), (1_000, "1k"), (3_240, "3.2k"), (5_000, "5k"), (2_900, "2.9k"),
    (12_345, "12k"), (999_999, "999k"), (1_000_000, "1M"), (2_560_000, "2.5M"), (15_000_000, "15M"),
])
def test_format_follower_count(followers: int, shown: str) -> None:
    assert format_follower_count(followers) == shown


def test_pin_columns(sample: Rows) -> None:
    pins = sample["pinterest_data"]
    assert {row["category"] for row in pins} == CATEGORIES
    assert {row["is_image_or_video"] for row in pins} == MEDIA_TYPES
    assert all(row["save_location"] == f"Local save in /data/{row['category']}" for row in pins)
    assert {row["downloaded"] for row in pins} == {0, 1}
    ids = [uuid.UUID(row["unique_id"]) for row in pins]
    assert len(set(ids)) == SAMPLE and {i.version for i in ids} == {4}
    assert all(row["downloaded"] == 0 for row in pins if row["image_src"] == "Image src error.")


def test_geo_columns(sample: Rows) -> None:
    geos = sample["geolocation_data"]
    assert {row["timestamp"].year for row in geos} == set(range(2015, 2023))  # 2015–2022
    assert all(-90 <= row["latitude"] <= 90 and -180 <= row["longitude"] <= 180 for row in geos)
    assert all(isinstance(row["latitude"], float) and isinstance(row["longitude"], float) for row in geos)
    assert len({row["country"] for row in geos}) >= 150


def test_user_columns(sample: Rows) -> None:
    users = sample["user_data"]
    ages = [row["age"] for row in users]
    assert 18 <= min(ages) and max(ages) <= 100
    assert statistics.median(ages) < 35, "ages should skew young"
    assert sum(age > 50 for age in ages) > SAMPLE * 0.01, "some users are over 50"
    assert {row["date_joined"].year for row in users} == {2015, 2016, 2017}
    assert all(row["first_name"] and row["last_name"] for row in users)


def test_datetimes_are_naive_and_whole_seconds(sample: Rows) -> None:
    stamps = [row["timestamp"] for row in sample["geolocation_data"]]
    stamps += [row["date_joined"] for row in sample["user_data"]]
    assert all(type(s) is datetime and s.tzinfo is None and s.microsecond == 0 for s in stamps)
