"""How the suite runs, as a pytest plugin: no skips under CI, and ``--reverse`` to show order independence.

- Under ``CI=true`` (or ``1``/``yes``) a skipped test fails: a test that cannot run there (no broker jars, no
  MariaDB, no Airflow) must be fixed on the CI side, not pass unnoticed. Collection-time skips fail too.
- ``pytest --reverse`` runs the collected tests in the opposite order: a test that needs another one to run
  first, or that breaks a shared fixture for those after it, fails one way or the other.
"""
from __future__ import annotations

import os
from typing import Iterator

import pytest
from pytest import CollectReport, TestReport

TRUE_VALUES = ("1", "true", "yes")


def skips_forbidden() -> bool:
    """True when the environment says this is a CI run (``CI=true``, as most CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in TRUE_VALUES


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reverse", action="store_true", default=False,
                     help="run the collected tests in reverse order (shows tests depending on their order)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reverse"):
        items.reverse()


def _fail_skip(report: TestReport | CollectReport) -> None:
    """Turn a skip report into a failure that says why."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI, where no test may skip: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: TestReport = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and skips_forbidden():
        _fail_skip(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report: CollectReport = outcome.get_result()
    if report.skipped and skips_forbidden():
        _fail_skip(report)
