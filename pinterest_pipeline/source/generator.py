"""Deterministic synthetic rows for the three source tables, dirty values included (docs/data-contract.md §1).

Rows are generated in fixed blocks of ``BLOCK_SIZE`` indices, each block from its own random stream
``(seed, block)``, so row ``i`` is the same whatever ``start``/``count`` it is asked for with.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import numpy as np

from pinterest_pipeline.contract import PLACEHOLDERS, SAVE_LOCATION_PREFIX, SOURCE_COLUMNS
from pinterest_pipeline.source.vocabulary import (
    ADJECTIVES,
    AUDIENCES,
    CATEGORIES,
    CATEGORY_KEYWORDS,
    CATEGORY_WEIGHTS,
    Vocabulary,
    build_vocabulary,
)

BLOCK_SIZE = 1_000

MEDIA_TYPES: tuple[str, ...] = ("image", "video", "multi-video(story page format)")
MEDIA_WEIGHTS: tuple[float, ...] = (0.82, 0.12, 0.06)

#: Probability of each dirty value, per row.
DIRTY_RATES: dict[str, float] = {
    "user_info_error": 0.03,  # poster_name and follower_count both "User Info Error"
    "empty_poster_name": 0.005,
    "empty_follower_count": 0.004,
    "title_placeholder": 0.025,
    "empty_title": 0.005,
    "story_description": 0.85,  # of story-format pins
    "no_description": 0.025,
    "untitled_description": 0.012,
    "empty_description": 0.005,
    "tag_placeholder": 0.03,
    "empty_tag_list": 0.005,
    "image_src_error": 0.02,
    "empty_image_src": 0.004,
    "not_downloaded": 0.01,
}

TIMESTAMP_RANGE = (datetime(2015, 1, 1), datetime(2022, 12, 31, 23, 59, 59))
DATE_JOINED_RANGE = (datetime(2015, 1, 1), datetime(2017, 12, 31, 23, 59, 59))
AGE_RANGE = (18, 100)

_TITLE_TEMPLATES = (
    "{number} {adjective} {keyword} Ideas",
    "{adjective} {keyword} for {audience}",
    "How to Make {adjective} {keyword}",
    "{keyword}: {word1} {word2}",
    "The Best {keyword} {word1} {word2}",
    "{word1} {word2} {keyword}",
)
_CATEGORY_P = np.asarray(CATEGORY_WEIGHTS) / sum(CATEGORY_WEIGHTS)
_MEDIA_P = np.asarray(MEDIA_WEIGHTS)
_STORY = MEDIA_TYPES.index("multi-video(story page format)")
_STORY_FORMAT, _NO_DESCRIPTION, _UNTITLED = PLACEHOLDERS["description"]
#: (cumulative probability, value) of the non-story description placeholders.
_DESCRIPTION_DIRT = tuple(zip(
    np.cumsum([DIRTY_RATES[k] for k in ("no_description", "untitled_description", "empty_description")]).tolist(),
    (_NO_DESCRIPTION, _UNTITLED, ""),
))


def _title(vocab: Vocabulary, category: int, draw: list[int], u: float) -> str:
    """A pin title from a template and the category's keywords, or a dirty value when ``u`` is small."""
    if u < DIRTY_RATES["title_placeholder"]:
        return PLACEHOLDERS["title"][0]
    if u < DIRTY_RATES["title_placeholder"] + DIRTY_RATES["empty_title"]:
        return ""
    keywords = CATEGORY_KEYWORDS[CATEGORIES[category]]
    return _TITLE_TEMPLATES[draw[0] % len(_TITLE_TEMPLATES)].format(
        number=5 + draw[1] % 46, adjective=ADJECTIVES[draw[2] % len(ADJECTIVES)],
        keyword=keywords[draw[3] % len(keywords)], audience=AUDIENCES[draw[4] % len(AUDIENCES)],
        word1=vocab.words[draw[5] % len(vocab.words)], word2=vocab.words[draw[6] % len(vocab.words)],
    )


def _description(vocab: Vocabulary, story: bool, draw: list[int], u: float) -> str:
    """One to three sentences; story pins mostly carry the story-format placeholder instead."""
    if story and u < DIRTY_RATES["story_description"]:
        return _STORY_FORMAT
    for threshold, value in _DESCRIPTION_DIRT:
        if u < threshold:
            return value
    sentences = 1 + draw[0] % 3
    return " ".join(vocab.sentences[i % len(vocab.sentences)] for i in draw[1:1 + sentences])


def _tag_list(vocab: Vocabulary, category: int, draw: list[int], u: float) -> str:
    """Three to eight distinct tags of the category, comma-separated, or a dirty value."""
    if u < DIRTY_RATES["tag_placeholder"]:
        return PLACEHOLDERS["tag_list"][0]
    if u < DIRTY_RATES["tag_placeholder"] + DIRTY_RATES["empty_tag_list"]:
        return ""
    tags = vocab.category_tags[category]
    count = 3 + draw[0] % 6
    return ",".join(dict.fromkeys(tags[i % len(tags)] for i in draw[1:1 + count]))


def _pin_columns(vocab: Vocabulary, rng: np.random.Generator, indices: list[int]) -> dict[str, list[Any]]:
    """Columns of ``pinterest_data`` for one block."""
    n = len(indices)
    categories = rng.choice(len(CATEGORIES), size=n, p=_CATEGORY_P)
    media = rng.choice(len(MEDIA_TYPES), size=n, p=_MEDIA_P)
    posters = rng.choice(len(vocab.posters), size=n, p=vocab.poster_weights)
    uuid_bytes = rng.bytes(16 * n)
    image_hex = rng.bytes(16 * n).hex()
    draws = rng.integers(0, 1 << 30, size=(n, 3, 10)).tolist()
    u = rng.random((n, 7))
    category_list, media_list = categories.tolist(), media.tolist()

    user_error = u[:, 0] < DIRTY_RATES["user_info_error"]
    poster_names = [vocab.posters[p] for p in posters]
    follower_counts = [vocab.poster_followers[p] for p in posters]
    for i in np.flatnonzero(user_error):
        poster_names[i] = PLACEHOLDERS["poster_name"][0]
        follower_counts[i] = PLACEHOLDERS["follower_count"][0]
    empty_poster = u[:, 0] - DIRTY_RATES["user_info_error"]
    for i in np.flatnonzero((empty_poster >= 0) & (empty_poster < DIRTY_RATES["empty_poster_name"])):
        poster_names[i] = ""
    for i in np.flatnonzero(u[:, 5] < DIRTY_RATES["empty_follower_count"]):
        follower_counts[i] = ""

    image_error = u[:, 3] < DIRTY_RATES["image_src_error"]
    empty_image = (~image_error) & (u[:, 3] < DIRTY_RATES["image_src_error"] + DIRTY_RATES["empty_image_src"])
    image_src = [f"https://i.pinimg.com/originals/{h[:2]}/{h[2:4]}/{h[4:6]}/{h}.jpg"
                 for h in (image_hex[32 * i:32 * i + 32] for i in range(n))]
    for i in np.flatnonzero(image_error):
        image_src[i] = PLACEHOLDERS["image_src"][0]
    for i in np.flatnonzero(empty_image):
        image_src[i] = ""
    not_downloaded = image_error | (u[:, 6] < DIRTY_RATES["not_downloaded"])

    return {
        "index": indices,
        "unique_id": [str(uuid.UUID(bytes=uuid_bytes[16 * i:16 * i + 16], version=4)) for i in range(n)],
        "title": [_title(vocab, c, d[0], x) for c, d, x in zip(category_list, draws, u[:, 1].tolist())],
        "description": [_description(vocab, m == _STORY, d[1], x)
                        for m, d, x in zip(media_list, draws, u[:, 2].tolist())],
        "poster_name": poster_names,
        "follower_count": follower_counts,
        "tag_list": [_tag_list(vocab, c, d[2], x) for c, d, x in zip(category_list, draws, u[:, 4].tolist())],
        "is_image_or_video": [MEDIA_TYPES[m] for m in media_list],
        "image_src": image_src,
        "downloaded": (~not_downloaded).astype(int).tolist(),
        "save_location": [f"{SAVE_LOCATION_PREFIX}/data/{CATEGORIES[c]}" for c in category_list],
        "category": [CATEGORIES[c] for c in category_list],
    }


def _datetimes(rng: np.random.Generator, bounds: tuple[datetime, datetime], n: int, skew: float) -> list[datetime]:
    """``n`` second-precision datetimes within ``bounds``; ``skew`` > 1 favours later ones."""
    low, high = (np.datetime64(b, "s") for b in bounds)
    span = (high - low).astype(np.int64)
    offsets = (rng.beta(skew, 1.0, size=n) * span).astype(np.int64)
    return (low + offsets.astype("timedelta64[s]")).tolist()


def _geo_columns(vocab: Vocabulary, rng: np.random.Generator, indices: list[int]) -> dict[str, list[Any]]:
    """Columns of ``geolocation_data`` for one block."""
    n = len(indices)
    return {
        "ind": indices,
        "timestamp": _datetimes(rng, TIMESTAMP_RANGE, n, skew=1.3),
        "latitude": np.round(rng.uniform(-90.0, 90.0, size=n), 6).tolist(),
        "longitude": np.round(rng.uniform(-180.0, 180.0, size=n), 6).tolist(),
        "country": [vocab.countries[c] for c in rng.choice(len(vocab.countries), size=n, p=vocab.country_weights)],
    }


def _user_columns(vocab: Vocabulary, rng: np.random.Generator, indices: list[int]) -> dict[str, list[Any]]:
    """Columns of ``user_data`` for one block; ages skew young (mean about 32)."""
    n = len(indices)
    low_age, high_age = AGE_RANGE
    return {
        "ind": indices,
        "first_name": [vocab.first_names[i] for i in rng.integers(0, len(vocab.first_names), size=n)],
        "last_name": [vocab.last_names[i] for i in rng.integers(0, len(vocab.last_names), size=n)],
        "age": np.minimum(low_age + rng.gamma(2.0, 7.0, size=n).astype(int), high_age).tolist(),
        "date_joined": _datetimes(rng, DATE_JOINED_RANGE, n, skew=1.0),
    }


_BUILDERS = {"pinterest_data": _pin_columns, "geolocation_data": _geo_columns, "user_data": _user_columns}


def _block_columns(vocab: Vocabulary, seed: int, block: int) -> dict[str, dict[str, list[Any]]]:
    """All three tables' columns for indices ``block*BLOCK_SIZE`` .. ``(block+1)*BLOCK_SIZE - 1``."""
    indices = list(range(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE))
    streams = np.random.SeedSequence([seed, block]).spawn(len(_BUILDERS))
    return {table: build(vocab, np.random.default_rng(stream), indices)
            for (table, build), stream in zip(_BUILDERS.items(), streams)}


def generate_rows(start: int, count: int, seed: int = 100) -> dict[str, list[dict[str, Any]]]:
    """Rows ``start`` .. ``start+count-1`` of each source table, keyed by table name, columns in order."""
    if start < 0 or count < 0 or seed < 0:
        raise ValueError(f"start, count and seed must be >= 0 (got {start}, {count}, {seed})")
    vocab = build_vocabulary(seed)
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in SOURCE_COLUMNS}
    end = start + count
    for block in range(start // BLOCK_SIZE, (end + BLOCK_SIZE - 1) // BLOCK_SIZE):
        low = max(start - block * BLOCK_SIZE, 0)
        high = min(end - block * BLOCK_SIZE, BLOCK_SIZE)
        for table, columns in _block_columns(vocab, seed, block).items():
            names = SOURCE_COLUMNS[table]
            values = zip(*(columns[name][low:high] for name in names))
            rows[table].extend(dict(zip(names, row)) for row in values)
    return rows

