"""The Customer.io workspaces a stack serves, and where each one's secrets and budgets are.

A company commonly runs several workspaces (US and EU data centres, one per brand, staging and
production), each with its own Track credentials, App API key, webhook signing key and rate
limits. The stack's ``Workspaces`` parameter lists them; the functions read the list from
``CUSTOMERIO_WORKSPACES`` (comma-separated names, the first one the *primary*; unset: one
workspace named ``default``).

Where each workspace's secrets are:

- the primary's are the stack's original secrets, named by the existing variables
  (``TRACK_CREDENTIALS_SECRET_ID``, ``SIGNING_KEY_SECRET_ID``, ``APP_API_KEY_SECRET_ID``), so a
  single-workspace stack keeps its secrets when it is upgraded;
- every other workspace's are ``{CUSTOMERIO_WORKSPACE_SECRET_PREFIX}workspaces/{name}/{kind}``
  (kind: ``track-credentials``, ``webhook-signing-key``, ``app-api-key``; staging secrets add
  ``/staged``), which the template generates from the same list.

Budgets: ``CUSTOMERIO_WORKSPACE_RATE_LIMITS`` (``name=rps,...``) gives a workspace its own
stack-wide Track budget, ``CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS`` its own App API budget: each
workspace has its own Customer.io limits, so one workspace's backlog never spends another's. A
workspace neither names keeps ``None`` there, which means the stack's default budget: the one
the settings of the function that spends it hold (``DeletionSettings.rate_limit_rps``, from
``CUSTOMERIO_RATE_LIMIT_RPS``; ``VerificationSettings.app_rate_limit_rps``, from
``CUSTOMERIO_APP_RATE_LIMIT_RPS``), resolved by their ``budget_for``. So a default set on the
settings, from the environment or by hand, is the budget of every workspace without its own.

>>> ws = workspaces_from_env({"CUSTOMERIO_WORKSPACES": "prod-us,prod-eu",
...                           "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": "s/customerio/",
...                           "TRACK_CREDENTIALS_SECRET_ID": "s/customerio/track-credentials"})
>>> ws.names
('prod-us', 'prod-eu')
>>> ws.get("prod-eu").secret_id("track-credentials")
's/customerio/workspaces/prod-eu/track-credentials'
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from cio_security.config import positive_float
from cio_security.errors import ConfigurationError

if TYPE_CHECKING:
    from cio_security.customerio.urls import BaseUrlOverride
    from cio_security.secrets.models import Region

__all__ = [
    "DEFAULT_WORKSPACE",
    "SECRET_KINDS",
    "WORKSPACE_NAME_PATTERN",
    "SecretKind",
    "UnknownWorkspaceError",
    "Workspace",
    "Workspaces",
    "region_url_overrides",
    "secret_name",
    "workspace_secret_name",
    "workspaces_from_env",
]

CUSTOMERIO_WORKSPACES: Final = "CUSTOMERIO_WORKSPACES"
CUSTOMERIO_WORKSPACE_SECRET_PREFIX: Final = "CUSTOMERIO_WORKSPACE_SECRET_PREFIX"  # noqa: S105 - a variable name
CUSTOMERIO_WORKSPACE_RATE_LIMITS: Final = "CUSTOMERIO_WORKSPACE_RATE_LIMITS"
CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS: Final = "CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS"

DEFAULT_WORKSPACE: Final = "default"
WORKSPACE_NAME_PATTERN: Final = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
"""Lowercase letters, digits and inner hyphens, at most 32 characters: safe in a secret name, a
CloudFormation logical id (the template drops the hyphens), a metric dimension and a log line."""
_NAME = re.compile(WORKSPACE_NAME_PATTERN)
logger = logging.getLogger(__name__)

SecretKind = Literal["track-credentials", "webhook-signing-key", "app-api-key"]
SECRET_KINDS: Final[tuple[SecretKind, ...]] = ("track-credentials", "webhook-signing-key", "app-api-key")
_PRIMARY_SECRET_ENV: Final[Mapping[SecretKind, str]] = {
    "track-credentials": "TRACK_CREDENTIALS_SECRET_ID",
    "webhook-signing-key": "SIGNING_KEY_SECRET_ID",
    "app-api-key": "APP_API_KEY_SECRET_ID",
}
# A Secrets Manager ARN ends in the secret's name, "-" and six random characters.
_ARN = re.compile(r"^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(?P<name>.+)-[A-Za-z0-9]{6}$")


class UnknownWorkspaceError(ConfigurationError):
    """A workspace name that the stack is not configured with; ``.names`` holds the unknown ones
    (workspace names are configuration, never personal data)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        super().__init__(f"unknown workspace(s): {', '.join(self.names)}")


def workspace_secret_name(prefix: str, workspace: str, kind: SecretKind) -> str:
    """The name of a non-primary workspace's secret: ``{prefix}workspaces/{workspace}/{kind}``."""
    return f"{prefix}workspaces/{workspace}/{kind}"


def secret_name(secret_id: str) -> str:
    """A secret's name from its name or ARN (the ARN's random six-character suffix removed).

    >>> secret_name("arn:aws:secretsmanager:eu-west-1:123456789012:secret:s/x/app-api-key-AbC123")
    's/x/app-api-key'
    >>> secret_name("s/x/app-api-key")
    's/x/app-api-key'
    """
    match = _ARN.match(secret_id)
    return match.group("name") if match else secret_id


@dataclass(frozen=True)
class Workspace:
    """One Customer.io workspace of the stack: its name, its secrets (None: this function was not
    given that secret) and its own stack-wide request budgets, if it has any."""

    name: str
    track_credentials_secret_id: str | None = None
    signing_key_secret_id: str | None = None
    app_api_key_secret_id: str | None = None
    rate_limit_rps: float | None = None
    """The workspace's own Track budget for the whole stack (each invocation takes its share);
    None: the stack default, ``DeletionSettings.rate_limit_rps`` (see ``budget_for`` there)."""
    app_rate_limit_rps: float | None = None
    """The workspace's own App API budget for the whole stack (Customer.io documents 10 req/s);
    None: the stack default, ``VerificationSettings.app_rate_limit_rps``."""
    primary: bool = False

    def secret_id(self, kind: SecretKind) -> str | None:
        """The id (name or ARN) of this workspace's secret of ``kind``, or None."""
        if kind == "track-credentials":
            return self.track_credentials_secret_id
        if kind == "webhook-signing-key":
            return self.signing_key_secret_id
        return self.app_api_key_secret_id

    def owns(self, secret_id: str) -> SecretKind | None:
        """The kind of ``secret_id`` (name or ARN) when it is one of this workspace's secrets."""
        wanted = secret_name(secret_id)
        for kind in SECRET_KINDS:
            mine = self.secret_id(kind)
            if mine is not None and secret_name(mine) == wanted:
                return kind
        return None


@dataclass(frozen=True)
class Workspaces(Sequence[Workspace]):
    """The stack's workspaces in configured order; the first is the primary."""

    items: tuple[Workspace, ...]

    def __post_init__(self) -> None:
        if not self.items:
            raise ConfigurationError("at least one Customer.io workspace is required")
        names = [w.name for w in self.items]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"{CUSTOMERIO_WORKSPACES} names a workspace twice")

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Workspace]:
        return iter(self.items)

    def __getitem__(self, index: int) -> Workspace:  # type: ignore[override]
        return self.items[index]

    @property
    def names(self) -> tuple[str, ...]:
        """The workspace names, primary first."""
        return tuple(w.name for w in self.items)

    @property
    def primary(self) -> Workspace:
        """The first workspace: it holds the stack's original secrets."""
        return self.items[0]

    def get(self, name: str) -> Workspace:
        """The workspace called ``name``; UnknownWorkspaceError when there is none."""
        for workspace in self.items:
            if workspace.name == name:
                return workspace
        raise UnknownWorkspaceError([name])

    def select(self, names: Sequence[str] | None) -> tuple[Workspace, ...]:
        """The workspaces ``names`` picks, in configured order (None: all of them). An unknown
        name raises UnknownWorkspaceError naming every unknown one; an empty list is refused."""
        if names is None:
            return self.items
        if not names:
            raise ConfigurationError("a workspace subset must name at least one workspace")
        unknown = [n for n in dict.fromkeys(names) if n not in self.names]
        if unknown:
            raise UnknownWorkspaceError(unknown)
        wanted = set(names)
        return tuple(w for w in self.items if w.name in wanted)

    def owner_of(self, secret_id: str) -> tuple[Workspace, SecretKind] | None:
        """The workspace (and kind) a secret belongs to, by name or ARN; None when no workspace
        of this stack owns it."""
        for workspace in self.items:
            kind = workspace.owns(secret_id)
            if kind is not None:
                return workspace, kind
        return None


def _names(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in raw.split(",") if part.strip()) or (DEFAULT_WORKSPACE,)
    for name in names:
        if not _NAME.match(name):
            raise ConfigurationError(
                f"{CUSTOMERIO_WORKSPACES}: workspace names are lowercase letters, digits and "
                "inner hyphens, 1-32 characters"
            )
    return names


def _budgets(variable: str, raw: str, names: Sequence[str]) -> dict[str, float]:
    """``name=rps,...`` as a mapping. A malformed pair, or a rate that is not a positive finite
    number (``config.positive_float``), is a ConfigurationError naming the variable. A name that
    is not a configured workspace (a typo, a workspace since removed) is ignored with a warning: it
    changes no budget, and refusing it would stop every function, the webhook included, over an
    optional setting."""
    budgets: dict[str, float] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigurationError(f"{variable}: expected name=rps pairs")
        rate = positive_float(value, what=f"{variable}: every rate")
        if name not in names:
            logger.warning(
                "a budget names a workspace the stack does not serve; ignored",
                extra={"variable": variable, "workspace": name},  # configuration, not personal data
            )
            continue
        budgets[name] = rate
    return budgets


def workspaces_from_env(environ: Mapping[str, str] | None = None) -> Workspaces:
    """The stack's workspaces from the environment (see the module docstring). Each workspace's
    budgets are its own ones (``CUSTOMERIO_WORKSPACE_RATE_LIMITS``,
    ``CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS``) or None, the default of the settings that spend them;
    the stack-wide defaults themselves are the deletion and verification settings' to read."""
    env = os.environ if environ is None else environ
    names = _names(env.get(CUSTOMERIO_WORKSPACES, ""))
    prefix = env.get(CUSTOMERIO_WORKSPACE_SECRET_PREFIX, "").strip()
    if len(names) > 1 and not prefix:
        raise ConfigurationError(
            f"{CUSTOMERIO_WORKSPACE_SECRET_PREFIX} is required with more than one workspace"
        )
    track = _budgets(CUSTOMERIO_WORKSPACE_RATE_LIMITS, env.get(CUSTOMERIO_WORKSPACE_RATE_LIMITS, ""), names)
    app = _budgets(
        CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS, env.get(CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS, ""), names
    )
    items = []
    for index, name in enumerate(names):
        secret_ids: dict[SecretKind, str | None] = {}
        for kind in SECRET_KINDS:
            if index == 0:
                secret_ids[kind] = env.get(_PRIMARY_SECRET_ENV[kind], "").strip() or None
            else:
                secret_ids[kind] = workspace_secret_name(prefix, name, kind)
        items.append(
            Workspace(
                name=name,
                track_credentials_secret_id=secret_ids["track-credentials"],
                signing_key_secret_id=secret_ids["webhook-signing-key"],
                app_api_key_secret_id=secret_ids["app-api-key"],
                rate_limit_rps=track.get(name),
                app_rate_limit_rps=app.get(name),
                primary=index == 0,
            )
        )
    return Workspaces(tuple(items))


def region_url_overrides(variable: str, environ: Mapping[str, str] | None = None) -> BaseUrlOverride:
    """Base URL overrides from ``{variable}_US`` / ``{variable}_EU`` (one region's), falling back
    to ``{variable}`` (every region's); None when none is set (Customer.io's own hosts). The local
    stack points each region at its own sandbox this way; deployed stacks set none of them.

    >>> region_url_overrides("CUSTOMERIO_TRACK_URL", {"CUSTOMERIO_TRACK_URL_EU": "http://127.0.0.1:9"})
    {'eu': 'http://127.0.0.1:9'}
    """
    # Imported here: the webhook reads its workspaces without loading the HTTP client.
    from cio_security.customerio.urls import validated_override  # noqa: PLC0415

    env = os.environ if environ is None else environ
    every = env.get(variable, "").strip()
    regions: dict[Region, str] = {}
    for region in ("us", "eu"):
        url = env.get(f"{variable}_{region.upper()}", "").strip() or every
        if url:
            regions[region] = url
    if not regions:
        return None
    return validated_override(regions)
