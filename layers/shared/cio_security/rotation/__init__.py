"""Secrets Manager rotation of the Customer.io secrets (DESIGN section 5).

- ``protocol``: ``rotate`` (the handler's dispatch) and the four steps;
- ``kinds``: one ``SecretKind`` per kind of secret (Track credentials, signing key, App API
  key): its model, the shape to stage, comparison, and how testSecret proves a pending value;
- ``versions``: the rotated secret in Secrets Manager (``RotationTarget``), its reads and
  stage moves;
- ``staging``: the staging secret (name + ``/staged``) the operator writes the next value to;
- ``settings``: ``RotationSettings``, with every default;
- ``outcome``: the step names and ``StepResult``;
- ``failures``: ``RetryableRotationError`` (Secrets Manager's retry can get past it; AWSPENDING
  stays) versus a failure for good (``rotate`` removes AWSPENDING), and which Secrets Manager
  errors are transient.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "APP_API_KEY": "kinds",
    "AppApiKeyKind": "kinds",
    "SECRET_KINDS": "kinds",
    "SIGNING_KEY": "kinds",
    "TRACK_CREDENTIALS": "kinds",
    "KindName": "kinds",
    "RotatedValue": "kinds",
    "SecretKind": "kinds",
    "SigningKeyKind": "kinds",
    "TrackCredentialsKind": "kinds",
    "canonical_json": "kinds",
    "secret_kind": "kinds",
    "RetryableRotationError": "failures",
    "STEPS": "outcome",
    "Step": "outcome",
    "StepOutcome": "outcome",
    "StepResult": "outcome",
    "create_secret": "protocol",
    "finish_secret": "protocol",
    "rotate": "protocol",
    "set_secret": "protocol",
    "test_secret": "protocol",
    "RotationSettings": "settings",
    "NOTHING_STAGED": "staging",
    "STAGING_SUFFIX": "staging",
    "staging_secret_name": "staging",
    "AWSCURRENT": "versions",
    "AWSPENDING": "versions",
    "AWSPREVIOUS": "versions",
    "RotationTarget": "versions",
    "describe_target": "versions",
}

__all__ = [
    "APP_API_KEY",
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "NOTHING_STAGED",
    "SECRET_KINDS",
    "SIGNING_KEY",
    "STAGING_SUFFIX",
    "STEPS",
    "TRACK_CREDENTIALS",
    "AppApiKeyKind",
    "KindName",
    "RetryableRotationError",
    "RotatedValue",
    "RotationSettings",
    "RotationTarget",
    "SecretKind",
    "SigningKeyKind",
    "Step",
    "StepOutcome",
    "StepResult",
    "TrackCredentialsKind",
    "canonical_json",
    "create_secret",
    "describe_target",
    "finish_secret",
    "rotate",
    "secret_kind",
    "set_secret",
    "staging_secret_name",
    "test_secret",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.rotation.failures import RetryableRotationError
    from cio_security.rotation.kinds import (
        APP_API_KEY,
        SECRET_KINDS,
        SIGNING_KEY,
        TRACK_CREDENTIALS,
        AppApiKeyKind,
        KindName,
        RotatedValue,
        SecretKind,
        SigningKeyKind,
        TrackCredentialsKind,
        canonical_json,
        secret_kind,
    )
    from cio_security.rotation.outcome import STEPS, Step, StepOutcome, StepResult
    from cio_security.rotation.protocol import create_secret, finish_secret, rotate, set_secret, test_secret
    from cio_security.rotation.settings import RotationSettings
    from cio_security.rotation.staging import NOTHING_STAGED, STAGING_SUFFIX, staging_secret_name
    from cio_security.rotation.versions import (
        AWSCURRENT,
        AWSPENDING,
        AWSPREVIOUS,
        RotationTarget,
        describe_target,
    )
