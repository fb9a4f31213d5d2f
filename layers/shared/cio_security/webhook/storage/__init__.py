"""Object storage for the webhook's kept bodies and claim-checked events: an abstract base that
stores only (put, get, head, list, delete) and one backend per file (``s3``); tests plug an
in-memory backend into the same base.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "ObjectInfo": "base",
    "ObjectStore": "base",
    "ObjectStoreError": "base",
    "S3ObjectStore": "s3",
    "StoredObject": "base",
}

__all__ = ["ObjectInfo", "ObjectStore", "ObjectStoreError", "S3ObjectStore", "StoredObject"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.webhook.storage.base import ObjectInfo, ObjectStore, ObjectStoreError, StoredObject
    from cio_security.webhook.storage.s3 import S3ObjectStore
