"""Where lake objects live: a local folder (atomic, fsync'd writes) or an fsspec URL such as ``s3://bucket/prefix``."""
from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Protocol
from urllib.parse import urlsplit

#: Environment variables naming an S3 endpoint (a local moto server, MinIO...), most specific first.
S3_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


class ObjectStore(Protocol):
    """Whole objects addressed by keys relative to the lake root (``topics/<topic>/...``)."""

    def put(self, key: str, data: bytes) -> None:
        """Write one object at once: a reader sees either nothing or all of it."""

    def get(self, key: str) -> bytes:
        """The bytes of one object."""

    def list_names(self, folder: str) -> list[str]:
        """Names of the objects directly under ``folder`` (a key prefix ending with ``/``); [] when none."""

    def remove_incomplete(self, folder: str, name_prefix: str) -> int:
        """Remove what puts of objects named ``name_prefix…`` under ``folder`` left when they were killed;
        the number removed."""


def is_url(root: str) -> bool:
    """True for ``scheme://...`` roots other than ``file://``."""
    scheme = urlsplit(root).scheme
    return len(scheme) > 1 and scheme != "file"


def fsync_dir(path: Path) -> None:
    """Make the entries of a folder (new or renamed files) durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_dirs(path: Path) -> None:
    """``mkdir -p`` that also makes each created folder's entry durable."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        fsync_dir(folder.parent)


class LocalObjectStore:
    """A lake in a local folder. Objects are written to a hidden temporary file, fsync'd, then renamed."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(str(root).removeprefix("file://"))

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def put(self, key: str, data: bytes) -> None:
        target = self.root / key
        make_dirs(target.parent)
        # Hidden name: Spark and Hadoop skip files starting with "." while the object is incomplete.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def remove_incomplete(self, folder: str, name_prefix: str) -> int:
        """Delete the hidden temporaries of puts killed before their rename."""
        leftovers = list((self.root / folder).glob(f".{glob.escape(name_prefix)}*.tmp"))
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        return len(leftovers)

    def list_names(self, folder: str) -> list[str]:
        path = self.root / folder
        if not path.is_dir():
            return []
        return sorted(entry.name for entry in os.scandir(path) if entry.is_file() and not entry.name.startswith("."))


class FsspecObjectStore:
    """A lake behind any fsspec file system (``s3://`` through s3fs); each object is a single PUT."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.fs, self.base = fsspec.core.url_to_fs(self.url, **dict(storage_options or {}))
        self.base = self.base.rstrip("/")

    def __repr__(self) -> str:
        return f"FsspecObjectStore({self.url!r})"

    def _path(self, key: str) -> str:
        return f"{self.base}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(key), data)

    def get(self, key: str) -> bytes:
        return self.fs.cat_file(self._path(key))

    def remove_incomplete(self, folder: str, name_prefix: str) -> int:
        """Nothing to do: an object store's put is atomic."""
        return 0

    def list_names(self, folder: str) -> list[str]:
        path = self._path(folder).rstrip("/")
        self.fs.invalidate_cache(path)
        try:
            entries = self.fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        names = (entry["name"].rstrip("/").rsplit("/", 1)[-1] for entry in entries if entry["type"] == "file")
        return sorted(name for name in names if not name.startswith("."))


def s3_endpoint(endpoint_url: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The S3 endpoint to use: ``endpoint_url``, else the AWS environment's (:data:`S3_ENDPOINT_VARIABLES`), else
    None (AWS's own)."""
    environ = os.environ if environ is None else environ
    return endpoint_url or next((environ[v] for v in S3_ENDPOINT_VARIABLES if environ.get(v)), None)


def storage_options_for(
    root: str,
    endpoint_url: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """fsspec options for ``root``: for ``s3://`` an endpoint from the argument, else the AWS environment."""
    options = dict(storage_options or {})
    if urlsplit(root).scheme in ("s3", "s3a") and "endpoint_url" not in options:
        endpoint = s3_endpoint(endpoint_url, environ)
        if endpoint:
            options["endpoint_url"] = endpoint
    return options


def open_store(
    root: str | Path,
    endpoint_url: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ObjectStore:
    """The store for a lake root: a local folder, or an fsspec URL (``s3://bucket/prefix``)."""
    root = str(root)
    if is_url(root):
        return FsspecObjectStore(root, storage_options_for(root, endpoint_url, storage_options))
    return LocalObjectStore(root)
