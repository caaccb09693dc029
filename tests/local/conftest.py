"""Fixtures for the local Step Functions engine tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdk_mlops.local.engine import LocalEngine

#: Coverage reports of tests/local/test_coverage.py, printed in the terminal summary (CI logs show it).
_COVERAGE_REPORTS: list[str] = []


@pytest.fixture
def coverage_reports() -> list[str]:
    """Where a test puts a state machine coverage report for the terminal summary."""
    return _COVERAGE_REPORTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Prints the state machine coverage reports collected during the run."""
    if not _COVERAGE_REPORTS:
        return
    terminalreporter.write_sep("=", "state machine coverage (tests/local/test_coverage.py)")
    for report in _COVERAGE_REPORTS:
        terminalreporter.write_line(report)


@pytest.fixture
def engine() -> Iterator[LocalEngine]:
    """A running LocalEngine with fresh moto state; stopped after the test."""
    with LocalEngine() as running:
        yield running
