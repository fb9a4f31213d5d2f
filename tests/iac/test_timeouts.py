"""template.yaml's function timeouts against the retry policies' worst cases (issue 11).

A function's Timeout must exceed the longest its Customer.io calls can take, the one request a
401 adds with re-read credentials included (``RetryPolicy.worst_case``); the deletion queue's
visibility timeout must stay at least six times the deletion Timeout plus the batching window.
The figures the template's comments and the README state are checked too: a stated worst case
that drifted from the code is how the 401 refresh request went uncounted (86 s claimed, 100 s
real, against a 90 s Timeout).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cio_security import config
from cio_security.customerio.retry import ROTATION_TEST
from cio_security.deletion.settings import DeletionSettings
from cio_security.rotation.kinds import PEER_LOOKUP_BUDGET_SECONDS
from ciosec.emulator.template import Resolver
from fixtures.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_TEXT = (ROOT / "template.yaml").read_text(encoding="utf-8")
README_TEXT = (ROOT / "README.md").read_text(encoding="utf-8")
TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]

TEST_SECRET_TRACK_CALLS = 2
"""testSecret's Customer.io calls for Track credentials (``rotation.kinds``, ``verify_pending``):
``GET /api/v1/accounts/region`` with the pending credentials, then with the current ones."""
VISIBILITY_PER_TIMEOUT = 6
"""AWS: an SQS event source's queue visibility timeout is at least six times the function's
Timeout (plus the batching window), so a throttled batch can be retried before it reappears."""


def function_timeout(logical_id: str) -> int:
    """A function's Timeout, its own or the template's Globals one."""
    own = RESOURCES[logical_id]["Properties"].get("Timeout")
    return int(own if own is not None else TEMPLATE["Globals"]["Function"]["Timeout"])


def function_environment(logical_id: str) -> dict[str, str]:
    """A function's environment variables (Globals merged) as the stack sets them: parameters at
    their defaults, a resource's ``!Ref`` as its logical id."""
    resolver = Resolver("cio-security-test")
    resolver.refs.update({lid: lid for lid in RESOURCES})
    variables = {
        **TEMPLATE["Globals"]["Function"].get("Environment", {}).get("Variables", {}),
        **RESOURCES[logical_id]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    return {
        name: str(resolver.resolve(value, where=f"{logical_id} environment {name}"))
        for name, value in variables.items()
    }


def comment_above(logical_id: str, key: str) -> str:
    """The comment lines right above ``key:`` in a resource's block of template.yaml."""
    block = re.search(rf"^  {logical_id}:\n(.*?)(?=^  \S|\Z)", TEMPLATE_TEXT, flags=re.MULTILINE | re.DOTALL)
    assert block is not None, logical_id
    lines = block.group(1).splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:"))
    comment: list[str] = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("#"):
            break
        comment.insert(0, line.strip().lstrip("#").strip())
    return " ".join(comment)


def seconds(value: float) -> str:
    """How the template and the README write a figure: ``100 s``."""
    return f"{value:g} s"


@pytest.fixture
def deletion_settings(monkeypatch: pytest.MonkeyPatch) -> DeletionSettings:
    """DeletionSettings read from the deletion function's environment in template.yaml alone."""
    for name in (value for key, value in vars(config).items() if key == value):
        monkeypatch.delenv(name, raising=False)
    for name, value in function_environment("GdprDeletionFunction").items():
        monkeypatch.setenv(name, value)
    return DeletionSettings.from_env()


def test_deletion_timeout_exceeds_an_invocation_at_its_worst(deletion_settings: DeletionSettings) -> None:
    assert deletion_settings.invocation_worst_case_seconds < function_timeout("GdprDeletionFunction")


def test_rotation_timeout_exceeds_test_secret_at_its_worst() -> None:
    # Its own region calls, then the other workspaces' (started within the peer budget, one attempt
    # of ROTATION_TEST's timeouts each), with room left for the Secrets Manager reads.
    one_attempt = (ROTATION_TEST.timeout.connect or 0) + (ROTATION_TEST.timeout.read or 0)
    worst = TEST_SECRET_TRACK_CALLS * ROTATION_TEST.worst_case() + PEER_LOOKUP_BUDGET_SECONDS + one_attempt
    assert worst + 30 <= function_timeout("RotationFunction")


def test_deletion_queue_visibility_covers_six_timeouts_and_the_batching_window() -> None:
    event = next(
        e["Properties"]
        for e in RESOURCES["GdprDeletionFunction"]["Properties"]["Events"].values()
        if e["Type"] == "SQS"
    )
    window = event.get("MaximumBatchingWindowInSeconds", 0)
    if isinstance(window, dict):  # a parameter: its largest allowed value
        window = TEMPLATE["Parameters"][window["Ref"]]["MaxValue"]
    window = int(window)
    visibility = int(RESOURCES["DeletionQueue"]["Properties"]["VisibilityTimeout"])
    assert visibility >= VISIBILITY_PER_TIMEOUT * function_timeout("GdprDeletionFunction") + window


def test_the_template_states_the_worst_cases_and_the_ratio(deletion_settings: DeletionSettings) -> None:
    deletion = comment_above("GdprDeletionFunction", "Timeout")
    assert seconds(deletion_settings.retry.worst_case()) in deletion
    assert seconds(deletion_settings.invocation_worst_case_seconds) in deletion
    rotation = comment_above("RotationFunction", "Timeout")
    assert seconds(ROTATION_TEST.worst_case()) in rotation
    assert seconds(TEST_SECRET_TRACK_CALLS * ROTATION_TEST.worst_case()) in rotation
    visibility = comment_above("DeletionQueue", "VisibilityTimeout")
    assert f"{VISIBILITY_PER_TIMEOUT}x" in visibility
    assert "batching window" in visibility
    assert f"x {function_timeout('GdprDeletionFunction')} +" in visibility


def test_the_readme_states_the_deletion_time_budget(deletion_settings: DeletionSettings) -> None:
    budget = README_TEXT[README_TEXT.index("**Time budget.**") :].split("\n\n", 1)[0]
    budget = " ".join(budget.split())
    assert seconds(deletion_settings.retry.worst_case()) in budget
    assert f"at most {seconds(deletion_settings.invocation_worst_case_seconds)}" in budget
    assert f"{seconds(function_timeout('GdprDeletionFunction'))} Timeout" in budget
    visibility = RESOURCES["DeletionQueue"]["Properties"]["VisibilityTimeout"]
    assert seconds(int(visibility)) in budget
