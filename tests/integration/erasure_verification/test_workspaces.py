"""Erasure verification per Customer.io workspace (issue #15), through the real deletion and
verification handlers: ``prod-us`` on the ``sandbox`` fixture's server and ``prod-eu`` on its own
EU server, each with its own App API key. Each workspace's erasure is checked with that workspace's
key and recorded on its own; the request is completed once every workspace is, and ``unverified``
only because of the workspace that could not be proved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ciosec.sandbox import Sandbox
from fixtures.workspaces_sandboxes import (
    EU,
    US,
    create_workspace_secrets,
    eu_sandbox_server,
    workspaces_environment,
)

from .conftest import VerificationStack


@pytest.fixture
def eu_sandbox() -> Iterator[Sandbox]:
    with eu_sandbox_server() as server:
        yield server


def serve_two_workspaces(
    stack: VerificationStack, eu: Sandbox, monkeypatch: pytest.MonkeyPatch, *, eu_app_key: bool = True
) -> None:
    workspaces_environment(monkeypatch, stack.sandbox, eu)
    create_workspace_secrets(stack.secretsmanager, app_key=eu_app_key)


def app_lookups(sandbox: Sandbox) -> list[str]:
    return [r.operation for r in sandbox.requests() if r.operation in {"app_people", "app_person"}]


def seed(stack: VerificationStack, eu: Sandbox, identifier: str) -> None:
    stack.sandbox.add_person(identifier)
    eu.add_person(identifier)


def test_one_workspace_verified_and_one_still_present_is_unverified_for_that_one_alone(
    stack: VerificationStack, eu_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_two_workspaces(stack, eu_sandbox, monkeypatch)
    stack.sandbox.configure(processing_delay=0.5)
    eu_sandbox.configure(processing_delay=3600.0)  # the EU App API never catches up in this test
    seed(stack, eu_sandbox, "vw-user-1")
    stack.erase(("dsar-vw-1", "vw-user-1"))
    record = stack.audit("dsar-vw-1")
    assert (record.status, record.verification) == ("submitted", "pending")
    assert {name: s.verification for name, s in record.workspaces.items()} == {US: "pending", EU: "pending"}

    stack.verify_until(lambda: stack.audit("dsar-vw-1").status != "submitted")
    record = stack.audit("dsar-vw-1")
    assert (record.status, record.verification, record.last_error) == (
        "unverified",
        "unverified",
        "still_present",
    )
    us, eu = record.workspaces[US], record.workspaces[EU]
    assert (us.status, us.verification) == ("completed", "verified")
    assert us.verified_at is not None
    assert (eu.status, eu.verification, eu.last_error) == ("unverified", "unverified", "still_present")
    assert eu.verified_at is None
    assert eu.verification_checks >= 2  # checked again until the window ended
    assert record.verification_checks == us.verification_checks + eu.verification_checks
    # Each workspace was asked through its own region's App API, with its own key.
    assert app_lookups(stack.sandbox)
    assert len(app_lookups(eu_sandbox)) == eu.verification_checks


def test_the_request_is_verified_once_every_workspace_is(
    stack: VerificationStack, eu_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_two_workspaces(stack, eu_sandbox, monkeypatch)
    eu_sandbox.configure(processing_delay=1.5)  # EU proves it later than US
    seed(stack, eu_sandbox, "vw-user-2")
    stack.erase(("dsar-vw-2", "vw-user-2"))
    stack.verify_until(lambda: stack.audit("dsar-vw-2").status != "submitted")
    record = stack.audit("dsar-vw-2")
    assert (record.status, record.verification) == ("completed", "verified")
    assert {s.verification for s in record.workspaces.values()} == {"verified"}
    verified = [s.verified_at for s in record.workspaces.values()]
    assert record.verified_at == max(v for v in verified if v)
    assert record.completed_at == record.verified_at


def test_a_workspace_without_an_app_api_key_is_not_verified_and_the_other_is(
    stack: VerificationStack, eu_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_two_workspaces(stack, eu_sandbox, monkeypatch, eu_app_key=False)  # the template's placeholder
    seed(stack, eu_sandbox, "vw-user-3")
    stack.erase(("dsar-vw-3", "vw-user-3"))
    record = stack.audit("dsar-vw-3")
    assert (record.workspaces[EU].status, record.workspaces[EU].verification) == ("completed", "not_verified")
    assert record.workspaces[US].verification == "pending"
    stack.verify_until(lambda: stack.audit("dsar-vw-3").status != "submitted")
    record = stack.audit("dsar-vw-3")
    # Completed, but not every workspace's erasure is proved: the request is not_verified.
    assert (record.status, record.verification) == ("completed", "not_verified")
    assert record.workspaces[US].verification == "verified"
    assert app_lookups(eu_sandbox) == []  # nothing asks a workspace without a key
