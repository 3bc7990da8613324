"""The one line a first run prints about the jars it fetched."""
from __future__ import annotations

from pathlib import Path

from pinterest_pipeline.demo.jars import Fetched, ivy_jar_folders, jars_in


def test_a_first_run_tells_how_many_jars_how_big_and_where(tmp_path: Path) -> None:
    jars = tmp_path / ".ivy2.5.2" / "jars"
    jars.mkdir(parents=True)
    (jars / "already-there.jar").write_bytes(b"x" * 10)
    before = jars_in(ivy_jar_folders(tmp_path))
    (jars / "io.delta_delta-spark_2.13-4.4.0.jar").write_bytes(b"x" * 1_500_000)
    (jars / "org.slf4j_slf4j-api-2.0.13.jar").write_bytes(b"x" * 600_000)
    (jars / "notes.txt").write_text("not a jar")
    fetched = Fetched.between(before, jars_in(ivy_jar_folders(tmp_path)))
    assert fetched.line("Delta Lake") == (
        f"first run: fetched Delta Lake (2 jars, 2.1 MB) from Maven Central, cached in {jars}")


def test_a_later_run_fetches_nothing(tmp_path: Path) -> None:
    jars = tmp_path / ".ivy2" / "jars"
    jars.mkdir(parents=True)
    (jars / "a.jar").write_bytes(b"x")
    before = jars_in(ivy_jar_folders(tmp_path))
    assert not Fetched.between(before, jars_in(ivy_jar_folders(tmp_path)))
    assert ivy_jar_folders(tmp_path / "no-home") == []
