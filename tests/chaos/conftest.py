"""Chaos suites (marker ``chaos``): their counts are printed in the terminal summary, so
``make chaos`` shows them without ``-s``.

A test records its counts with the ``chaos_report`` fixture: ``chaos_report("title", {...})``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

_REPORTS = pytest.StashKey[list[tuple[str, dict[str, Any]]]]()

ChaosReport = Callable[[str, dict[str, Any]], None]


@pytest.fixture
def chaos_report(request: pytest.FixtureRequest) -> ChaosReport:
    """Record a titled table of counts for the terminal summary."""
    reports = request.config.stash.setdefault(_REPORTS, [])

    def record(title: str, counts: dict[str, Any]) -> None:
        reports.append((title, dict(counts)))

    return record


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for title, counts in config.stash.get(_REPORTS, []):
        terminalreporter.section(title)
        width = max((len(key) for key in counts), default=0)
        for key, value in counts.items():
            terminalreporter.line(f"{key:<{width}}  {value}")
