"""SnapStart hooks (the WebhookSnapStart parameter): registered through Lambda's
``snapshot_restore_py`` when the runtime provides it; ``prime`` reads no secret and opens no
connection; ``after_restore`` drops what a snapshot must not carry into many environments."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

import pytest

from fixtures.functions import load_function

from .conftest import WebhookStack, sample_event


@pytest.fixture
def restore_library(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Callable[[], None]]]:
    """A stand-in for the Snapshot Restore for Python library of Lambda's Python runtimes."""
    hooks: dict[str, list[Callable[[], None]]] = {"before": [], "after": []}
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = hooks["before"].append  # type: ignore[attr-defined]
    module.register_after_restore = hooks["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    return hooks


def test_without_the_runtime_library_nothing_is_registered(webhook: WebhookStack) -> None:
    assert "snapshot_restore_py" not in sys.modules  # the webhook fixture's module loaded fine


def test_hooks_are_registered_when_the_runtime_provides_the_library(
    webhook: WebhookStack, restore_library: dict[str, list[Callable[[], None]]]
) -> None:
    app = load_function("webhook")
    assert [h.__name__ for h in restore_library["before"]] == ["prime"]
    assert [h.__name__ for h in restore_library["after"]] == ["after_restore"]
    assert app.prime is restore_library["before"][0]


def test_prime_reads_no_secret_and_a_restored_environment_answers(
    webhook: WebhookStack,
    restore_library: dict[str, list[Callable[[], None]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = load_function("webhook")
    reads: list[str] = []
    real = app.aws_client

    def counting(service: str) -> object:
        client = real(service)
        if service == "secretsmanager":
            client.meta.events.register("before-call.*.*", lambda **kw: reads.append(kw["model"].name))
        return client

    monkeypatch.setattr(app, "aws_client", counting)
    for hook in restore_library["before"]:
        hook()  # before the snapshot
    assert reads == []  # nothing secret is frozen into a snapshot
    primed = app.processor()
    for hook in restore_library["after"]:
        hook()  # in each restored environment
    assert app.processor() is not primed  # the key ring and secrets cache start empty
    webhook.app = app
    assert webhook.send(sample_event("01JSNAPAAAAAAAAAAAAAAAAAAA"))["statusCode"] == 200
    assert "GetSecretValue" in reads
