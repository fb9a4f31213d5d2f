"""A stack's rotations from the day it is deployed: Secrets Manager's configuration test on the
template's placeholders, the first rotation from the placeholder, a second one, then staged values
that no retry can make acceptable, each of which must leave no AWSPENDING behind (Secrets Manager
refuses every later RotateSecret while one is left: issue 12).

Everything runs through the real handler, moto modelled on real Secrets Manager (conftest) and the
sandbox over HTTP, which answers ``GET /api/v1/accounts/region`` with the body Customer.io
documents (shared/CUSTOMERIO.md)."""

from __future__ import annotations

import json

import httpx
import pytest

from cio_security.errors import RotationError

from .conftest import (
    CURRENT,
    OTHER_REGION,
    OTHER_WORKSPACE,
    PENDING,
    PLACEHOLDERS,
    SIGNING_CURRENT,
    SIGNING_NEW,
    WORKSPACE,
    RotationStack,
    signing_json,
    track_json,
)

SET_A = CURRENT  # workspace WORKSPACE
SET_B = PENDING  # another credential set of the same workspace
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def region_calls(stack: RotationStack) -> list[str | None]:
    return [r.site_id for r in stack.sandbox.requests() if r.operation == "region"]


def rotate(stack: RotationStack, kind: str, value: str, token: str | None = None) -> str:
    """Stage ``value``, start a rotation (unless ``token`` was started already) and run the four
    steps; returns the new version id."""
    stack.stage(kind, value)
    token = token or stack.begin(kind)
    outcomes = [stack.invoke(kind, token, step)["outcome"] for step in STEPS]
    assert outcomes == ["completed"] * 4
    assert stack.version_with(kind, "AWSCURRENT") == token
    assert stack.pending_left(kind) == []
    return token


def refused(
    stack: RotationStack, kind: str, staged: str | None, reason: str, token: str | None = None
) -> str:
    """Stage ``staged`` (None: leave the staging secret alone), start a rotation (unless
    ``token`` was started already), run the steps until one refuses; returns its version id."""
    if staged is not None:
        stack.stage(kind, staged)
    token = token or stack.begin(kind)
    failure: RotationError | None = None
    for step in STEPS:
        try:
            stack.invoke(kind, token, step)
        except RotationError as exc:
            failure = exc
            break
    assert failure is not None, "the rotation was not refused"
    assert reason in str(failure)
    assert "AWSPENDING was removed from version" in str(failure)
    assert stack.version_with(kind, "AWSCURRENT") != token
    return token


def assert_nothing_left_behind(stack: RotationStack, kind: str, token: str, current: str) -> str:
    """The refused version carries no label, AWSCURRENT is unchanged, and Secrets Manager accepts
    a new rotation; returns that rotation's version id."""
    assert "AWSPENDING" not in stack.stages(kind).get(token, [])
    assert stack.pending_left(kind) == []
    assert stack.version_with(kind, "AWSCURRENT") == current
    return stack.begin(kind)  # RotateSecret raises "A previous rotation isn't complete" otherwise


def test_the_sandbox_answers_the_region_call_with_the_documented_body(rotation: RotationStack) -> None:
    """Journeys Track API, GET /api/v1/accounts/region: {"url", "region", "environment_id"}."""
    url = f"{rotation.sandbox.url}/api/v1/accounts/region"
    us = httpx.get(url, auth=(SET_A.site_id, SET_A.api_key)).json()
    assert us == {"url": "https://track.customer.io", "region": "us", "environment_id": WORKSPACE}
    assert type(us["environment_id"]) is int
    eu = httpx.get(url, auth=(OTHER_REGION.site_id, OTHER_REGION.api_key)).json()
    assert eu == {
        "url": "https://track-eu.customer.io",
        "region": "eu",
        "environment_id": OTHER_REGION.environment_id,
    }


def test_track_credentials_from_the_placeholder_through_two_rotations(fresh_stack: RotationStack) -> None:
    stack = fresh_stack
    placeholder = stack.version_with("track", "AWSCURRENT")
    assert placeholder
    # the deploy: creating the RotationSchedule runs testSecret once, on a copy of the placeholder
    assert stack.configuration_test("track", pending="copy")["outcome"] == "unchanged"
    assert stack.version_with("track", "AWSCURRENT") == placeholder

    # the first rotation: nothing to compare with, so only set A's own region is checked
    first = rotate(stack, "track", track_json(SET_A))
    assert json.loads(stack.value("track")) == json.loads(track_json(SET_A))
    assert stack.stages("track")[placeholder] == ["AWSPREVIOUS"]
    assert region_calls(stack) == [SET_A.site_id]

    # the second: set B must answer in set A's region and workspace
    stack.sandbox.clear_requests()
    second = rotate(stack, "track", track_json(SET_B))
    assert json.loads(stack.value("track")) == json.loads(track_json(SET_B))
    assert stack.stages("track")[first] == ["AWSPREVIOUS"]
    assert region_calls(stack) == [SET_B.site_id, SET_A.site_id]
    assert stack.current_works()

    # a set of another workspace is refused, and the refused rotation leaves nothing behind
    token = refused(stack, "track", track_json(OTHER_WORKSPACE), "belong to another workspace")
    assert_nothing_left_behind(stack, "track", token, second)


def test_the_scheduled_rotation_with_nothing_staged_leaves_nothing_behind(fresh_stack: RotationStack) -> None:
    """How the rotation period is enforced: the scheduled rotation fails (RotationFailed alarm)
    when nothing new is staged, and the next one can still start."""
    stack = fresh_stack
    rotate(stack, "track", track_json(SET_A))
    current = stack.version_with("track", "AWSCURRENT")
    assert current
    token = refused(stack, "track", None, "nothing is staged")
    started = assert_nothing_left_behind(stack, "track", token, current)
    rotate(stack, "track", track_json(SET_B), token=started)


def test_signing_key_from_the_placeholder_through_two_rotations(fresh_stack: RotationStack) -> None:
    stack = fresh_stack
    placeholder = stack.version_with("signing_key", "AWSCURRENT")
    assert placeholder
    assert stack.configuration_test("signing_key", pending="copy")["outcome"] == "unchanged"

    first = rotate(stack, "signing_key", signing_json(SIGNING_CURRENT))
    assert json.loads(stack.value("signing_key")) == {"signing_key": SIGNING_CURRENT}
    assert stack.stages("signing_key")[placeholder] == ["AWSPREVIOUS"]
    second = rotate(stack, "signing_key", signing_json(SIGNING_NEW))
    assert json.loads(stack.value("signing_key")) == {"signing_key": SIGNING_NEW}
    assert stack.stages("signing_key")[first] == ["AWSPREVIOUS"]

    started: str | None = None
    for staged, reason in [
        (signing_json(SIGNING_NEW), "is the current value"),
        (signing_json("too-short"), "invalid fields: signing_key"),
        ("{}", "nothing is staged"),
    ]:
        token = refused(stack, "signing_key", staged, reason, token=started)
        started = assert_nothing_left_behind(stack, "signing_key", token, second)
    assert not [r for r in stack.sandbox.requests() if r.operation == "region"]


@pytest.mark.parametrize("pending", ["empty", "copy"])
@pytest.mark.parametrize("kind", ["track", "signing_key"])
def test_the_configuration_test_passes_on_the_templates_placeholders(
    fresh_stack: RotationStack, kind: str, pending: str
) -> None:
    """Creating the RotationSchedule (RotateImmediatelyOnUpdate false) runs testSecret on an
    AWSPENDING version AWS does not describe: empty, or a copy of the placeholder. Either way it
    passes, promotes nothing and calls nobody; a failure would roll the first deploy back."""
    stack = fresh_stack
    placeholder = stack.version_with(kind, "AWSCURRENT")
    result = stack.configuration_test(kind, pending=pending)
    assert result == {"step": "testSecret", "outcome": "unchanged", "kind": kind}
    assert stack.version_with(kind, "AWSCURRENT") == placeholder
    assert stack.value(kind) == PLACEHOLDERS[kind]
    assert stack.pending_left(kind) == []
    assert not stack.sandbox.requests()


@pytest.mark.parametrize("pending", ["empty", "copy"])
@pytest.mark.parametrize("kind", ["track", "signing_key"])
def test_the_configuration_test_passes_on_a_real_current_value(
    rotation: RotationStack, kind: str, pending: str
) -> None:
    """The same test when the schedule is created (or replaced by a stack update) after real
    values were rotated in."""
    current = rotation.version_with(kind, "AWSCURRENT")
    before = rotation.value(kind)
    result = rotation.configuration_test(kind, pending=pending)
    assert result["outcome"] == "unchanged"
    assert rotation.version_with(kind, "AWSCURRENT") == current
    assert rotation.value(kind) == before
    assert not rotation.sandbox.requests()
