"""The demos' console: stage lines on the terminal, everything else (Python, native code, child processes,
logging, warnings) in the log file, and an error in full with the log's path. Each case runs in a child process
so that its file descriptors 1 and 2 are real ones, not pytest's capture."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from pinterest_pipeline.demo.console import duration, names_in_brief, per_topic

NOISY_BODY = """
    console.title("a demo")
    console.stage("source", "11 rows")
    print("python print")
    os.write(2, b"native stderr\\n")
    subprocess.run([sys.executable, "-c", "import sys; print('child out'); print('child err', file=sys.stderr)"])
    logging.getLogger("uvicorn.error").warning("library warning")
    warnings.warn("library deprecation")
    console.detail("a detail")
"""


def run_console(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Run ``body`` inside a Console whose log folder is ``tmp_path``; the result and the log file."""
    script = textwrap.dedent("""
        import logging, os, subprocess, sys, warnings
        from pinterest_pipeline.demo.console import Console

        with Console("test", sys.argv[1], bars=False) as console:
            try:
        {body}
            except Exception as error:
                console.failed(error)
                raise SystemExit(1)
            console.finished()
        print("after the console")
    """).format(body=textwrap.indent(textwrap.dedent(body), " " * 8))
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONWARNINGS": "default"})
    logs = list(tmp_path.glob("test-*.log"))
    assert len(logs) == 1, done.stderr
    return done, logs[0]


def test_the_terminal_shows_only_the_demos_lines(tmp_path: Path) -> None:
    done, log = run_console(tmp_path, NOISY_BODY)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[:4] == ["a demo", f"(other programs' output: {log})", " 1. source    11 rows",
                         "              a detail"]
    assert lines[4].startswith("done in ") and lines[4].endswith(f"other programs' output: {log}")
    assert lines[5:] == ["after the console"]


def test_everything_else_goes_to_the_log(tmp_path: Path) -> None:
    done, log = run_console(tmp_path, NOISY_BODY)
    text = log.read_text()
    for noise in ("python print", "native stderr", "child out", "child err", "library warning",
                  "library deprecation"):
        assert noise in text and noise not in done.stdout + done.stderr
    assert " 1. source    11 rows" in text  # the story, too


def test_an_error_surfaces_in_full_with_the_logs_path(tmp_path: Path) -> None:
    body = """
        console.stage("source", "11 rows")
        print("noise before the failure")
        def deep() -> None:
            raise RuntimeError("the gateway did not start")
        deep()
    """
    done, log = run_console(tmp_path, body)
    assert done.returncode == 1
    assert "Traceback (most recent call last):" in done.stderr and "in deep" in done.stderr
    assert "RuntimeError: the gateway did not start" in done.stderr
    assert done.stderr.rstrip().endswith(str(log))
    assert "noise before the failure" not in done.stdout + done.stderr
    assert "RuntimeError: the gateway did not start" in log.read_text()


def test_figures_read_briefly() -> None:
    assert duration(42.34) == "42.3 s" and duration(192.0) == "3 min 12 s"
    assert per_topic({"pin": 3000, "geo": 3000, "user": 3000}) == "3,000 each"
    assert per_topic({"pin": 3000, "geo": 2998, "user": 3000}) == "pin 3,000, geo 2,998, user 3,000"
    assert names_in_brief(["p.pin", "p.geo", "p.user"]) == "p.pin|geo|user" and names_in_brief(["one"]) == "one"
