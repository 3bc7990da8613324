"""The data contract shared by every leg: table columns, topic and stream names (CONVENTIONS §3–§5)."""
from __future__ import annotations

DEFAULT_PREFIX = "124a514b9149"

#: Source tables and their columns, in the original order.
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "pinterest_data": (
        "index", "unique_id", "title", "description", "poster_name", "follower_count",
        "tag_list", "is_image_or_video", "image_src", "downloaded", "save_location", "category",
    ),
    "geolocation_data": ("ind", "timestamp", "latitude", "longitude", "country"),
    "user_data": ("ind", "first_name", "last_name", "age", "date_joined"),
}

#: Short name of each leg ("pin", "geo", "user") → its source table.
SOURCE_TABLE_BY_KIND: dict[str, str] = {
    "pin": "pinterest_data",
    "geo": "geolocation_data",
    "user": "user_data",
}
KINDS: tuple[str, ...] = tuple(SOURCE_TABLE_BY_KIND)

#: Placeholder values the source uses instead of NULL.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "follower_count": ("User Info Error",),
    "poster_name": ("User Info Error",),
    "title": ("No Title Data Available",),
    "description": ("No description available Story format", "No description available", "Untitled"),
    "tag_list": ("N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",),
    "image_src": ("Image src error.",),
}


def topic_name(prefix: str, kind: str) -> str:
    """Kafka topic of one leg, e.g. ``124a514b9149.pin``."""
    return f"{prefix}.{kind}"


def stream_name(prefix: str, kind: str) -> str:
    """Kinesis stream of one leg, e.g. ``streaming-124a514b9149-pin``."""
    return f"streaming-{prefix}-{kind}"
