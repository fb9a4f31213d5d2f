"""The project's secrets (DESIGN section 2): their models and typed, cached reads.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "Pepper": "models",
    "STAGES": "store",
    "SecretStore": "store",
    "SigningKey": "models",
    "Stage": "store",
    "TrackCredentials": "models",
    "WorkspaceMismatchError": "labels",
    "parse_secret": "store",
    "signing_key_loader": "loaders",
    "track_credentials_provider": "loaders",
}

__all__ = [
    "STAGES",
    "Pepper",
    "SecretStore",
    "SigningKey",
    "Stage",
    "TrackCredentials",
    "WorkspaceMismatchError",
    "parse_secret",
    "signing_key_loader",
    "track_credentials_provider",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.secrets.labels import WorkspaceMismatchError
    from cio_security.secrets.loaders import signing_key_loader, track_credentials_provider
    from cio_security.secrets.models import Pepper, SigningKey, TrackCredentials
    from cio_security.secrets.store import STAGES, SecretStore, Stage, parse_secret
