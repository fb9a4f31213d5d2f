"""The kinds of secret the rotation knows, one object per kind, holding everything that differs.

A kind holds its pydantic model, the JSON shape the operator must stage, how a value is parsed
and compared with another, how testSecret proves a pending value, and what the operator may do
once the new value is AWSCURRENT. The four steps ask the target's kind and never branch on it;
a new kind is one more subclass and one more entry in ``SECRET_KINDS``.

>>> kind = secret_kind("signing_key")
>>> kind.model.__name__
'SigningKey'
>>> kind.staging_instructions("stack/webhook-signing-key")  # doctest: +NORMALIZE_WHITESPACE
'write {"signing_key": "..."} (32 to 512 printable ASCII characters, no whitespace) to secret
stack/webhook-signing-key/staged and rotate again'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, SecretStr

from cio_security import config
from cio_security.customerio.app_api import AppClient
from cio_security.customerio.track import RegionInfo, TrackClient
from cio_security.errors import (
    AuthenticationError,
    ConfigurationError,
    CustomerIOError,
    RotationError,
    TransientError,
)
from cio_security.rotation.failures import RetryableRotationError
from cio_security.rotation.staging import staging_secret_name
from cio_security.secrets.models import MIN_SIGNING_KEY_LENGTH, AppApiKey, SigningKey, TrackCredentials
from cio_security.secrets.store import parse_secret

if TYPE_CHECKING:
    from cio_security.rotation.isolation import WorkspacePeers
    from cio_security.rotation.settings import RotationSettings

__all__ = [
    "APP_API_KEY",
    "SECRET_KINDS",
    "SIGNING_KEY",
    "TRACK_CREDENTIALS",
    "AppApiKeyKind",
    "KindName",
    "RotatedValue",
    "SecretKind",
    "SigningKeyKind",
    "TrackCredentialsKind",
    "canonical_json",
    "forget_known_identities",
    "secret_kind",
]

KindName = Literal["track", "signing_key", "app_api_key"]
"""How configuration, results and logs name a kind."""
RotatedValue = TrackCredentials | SigningKey | AppApiKey
"""A value of one of the rotated secrets."""


def canonical_json(value: BaseModel) -> str:
    """The secret string stored for a model: compact, sorted keys, SecretStr unwrapped, optional
    fields left unset (None, such as a missing ``workspace`` label) left out, so a value staged
    without them is stored exactly as before they existed."""
    data = {
        key: item.get_secret_value() if isinstance(item, SecretStr) else item
        for key, item in value.model_dump(exclude_none=True).items()
    }
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


PEER_LOOKUP_BUDGET_SECONDS: Final = 12.0
"""How long testSecret may spend starting region calls for other workspaces' credentials. Each
is one attempt (``ROTATION_TEST``'s timeouts: at most 16 s), so the worst case of a Track test,
two calls of its own (29 s each) plus the other workspaces' (12 s, then one more call in flight),
stays inside the rotation function's 120 s Timeout; past it the step fails retryably and Secrets
Manager's retry goes on from what was learnt (answers are remembered)."""
_KNOWN_MAX: Final = 256
_known: dict[str, Any] = {}
_known_lock = threading.Lock()


def _fingerprint(value: BaseModel, where: object) -> str:
    """A one-way key for what Customer.io answered about ``value`` at ``where`` (a base URL
    override): the SHA-256 of both, so no value is held in the cache's keys."""
    return hashlib.sha256(f"{where!r}\x00{canonical_json(value)}".encode()).hexdigest()


def _remember(key: str, answer: Any) -> Any:
    """Keep an answer that never changes for a credential (its workspace, its account's
    workspaces); the cache is bounded and simply starts again when full."""
    with _known_lock:
        if len(_known) >= _KNOWN_MAX:
            _known.clear()
        _known[key] = answer
    return answer


def _recall(key: str) -> Any | None:
    with _known_lock:
        return _known.get(key)


def _one_attempt(settings: RotationSettings) -> RotationSettings:
    """``settings`` with one attempt per call: for the extra calls of the isolation checks,
    which must fit beside the step's own calls in the function's Timeout."""
    return dataclasses.replace(settings, retry=settings.retry.with_changes(max_attempts=1))


def forget_known_identities() -> None:
    """Empty the in-memory cache of credential identities (tests)."""
    with _known_lock:
        _known.clear()


class SecretKind[V: BaseModel](ABC):
    """A kind of rotated secret: its name, model and staged shape, and how its values are
    parsed, compared and tested. One instance per kind (see ``SECRET_KINDS``)."""

    name: KindName
    model: type[V]
    shape: str
    """The JSON the operator stages, without values (it appears in every staging instruction)."""
    after_promotion: str
    """What finishSecret tells the operator once the new value is AWSCURRENT."""

    def parse(self, raw: str | bytes | dict[str, Any], *, name: str) -> V:
        """Validate a value of this kind; SecretFormatError names the fields, never the value."""
        return parse_secret(self.model, raw, name=name)

    def same_value(self, a: V, b: V) -> bool:
        """True when two values are the same secret (by default: the same stored JSON)."""
        return canonical_json(a) == canonical_json(b)

    def staging_instructions(self, secret_name: str) -> str:
        """What the operator must do to rotate ``secret_name``: the shape to write and where."""
        return f"write {self.shape} to secret {staging_secret_name(secret_name)} and rotate again"

    @abstractmethod
    def verify_pending(
        self, pending: V, current: V | None, *, secret_name: str, settings: RotationSettings
    ) -> str:
        """testSecret's check of a pending value that differs from the current one.

        Args:
            pending: the AWSPENDING value.
            current: the AWSCURRENT value, or None when it is not a value of this kind (the
                template's placeholder before the first rotation).
            secret_name: the rotated secret's name, for messages.
            settings: how to reach Customer.io, for a kind that asks it.

        Returns the message of the completed step (never a secret value).

        Raises:
            RetryableRotationError: the check could not be made this time (Customer.io
                unavailable); Secrets Manager retries, nothing is promoted.
            RotationError: the pending value must never be promoted; the message says why and
                what to stage instead.
        """

    def verify_isolation(
        self, pending: V, peers: WorkspacePeers, *, secret_name: str, settings: RotationSettings
    ) -> str | None:
        """testSecret's check that a pending value belongs to its own workspace and to no other
        of the stack's (``isolation``), after ``verify_pending`` passed and after the protocol
        refused a value another workspace's secret holds (``isolation.check_distinct``).

        Returns a note for the step's message, or None when the kind has nothing more to check
        (the default: a signing key cannot be asked to whom it belongs).

        Raises:
            RetryableRotationError: the check could not be made this time.
            RotationError: the value belongs to another workspace (the message names both).
        """
        del pending, peers, secret_name, settings
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class TrackCredentialsKind(SecretKind[TrackCredentials]):
    """Track API credentials ``{"site_id", "api_key", "region"}``.

    Two sets are the same secret when the site id and API key are (whatever the declared
    region). A pending set must answer ``GET /api/v1/accounts/region`` with its declared
    ``region``, and with the ``region`` and ``environment_id`` (workspace) the current set's
    answer has (the body Customer.io documents: ``RegionInfo``).
    """

    name: KindName = "track"
    model = TrackCredentials
    shape = '{"site_id": "...", "api_key": "...", "region": "us|eu"}'
    after_promotion = (
        "the previous credential set may now be deleted in Customer.io, once the functions have "
        f"re-read the secret (after {config.SECRETS_CACHE_SECONDS}, or at their next 401)"
    )

    def same_value(self, a: TrackCredentials, b: TrackCredentials) -> bool:
        """True when both hold the same site id and API key (region aside)."""
        return a.same_as(b)

    def verify_pending(
        self,
        pending: TrackCredentials,
        current: TrackCredentials | None,
        *,
        secret_name: str,
        settings: RotationSettings,
    ) -> str:
        """The pending credentials answer 200 with ``region`` their declared region; then the
        current ones answer with the same ``region`` and ``environment_id``: a key of another
        workspace or region is refused. First rotation (``current`` is None, the template's
        placeholder): there is no workspace to compare with, so only the first check applies.

        The region call works on either regional host (Customer.io, "Find your account region":
        https://docs.customer.io/integrations/api/track/tag/trackregion/getRegion/), so a set
        that declares the wrong region still gets an answer, and is refused by it. The base URL
        is ``settings.track_url`` (``CUSTOMERIO_TRACK_URL``) or the declared region's Track host;
        the calls follow ``settings.retry``.
        """
        instructions = self.staging_instructions(secret_name)
        pending_info = self._region(pending, settings, which="pending", instructions=instructions)
        if pending_info.region != pending.region:
            raise RotationError(
                "testSecret",
                f"the pending credentials declare region {pending.region} but Customer.io reports "
                f"region {pending_info.region} for their workspace: {instructions}",
            )
        if current is None:
            return (
                f"the pending credentials of {secret_name} work in region {pending.region}; the "
                "current value is not a credential set (first rotation), so there is no workspace "
                "to compare with"
            )
        current_info = self._region(current, settings, which="current", instructions=instructions)
        if current_info.region != pending_info.region:
            raise RotationError(
                "testSecret",
                f"the pending credentials are for region {pending_info.region}, the current ones "
                f"for {current_info.region}: stage a credential set of the same workspace; "
                f"{instructions}",
            )
        if current_info.environment_id != pending_info.environment_id:
            raise RotationError(
                "testSecret",
                "the pending credentials belong to another workspace (environment_id) than the "
                f"current ones: create the new credential set in the same workspace; {instructions}",
            )
        return f"the pending credentials of {secret_name} work in the current workspace and region"

    def verify_isolation(
        self,
        pending: TrackCredentials,
        peers: WorkspacePeers,
        *,
        secret_name: str,
        settings: RotationSettings,
    ) -> str | None:
        """The pending credentials' ``region`` and ``environment_id`` are not those of any other
        workspace's current credentials: a first rotation (nothing to compare with in the same
        secret) can then not promote another workspace's credential set either. A workspace
        whose current value is not a credential set (not configured yet) is skipped; one whose
        current credentials Customer.io rejects is refused, since it cannot be ruled out.

        Costs one region call per other configured workspace, none for credentials seen before
        (``identity``: a credential set's workspace never changes)."""
        if not peers.others:
            return None
        instructions = self.staging_instructions(secret_name)
        mine = self.identity(pending, settings, which="pending", instructions=instructions)
        compared: list[str] = []
        once = _one_attempt(settings)
        deadline = time.monotonic() + PEER_LOOKUP_BUDGET_SECONDS
        for other in peers.others:
            theirs_creds = peers.current(other, "track")
            if theirs_creds is None:
                continue
            if (
                _recall(_fingerprint(theirs_creds, settings.track_url)) is None
                and time.monotonic() > deadline
            ):
                raise RetryableRotationError(
                    "testSecret",
                    "checking the other workspaces' credentials took too long this time; nothing was "
                    "promoted, Secrets Manager retries the rotation",
                )
            theirs = self.identity(
                theirs_creds,
                once,
                which=f"current ({other.name})",
                instructions=instructions,
                rejected_hint=(
                    f"workspace {other.name}'s current credentials must work for the rotation of "
                    f"workspace {peers.own.name} to tell the two apart: fix {other.name} first"
                ),
            )
            if (theirs.region, theirs.environment_id) == (mine.region, mine.environment_id):
                raise RotationError(
                    "testSecret",
                    f"the credentials pending for workspace {peers.own.name} (secret {secret_name}) "
                    f"belong to workspace {other.name}'s Customer.io workspace (the same region and "
                    f"environment_id as {other.name}'s current credentials): create the new credential "
                    f"set in {peers.own.name}'s own Customer.io workspace; {instructions}",
                )
            compared.append(other.name)
        if not compared:
            return "no other workspace has credentials to compare with"
        return f"they belong to no other workspace ({', '.join(compared)})"

    def identity(
        self,
        credentials: TrackCredentials,
        settings: RotationSettings,
        *,
        which: str,
        instructions: str,
        rejected_hint: str | None = None,
    ) -> RegionInfo:
        """Where ``credentials`` belong (region, environment_id): remembered from an earlier
        answer, else ``GET /api/v1/accounts/region`` (see ``_region``)."""
        known = _recall(_fingerprint(credentials, settings.track_url))
        if isinstance(known, RegionInfo):
            return known
        return self._region(
            credentials, settings, which=which, instructions=instructions, rejected_hint=rejected_hint
        )

    @staticmethod
    def _region(
        credentials: TrackCredentials,
        settings: RotationSettings,
        *,
        which: str,
        instructions: str,
        rejected_hint: str | None = None,
    ) -> RegionInfo:
        """``GET /api/v1/accounts/region`` with ``credentials``, every failure a RotationError:
        a RetryableRotationError when a later call may succeed (5xx, 429, timeouts, resets),
        a permanent one otherwise (401/403, a redirect, an answer RegionInfo cannot read). The
        answer is remembered for ``identity``."""
        try:
            with TrackClient(
                credentials,
                base_url=settings.track_url,
                retry=settings.retry,
                transport=settings.transport,
                sleep=settings.sleep,
            ) as track:
                answer: RegionInfo = _remember(_fingerprint(credentials, settings.track_url), track.region())
                return answer
        except AuthenticationError as exc:
            hint = rejected_hint or (
                f"check the site id and API key of the staged credential set; {instructions}"
                if which == "pending"
                else "keep the current credential set in Customer.io until the rotation has finished"
            )
            raise RotationError(
                "testSecret", f"Customer.io rejected the {which} credentials (status {exc.status}): {hint}"
            ) from exc
        except TransientError as exc:
            raise RetryableRotationError(
                "testSecret",
                f"Customer.io could not check the {which} credentials ({exc}); nothing was promoted, "
                "Secrets Manager retries the rotation",
            ) from exc
        except (CustomerIOError, ConfigurationError) as exc:
            raise RotationError("testSecret", f"checking the {which} credentials failed ({exc})") from exc


class SigningKeyKind(SecretKind[SigningKey]):
    """The webhook signing key ``{"signing_key"}``.

    Customer.io offers no call to check a key with, so a pending key is tested by its model's
    length and character checks (``parse``) and by differing from the current key.
    """

    name: KindName = "signing_key"
    model = SigningKey
    shape = (
        f'{{"signing_key": "..."}} ({MIN_SIGNING_KEY_LENGTH} to 512 printable ASCII characters, '
        "no whitespace)"
    )
    after_promotion = (
        "Customer.io signs with the new key; the webhook accepts the previous one for "
        f"{config.SIGNING_KEY_GRACE_SECONDS} more"
    )

    def same_value(self, a: SigningKey, b: SigningKey) -> bool:
        """True when both hold the same key (its ``workspace`` label aside: a key is the same
        secret whichever workspace it is labelled for)."""
        return a.same_as(b)

    def verify_pending(
        self,
        pending: SigningKey,
        current: SigningKey | None,
        *,
        secret_name: str,
        settings: RotationSettings,
    ) -> str:
        """Nothing more to check: the shape was checked when the pending value was parsed."""
        del pending, current, settings
        return f"the pending signing key of {secret_name} is valid"


class AppApiKeyKind(SecretKind[AppApiKey]):
    """The App API key ``{"app_api_key", "region"}`` that erasure verification reads people with.

    Two keys are the same secret when the key is (whatever the declared region). A pending key
    must answer ``GET /v1/workspaces`` (App API, "List workspaces": a cheap authenticated call
    that lists the workspaces of the key's account) with 200; then the current key must answer it
    with the same workspaces: a key of another account is refused, since its lookups would find
    nobody and so "verify" every erasure. Customer.io documents no call that names a key's own
    workspace, so two keys of one account are not told apart: create the key in the workspace
    of the Track credentials.
    """

    name: KindName = "app_api_key"
    model = AppApiKey
    shape = '{"app_api_key": "...", "region": "us|eu"}'
    after_promotion = (
        "the previous App API key may now be deleted in Customer.io, once the verification "
        f"function has re-read the secret (after {config.SECRETS_CACHE_SECONDS}, or at its next 401)"
    )

    def same_value(self, a: AppApiKey, b: AppApiKey) -> bool:
        """True when both hold the same key (region aside)."""
        return a.same_as(b)

    def verify_pending(
        self,
        pending: AppApiKey,
        current: AppApiKey | None,
        *,
        secret_name: str,
        settings: RotationSettings,
    ) -> str:
        """The pending key answers ``GET /v1/workspaces`` on its region's App API host (or
        ``settings.app_url``, ``CUSTOMERIO_APP_URL``); then the current key answers with the same
        workspace ids. First rotation (``current`` is None, the template's placeholder): only the
        first check applies. An answer that lists no workspace cannot be compared and is refused
        (https://docs.customer.io/integrations/api/app/tag/workspaces/listworkspaces/ documents
        ``{"workspaces": [{"id": "13XXXX", ...}]}``)."""
        instructions = self.staging_instructions(secret_name)
        pending_ids = self._workspaces(pending, settings, which="pending", instructions=instructions)
        if current is None:
            return (
                f"the pending App API key of {secret_name} works in region {pending.region}; the "
                "current value is not a key (first rotation), so there is no account to compare with"
            )
        current_ids = self._workspaces(current, settings, which="current", instructions=instructions)
        if not pending_ids or not current_ids:
            raise RotationError(
                "testSecret",
                "Customer.io listed no workspace for the pending or the current App API key, so "
                f"their accounts cannot be compared; {instructions}",
            )
        if pending_ids != current_ids:
            raise RotationError(
                "testSecret",
                "the pending App API key belongs to another Customer.io account than the current "
                f"one (other workspaces): create the key in the same workspace; {instructions}",
            )
        return f"the pending App API key of {secret_name} works in the current account"

    def verify_isolation(
        self,
        pending: AppApiKey,
        peers: WorkspacePeers,
        *,
        secret_name: str,
        settings: RotationSettings,
    ) -> str | None:
        """The pending key's account lists its own workspace: the ``environment_id`` that the
        workspace's current Track credentials report must be among the ids ``GET /v1/workspaces``
        answers for the key (a key of another workspace's account would find nobody, and so
        "verify" every erasure). Customer.io documents no call that names a key's own workspace,
        so a key of another workspace *in the same account* cannot be told apart (the protocol
        still refuses another workspace's very key).

        The Track credentials are the anchor: when the workspace's are not configured yet, a
        stack of one workspace keeps the check it had (nothing to confuse the key with), and a
        stack of several refuses (configure the Track credentials first), because which
        account the key must belong to cannot be known."""
        instructions = self.staging_instructions(secret_name)
        own_track = peers.current(peers.own, "track")
        if own_track is None:
            if not peers.others:
                return None
            raise RotationError(
                "testSecret",
                f"workspace {peers.own.name} has no Track credentials yet, so whether the pending "
                f"App API key belongs to its Customer.io account cannot be checked: rotate "
                f"{peers.own.name}'s Track credentials in first, then {instructions}",
            )
        workspace = TRACK_CREDENTIALS.identity(
            own_track,
            _one_attempt(settings),
            which=f"current ({peers.own.name})",
            instructions=instructions,
            rejected_hint=(
                f"workspace {peers.own.name}'s current Track credentials must work to check the App "
                "API key against its workspace"
            ),
        )
        listed = self.listing(pending, settings, which="pending", instructions=instructions)
        if str(workspace.environment_id) not in listed:
            raise RotationError(
                "testSecret",
                f"the App API key pending for workspace {peers.own.name} (secret {secret_name}) does "
                f"not list {peers.own.name}'s Customer.io workspace (the environment_id of its Track "
                "credentials): it is a key of another account; create the key in "
                f"{peers.own.name}'s workspace; {instructions}",
            )
        return f"it lists workspace {peers.own.name}'s Customer.io workspace"

    def listing(
        self, key: AppApiKey, settings: RotationSettings, *, which: str, instructions: str
    ) -> frozenset[str]:
        """The workspace ids of ``key``'s account: remembered, else ``GET /v1/workspaces``."""
        known = _recall(_fingerprint(key, settings.app_url))
        if isinstance(known, frozenset):
            return known
        return self._workspaces(key, settings, which=which, instructions=instructions)

    @staticmethod
    def _workspaces(
        key: AppApiKey, settings: RotationSettings, *, which: str, instructions: str
    ) -> frozenset[str]:
        """``GET /v1/workspaces`` with ``key`` (``AppClient.check``), every failure a
        RotationError: a RetryableRotationError when a later call may succeed (5xx, 429,
        timeouts, resets), a permanent one otherwise (401/403, a 404: not the App API)."""
        try:
            with AppClient(
                key,
                base_url=settings.app_url,
                retry=settings.retry,
                transport=settings.transport,
                sleep=settings.sleep,
            ) as app:
                answer: frozenset[str] = _remember(_fingerprint(key, settings.app_url), app.check())
                return answer
        except AuthenticationError as exc:
            hint = (
                f"check the staged key and its region; {instructions}"
                if which == "pending"
                else "keep the current App API key in Customer.io until the rotation has finished"
            )
            raise RotationError(
                "testSecret", f"Customer.io rejected the {which} App API key (status {exc.status}): {hint}"
            ) from exc
        except TransientError as exc:
            raise RetryableRotationError(
                "testSecret",
                f"Customer.io could not check the {which} App API key ({exc}); nothing was promoted, "
                "Secrets Manager retries the rotation",
            ) from exc
        except (CustomerIOError, ConfigurationError) as exc:
            raise RotationError("testSecret", f"checking the {which} App API key failed ({exc})") from exc


TRACK_CREDENTIALS: Final = TrackCredentialsKind()
SIGNING_KEY: Final = SigningKeyKind()
APP_API_KEY: Final = AppApiKeyKind()
_ALL_KINDS: Final[tuple[SecretKind[Any], ...]] = (TRACK_CREDENTIALS, SIGNING_KEY, APP_API_KEY)
SECRET_KINDS: Final[Mapping[KindName, SecretKind[Any]]] = MappingProxyType(
    {kind.name: kind for kind in _ALL_KINDS}
)
"""Every kind by name."""


def secret_kind(name: str) -> SecretKind[Any]:
    """The kind called ``name`` (``track``, ``signing_key`` or ``app_api_key``); ConfigurationError
    otherwise."""
    for kind in _ALL_KINDS:
        if kind.name == name:
            return kind
    raise ConfigurationError(f"unknown secret kind {name!r}: expected one of {', '.join(SECRET_KINDS)}")
