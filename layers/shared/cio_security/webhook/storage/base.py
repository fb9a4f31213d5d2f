"""The storage primitives the webhook needs, as an abstract base: a backend only stores."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cio_security.errors import PublishError

__all__ = ["ObjectInfo", "ObjectStore", "ObjectStoreError", "StoredObject"]


class ObjectStoreError(PublishError):
    """A storage call failed (S3 unreachable, throttled, access denied...). For the webhook it is
    one of our own failures: the delivery is answered 503 and Customer.io retries it. The text
    names the operation and the error code, never a key's content or a body."""


@dataclass(frozen=True)
class ObjectInfo:
    """An object's key, size and modification time; ``metadata`` when the backend returned it."""

    key: str
    size: int
    last_modified: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject(ObjectInfo):
    """An object with its bytes."""

    body: bytes = field(default=b"", repr=False)


class ObjectStore(ABC):
    """One bucket: put, get, head, list by prefix, delete. Keys and metadata are ASCII."""

    bucket: str

    @abstractmethod
    def put(self, key: str, body: bytes, *, metadata: Mapping[str, str], content_type: str) -> None:
        """Store ``body`` under ``key`` (replacing any object there). ObjectStoreError on failure."""

    @abstractmethod
    def get(self, key: str) -> StoredObject | None:
        """The object with its metadata, or None when there is none."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's size, time and metadata without its bytes, or None."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in key order (metadata not included)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (nothing happens when there is none)."""
