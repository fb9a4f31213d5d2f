"""The sanitizer policy: which keys are dropped, hashed or allowed, and the bounds of the walk.

Every default lives here: the three default key sets and the default limits, which
``SanitizerPolicy.default()`` (the policy used when none is given) is made of.

>>> policy = SanitizerPolicy.default()
>>> "creditcardnumber" in policy.drop, policy.max_depth
(True, 32)
"""

from __future__ import annotations

import functools
from os import PathLike
from pathlib import Path
from typing import Any, Final, Literal, Self

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from cio_security.errors import ConfigurationError
from cio_security.sanitizer.keys import ALLOW, ALLOW_SCANNED, DROP, HASH, HASH_SUFFIX, KeyInfo, normalize_key
from cio_security.validation import StrictModel

# The default policy. Spellings are folded by normalize_key, so "creditCardNumber" and
# "credit-card-number" need no entry of their own, and a name also matches as a key's last words
# ("user_ssn", "x-api-key", "primary_phone", "phone1": see cio_security.sanitizer.keys); never as a
# substring of a word.
DEFAULT_DROP_KEYS: Final[frozenset[str]] = frozenset(
    {
        # Government identifiers.
        "ssn", "social_security", "social_security_number", "social_insurance_number",
        "tax_id", "taxpayer_id", "tax_number", "tin", "itin", "ein", "national_id",
        "national_insurance_number", "nino", "passport", "passport_number",
        "drivers_license", "drivers_license_number", "driver_license", "driving_licence",
        # Payment cards.
        "card_number", "card_num", "card_no", "credit_card", "credit_card_number", "debit_card",
        "debit_card_number", "cc", "cc_number", "ccnum", "pan", "primary_account_number", "cvv",
        "cvv2", "cvc", "cvc2", "security_code", "card_security_code", "card_expiry",
        "card_expiration",
        # Credentials (a password hash is a credential too).
        "password", "passwd", "pwd", "passphrase", "password_hash", "hashed_password",
        "encrypted_password", "password_digest", "password_salt", "salt", "hash",
        "password_confirmation", "current_password", "new_password", "old_password", "pin",
        "pin_code", "otp", "otp_code", "one_time_password", "mfa_code", "verification_code",
        "recovery_code", "auth_code", "authorization_code", "secret", "client_secret",
        "secret_key", "signing_key", "encryption_key", "secret_answer", "security_answer",
        "api_key", "access_token", "refresh_token", "auth_token", "session_token", "id_token",
        "private_key", "authorization", "credential", "credentials",
        # Bank accounts (the IBAN detector also catches IBAN values under any key).
        "bank_account", "bank_account_number", "account_number", "iban", "routing_number",
        "bank_routing_number", "aba", "aba_number", "sort_code",
    }
)  # fmt: skip
DEFAULT_HASH_KEYS: Final[frozenset[str]] = frozenset(
    {
        "phone", "phone_number", "mobile", "mobile_number", "mobile_phone", "cell_phone",
        "telephone", "tel", "home_phone", "work_phone", "msisdn",
        "ip", "ip_address", "ip_addr", "ipv4", "ipv6", "client_ip", "remote_ip", "last_ip",
        "address", "addr", "street", "street_address", "address_line", "address_line1",
        "address_line2", "address1", "address2", "postal_address", "home_address",
        "mailing_address", "billing_address", "shipping_address",
    }
)  # fmt: skip
# Customer.io's identifiers and the reporting webhook's ids: needed as they are, and a numeric id
# must not be mistaken for an SSN. "email" (and the reporting webhook's "email_address") is how
# Customer.io addresses a person. Allowed names are matched whole: an allowed key's scalar value is
# trusted, containers under it are walked like any other.
DEFAULT_ALLOW_KEYS: Final[frozenset[str]] = frozenset(
    {
        "email", "email_address", "id", "cio_id", "customer_id", "user_id", "anonymous_id",
        "identifiers",
        "event_id", "delivery_id", "campaign_id", "broadcast_id", "action_id",
        "parent_action_id", "journey_id", "newsletter_id", "message_id",
        "transactional_message_id", "trigger_event_id", "content_id", "link_id",
    }
)  # fmt: skip
# The default limits: nested containers, values in all, and characters in a scanned string.
DEFAULT_MAX_DEPTH: Final = 32
DEFAULT_MAX_NODES: Final = 10_000
DEFAULT_MAX_STRING_LENGTH: Final = 65_536


class KeyCache(dict[str, KeyInfo]):
    """The descriptions of the keys a policy has met: derived data, so two caches are equal
    whatever they hold (policies compare by their sets and limits)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyCache)

    __hash__ = None


PolicyMode = Literal["default", "deny_unknown"]
"""``default``: keys no set names are kept (their values scanned); ``deny_unknown``: only the
names of ``allow`` and ``hash`` pass (and what the sanitizer itself writes: ``_hash`` fields), any
other key is dropped with the reason ``not_allowed``."""


class SanitizerPolicy(StrictModel):
    """Which keys are dropped, hashed or allowed (stored normalised; a key may be in one set
    only), whether a key no set names passes (``mode``), which allowed names are trusted, and the
    bounds of the walk; frozen, unknown fields refused. ``SanitizerPolicy.default()`` is the
    documented default; ``from_json`` and ``from_file`` load one (all three sets required; mode,
    trusted and limits optional) and raise ConfigurationError when it is invalid.

    ``trusted``: the allowed names whose scalar values are kept unscanned (identifiers that would
    look like an SSN or a card number); None, the default, trusts every allowed name. An allowed
    name that is not trusted passes like an ordinary key: its values are scanned by the detectors.

    >>> SanitizerPolicy.from_json('{"drop": ["Password"], "hash": ["phoneNumber"], "allow": []}').drop
    frozenset({'password'})
    >>> strict = SanitizerPolicy.from_json(
    ...     '{"mode": "deny_unknown", "drop": [], "hash": ["phone"], "allow": ["id", "plan"],'
    ...     ' "trusted": ["id"]}'
    ... )
    >>> strict.mode, sorted(strict.trusted or ())
    ('deny_unknown', ['id'])
    """

    mode: PolicyMode = "default"
    drop: frozenset[str]
    hash: frozenset[str]
    allow: frozenset[str]
    trusted: frozenset[str] | None = None
    max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=1)
    max_nodes: int = Field(default=DEFAULT_MAX_NODES, ge=1)
    max_string_length: int = Field(default=DEFAULT_MAX_STRING_LENGTH, ge=1)

    # What the walk reads: the action of each normalised name (DROP, HASH or ALLOW), the length of
    # the longest name, and the descriptions of the keys met so far (see keys.describe_key).
    _actions: dict[str, int] = PrivateAttr(default_factory=dict)
    _longest: int = PrivateAttr(default=0)
    _keys: dict[str, KeyInfo] = PrivateAttr(default_factory=KeyCache)

    @field_validator("drop", "hash", "allow", "trusted", mode="after")
    @classmethod
    def _normalise_keys(cls, keys: frozenset[str] | None) -> frozenset[str] | None:
        if keys is None:
            return None
        normalised = frozenset(normalize_key(key) for key in keys)
        if "" in normalised:
            raise ValueError("a key must contain a letter or a digit")
        return normalised

    @model_validator(mode="after")
    def _one_set_per_key(self) -> Self:
        pairs = (
            ("drop", self.drop, "hash", self.hash),
            ("drop", self.drop, "allow", self.allow),
            ("hash", self.hash, "allow", self.allow),
        )
        problems = [
            f"{', '.join(sorted(a & b))} in both {name_a} and {name_b}"
            for name_a, a, name_b, b in pairs
            if a & b
        ]
        if problems:
            raise ValueError("a key may be in one set only: " + "; ".join(problems))
        if self.trusted is not None and not self.trusted <= self.allow:
            raise ValueError(
                f"trusted names must be allowed too: {', '.join(sorted(self.trusted - self.allow))}"
            )
        # A hashed "k" is written "k_hash": that name must not be one the policy drops.
        dropped_outputs = sorted(key for key in self.hash if normalize_key(key + HASH_SUFFIX) in self.drop)
        if dropped_outputs:
            raise ValueError(f"hash keys whose _hash name is a drop key: {', '.join(dropped_outputs)}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        actions = dict.fromkeys(self.drop, DROP)
        actions.update(dict.fromkeys(self.hash, HASH))
        trusted = self.allow if self.trusted is None else self.trusted
        actions.update({name: ALLOW if name in trusted else ALLOW_SCANNED for name in self.allow})
        self._actions = actions
        self._longest = max(map(len, actions), default=0)

    @property
    def deny_unknown(self) -> bool:
        """Whether only named keys pass (``mode == "deny_unknown"``)."""
        return self.mode == "deny_unknown"

    @classmethod
    def default(cls) -> SanitizerPolicy:
        """The default policy (``DEFAULT_DROP_KEYS``, ``DEFAULT_HASH_KEYS``,
        ``DEFAULT_ALLOW_KEYS``, default limits); one shared instance."""
        return default_policy()

    @classmethod
    def from_json(cls, text: str | bytes) -> SanitizerPolicy:
        """Load a policy from JSON: ``{"drop": [...], "hash": [...], "allow": [...]}`` and
        optionally ``mode`` (``default`` or ``deny_unknown``), ``trusted``, ``max_depth``,
        ``max_nodes``, ``max_string_length``. Raises ConfigurationError naming the invalid
        fields."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'policy'}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)
            )
            raise ConfigurationError(f"invalid sanitizer policy: {problems}") from None

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> SanitizerPolicy:
        """Load a policy from a JSON file (see ``from_json``)."""
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"sanitizer policy file {str(path)!r} cannot be read: {exc.strerror}"
            ) from None
        return cls.from_json(text)


@functools.cache
def default_policy() -> SanitizerPolicy:
    """The one shared default policy (``SanitizerPolicy.default()``; a plain call for the hot
    path)."""
    return SanitizerPolicy(drop=DEFAULT_DROP_KEYS, hash=DEFAULT_HASH_KEYS, allow=DEFAULT_ALLOW_KEYS)
