"""The suite's own run rules (``tests.support.run_rules``): no skip passes under CI, ``--reverse`` reverses."""
from __future__ import annotations

import re

import pytest

from tests.support import REPO_ROOT

SKIPPING = """
import re

import pytest

@pytest.fixture
def server():
    pytest.skip("server binary not found")

def test_needs_a_server(server):
    pass

@pytest.mark.skip(reason="not yet")
def test_marked():
    pass

def test_runs():
    pass

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_known_bug():
    assert False
"""

ORDER = """
def test_first():
    print("RAN first")

def test_second():
    print("RAN second")
"""


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str, *args: str,
        ci: str | None) -> pytest.RunResult:
    """Run ``source`` as a test file in a child pytest with the rules plugin loaded."""
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    pytester.makepyfile(test_sample=source)
    return pytester.runpytest_subprocess("-p", "tests.support.run_rules", "-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_skips_are_skips(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                    ci: str | None) -> None:
    result = run(pytester, monkeypatch, SKIPPING, ci=ci)
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_every_skip_fails_the_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                           ci: str) -> None:
    result = run(pytester, monkeypatch, SKIPPING, ci=ci)
    result.assert_outcomes(passed=1, errors=2, xfailed=1)  # skips happen at set-up: they become set-up errors
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skipped under CI, where no test may skip: *server binary not found*",
                                 "*skipped under CI, where no test may skip: *not yet*"])


def test_under_ci_a_module_level_skip_fails_too(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    source = 'import pytest\npytest.skip("no driver", allow_module_level=True)\n\ndef test_x():\n    pass\n'
    result = run(pytester, monkeypatch, source, ci="true")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*skipped under CI, where no test may skip: *no driver*"])


@pytest.mark.parametrize("args,order", [((), ["first", "second"]), (("--reverse",), ["second", "first"])])
def test_reverse_runs_the_tests_backwards(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                          args: tuple[str, ...], order: list[str]) -> None:
    result = run(pytester, monkeypatch, ORDER, "-s", *args, ci=None)
    result.assert_outcomes(passed=2)
    assert re.findall(r"RAN (\w+)", result.stdout.str()) == order
