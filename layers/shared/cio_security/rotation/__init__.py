"""Secrets Manager rotation of the Customer.io secrets (DESIGN section 5).

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "AWSCURRENT": "protocol",
    "AWSPENDING": "protocol",
    "AWSPREVIOUS": "protocol",
    "RotatedValue": "protocol",
    "RotationSettings": "protocol",
    "RotationTarget": "protocol",
    "STAGING_SUFFIX": "protocol",
    "STEPS": "protocol",
    "SecretKind": "protocol",
    "Step": "protocol",
    "StepResult": "protocol",
    "canonical_json": "protocol",
    "create_secret": "protocol",
    "describe_target": "protocol",
    "finish_secret": "protocol",
    "kind_model": "protocol",
    "parse_kind": "protocol",
    "rotate": "protocol",
    "same_value": "protocol",
    "set_secret": "protocol",
    "staging_instructions": "protocol",
    "staging_secret_name": "protocol",
    "test_secret": "protocol",
}

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "STAGING_SUFFIX",
    "STEPS",
    "RotatedValue",
    "RotationSettings",
    "RotationTarget",
    "SecretKind",
    "Step",
    "StepResult",
    "canonical_json",
    "create_secret",
    "describe_target",
    "finish_secret",
    "kind_model",
    "parse_kind",
    "rotate",
    "same_value",
    "set_secret",
    "staging_instructions",
    "staging_secret_name",
    "test_secret",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.rotation.protocol import (
        AWSCURRENT,
        AWSPENDING,
        AWSPREVIOUS,
        STAGING_SUFFIX,
        STEPS,
        RotatedValue,
        RotationSettings,
        RotationTarget,
        SecretKind,
        Step,
        StepResult,
        canonical_json,
        create_secret,
        describe_target,
        finish_secret,
        kind_model,
        parse_kind,
        rotate,
        same_value,
        set_secret,
        staging_instructions,
        staging_secret_name,
        test_secret,
    )
