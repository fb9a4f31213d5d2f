"""WorkspaceKeyRing and the webhook's key rings per workspace (issue #15): which workspace's key
verified a request, in which order keys are tried, and what an unreadable workspace does."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cio_security.errors import SecretError
from cio_security.secrets.store import SecretStore
from cio_security.webhook.keys import key_ring_for
from cio_security.webhook.signature import (
    SigningKeyRing,
    SigningKeysUnavailableError,
    WorkspaceKeyRing,
    compute_signature,
)
from cio_security.workspaces import workspaces_from_env

BODY = b'{"event_id":"01J00000000000000000000000"}'
TS = "1700000000"


def signed(key: bytes, body: bytes = BODY) -> bytes:
    return bytes.fromhex(compute_signature(key, TS, body))


class Loader:
    """A key loader that counts its reads; ``fail`` makes it raise SecretError."""

    def __init__(self, *keys: bytes, fail: bool = False) -> None:
        self.keys = list(keys)
        self.fail = fail
        self.reads = 0

    def __call__(self, refresh: bool) -> Sequence[bytes]:
        self.reads += 1
        if self.fail:
            raise SecretError("secret x (AWSCURRENT) could not be read")
        return self.keys


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ring(loaders: dict[str, Loader], clock: Clock | None = None, refresh: float = 5) -> WorkspaceKeyRing:
    tick = clock or Clock()
    return WorkspaceKeyRing(
        [
            SigningKeyRing(load, refresh_interval=refresh, clock=tick, workspace=n)
            for n, load in loaders.items()
        ],
        clock=tick,
    )


def test_the_first_workspace_whose_key_matches_wins_and_later_ones_are_not_read() -> None:
    a, b, c = Loader(b"a" * 32), Loader(b"b" * 32, b"b2" * 16), Loader(b"c" * 32)
    keys = ring({"a": a, "b": b, "c": c})
    assert keys.match(TS, signed(b"b2" * 16), BODY) == "b"  # beta's pending key
    assert (a.reads, b.reads, c.reads) == (1, 1, 0)
    assert keys.match(TS, signed(b"a" * 32), BODY) == "a"
    assert keys.workspaces == ("a", "b", "c")


def test_a_miss_rereads_each_workspace_at_most_once_per_interval() -> None:
    clock = Clock()
    a, b = Loader(b"a" * 32), Loader(b"b" * 32)
    keys = ring({"a": a, "b": b}, clock)
    assert keys.match(TS, signed(b"x" * 32), BODY) is None
    assert (a.reads, b.reads) == (1, 1)  # loaded, not re-read inside the interval
    b.keys.append(b"rotated-in" * 4)
    clock.now += 5
    assert keys.match(TS, signed(b"rotated-in" * 4), BODY) == "b"
    assert (a.reads, b.reads) == (2, 2)


def test_an_unreadable_workspace_is_skipped_but_a_miss_is_unavailable() -> None:
    clock = Clock()
    a, broken, c = Loader(b"a" * 32), Loader(fail=True), Loader(b"c" * 32)
    keys = ring({"a": a, "broken": broken, "c": c}, clock)
    assert keys.match(TS, signed(b"c" * 32), BODY) == "c"
    with pytest.raises(SigningKeysUnavailableError, match="broken"):
        keys.match(TS, signed(b"x" * 32), BODY)
    assert broken.reads == 1  # a broken secret is not read again on every request
    broken.fail, broken.keys = False, [b"fixed-key" * 4]
    clock.now += 5
    assert keys.match(TS, signed(b"fixed-key" * 4), BODY) == "broken"


def test_a_workspace_without_a_usable_key_matches_nothing() -> None:
    keys = ring({"a": Loader(b"a" * 32), "new": Loader()})
    assert keys.match(TS, signed(b"x" * 32), BODY) is None


def test_one_workspace_keeps_the_ring_it_always_had() -> None:
    store = SecretStore(client=object(), max_age=120)  # type: ignore[arg-type]  # never called here
    one = workspaces_from_env({"SIGNING_KEY_SECRET_ID": "s/webhook-signing-key"})
    built = key_ring_for(store, one, grace_seconds=0, refresh_interval=5)
    assert isinstance(built, SigningKeyRing) and built.workspace == "default"
    assert built.max_age == 120  # keys are read again as often as the secrets cache expires
    several = workspaces_from_env(
        {
            "CUSTOMERIO_WORKSPACES": "us,eu",
            "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": "s/",
            "SIGNING_KEY_SECRET_ID": "s/webhook-signing-key",
        }
    )
    built = key_ring_for(store, several, grace_seconds=0, refresh_interval=5)
    assert isinstance(built, WorkspaceKeyRing) and built.workspaces == ("us", "eu")
    assert [ring.max_age for ring in built.rings] == [120, 120]


KEY = st.binary(min_size=32, max_size=40)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    keys=st.lists(st.lists(KEY, min_size=0, max_size=3), min_size=1, max_size=5).filter(
        lambda sets: len({k for s in sets for k in s}) == sum(len(s) for s in sets)
    ),
    body=st.binary(max_size=200),
    data=st.data(),
)
def test_the_tag_is_the_workspace_that_signed(
    keys: list[list[bytes]], body: bytes, data: st.DataObject
) -> None:
    """For any workspaces with distinct keys and any key of theirs signing any body, the ring
    names the workspace holding that key; a key of none of them matches nothing."""
    loaders = {f"w{i}": Loader(*ks) for i, ks in enumerate(keys)}
    candidates = [(name, k) for name, load in loaders.items() for k in load.keys]
    keys_ring = ring(loaders)
    if candidates:
        owner, key = data.draw(st.sampled_from(candidates))
        assert keys_ring.match(TS, signed(key, body), body) == owner
    outsider = data.draw(KEY.filter(lambda k: all(k != c for _, c in candidates)))
    assert keys_ring.match(TS, signed(outsider, body), body) is None
