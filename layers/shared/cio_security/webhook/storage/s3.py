"""The S3 backend of ``ObjectStore``: the stack's webhook bucket (SSE-KMS with the project key by
the bucket's default encryption, public access blocked, TLS only, objects expiring)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cio_security.webhook.storage.base import ObjectInfo, ObjectStore, ObjectStoreError, StoredObject

__all__ = ["S3ObjectStore"]

_MISSING = {"404", "NoSuchKey", "NotFound"}


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


class S3ObjectStore(ObjectStore):
    """One S3 bucket. The client is injected (the webhook's has its time budget's timeouts); it is
    typed ``Any`` because the project pins no S3 type stubs."""

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._client = client

    def put(self, key: str, body: bytes, *, metadata: Mapping[str, str], content_type: str) -> None:
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, Metadata=dict(metadata), ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"S3 PutObject failed: {_code(exc)}") from None

    def get(self, key: str) -> StoredObject | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"].read()
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise ObjectStoreError(f"S3 GetObject failed: {_code(exc)}") from None
        except BotoCoreError as exc:
            raise ObjectStoreError(f"S3 GetObject failed: {_code(exc)}") from None
        return StoredObject(
            key=key,
            size=len(body),
            last_modified=response.get("LastModified"),
            metadata=dict(response.get("Metadata", {})),
            body=body,
        )

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise ObjectStoreError(f"S3 HeadObject failed: {_code(exc)}") from None
        except BotoCoreError as exc:
            raise ObjectStoreError(f"S3 HeadObject failed: {_code(exc)}") from None
        return ObjectInfo(
            key=key,
            size=int(response.get("ContentLength", 0)),
            last_modified=response.get("LastModified"),
            metadata=dict(response.get("Metadata", {})),
        )

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"], size=int(item.get("Size", 0)), last_modified=item.get("LastModified")
                    )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"S3 ListObjectsV2 failed: {_code(exc)}") from None

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"S3 DeleteObject failed: {_code(exc)}") from None
