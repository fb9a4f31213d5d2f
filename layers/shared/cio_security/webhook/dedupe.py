"""Deduplication of verified events on ``event_id`` with Powertools Idempotency (DynamoDB in the
stack), shared by the webhook function and the operator's replay so both recognise each other's
records.

``deduplicator(event_id, work)`` runs ``work()`` once per event id within the dedupe window and
returns ``(result, duplicate)``: a later call with the same id gets the stored result and
``duplicate=True`` without running ``work``.

Customer.io's event ids are unique within a workspace, not across workspaces (its documentation
says nothing either way, so the safe reading), so a stack of several workspaces namespaces the key
by workspace: ``deduplicator(event_id, work, workspace="prod-eu")`` hashes ``["prod-eu",
event_id]``, which no bare event id can collide with. The primary workspace passes none and
keeps the key a single-workspace stack always had (``customerio-webhook#<hash of the event id>``),
so upgrading never re-publishes an event already seen. A concurrent call for an id still in progress raises
Powertools' ``IdempotencyAlreadyInProgressError``; a failing ``work`` leaves no record behind, so a
retry runs it again.

    >>> dedupe = dynamodb_deduplicator("idempotency-table", expires_after_seconds=691_200)  # doctest: +SKIP
    >>> dedupe("01J...", lambda: {"published": "eb-id"})                                     # doctest: +SKIP
    ({'published': 'eb-id'}, False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from botocore.config import Config
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["KEY_PREFIX", "Deduplicator", "IdempotencyDeduplicator", "dynamodb_deduplicator"]

KEY_PREFIX: Final = "customerio-webhook"
"""The idempotency records' key prefix (``customerio-webhook#<hash of the event id>``): fixed, so
the function and the operator's replay compute the same key. Powertools' default prefix holds the
Lambda function's name, which the command line does not have."""

Work = Callable[[], dict[str, Any]]


class Deduplicator(Protocol):
    """Runs ``work`` once per event id; returns its result and whether this call was a duplicate."""

    def __call__(
        self, event_id: str, work: Work, *, workspace: str | None = None
    ) -> tuple[dict[str, Any], bool]: ...


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools calls this only when it hands back a stored result: the event was a duplicate."""
    return {**response, "duplicate": True}


def _run(*, key: dict[str, Any], work: Work) -> dict[str, Any]:
    """What Powertools makes idempotent: ``key`` is hashed (never the event), ``work`` runs."""
    return work()


class IdempotencyDeduplicator:
    """A Deduplicator over a Powertools persistence layer; tests pass an in-memory layer."""

    def __init__(self, persistence: BasePersistenceLayer, *, expires_after_seconds: int) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath="event_id",
            expires_after_seconds=expires_after_seconds,
            raise_on_no_idempotency_key=True,
            response_hook=_mark_duplicate,
        )
        self._run = idempotent_function(
            data_keyword_argument="key",
            persistence_store=persistence,
            config=self.config,
            key_prefix=KEY_PREFIX,
        )(_run)

    def register_lambda_context(self, context: LambdaContext) -> None:
        """An in-progress record then expires with the invocation (Powertools' in-progress expiry)."""
        self.config.register_lambda_context(context)

    def __call__(
        self, event_id: str, work: Work, *, workspace: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Run ``work`` once per ``event_id`` of ``workspace`` (None: the primary's key format)."""
        key: Any = event_id if workspace is None else [workspace, event_id]
        result: dict[str, Any] = dict(self._run(key={"event_id": key}, work=work))
        duplicate = bool(result.pop("duplicate", False))
        return result, duplicate


def dynamodb_deduplicator(
    table: str,
    *,
    expires_after_seconds: int,
    boto_config: Config | None = None,
    client: DynamoDBClient | None = None,
) -> IdempotencyDeduplicator:
    """The stack's deduplicator: Powertools' DynamoDB layer on the idempotency table, with
    ``client`` when given (the webhook passes its time-budgeted one), else a client of its own
    with ``boto_config``."""
    if client is not None:
        persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
    else:
        persistence = DynamoDBPersistenceLayer(table_name=table, boto_config=boto_config)
    return IdempotencyDeduplicator(persistence, expires_after_seconds=expires_after_seconds)
