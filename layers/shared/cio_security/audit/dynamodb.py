"""Audit records in DynamoDB: ``AuditStore``, the storage primitives of ``BaseAuditStore`` as
conditional writes on a table keyed by ``request_id`` (S), TTL attribute ``expires_at``.

- ``_create_record``: PutItem with ``attribute_not_exists(request_id)``, the existing item
  returned with the condition failure (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), or read
  consistently when DynamoDB leaves it out;
- ``_replace_record``: UpdateItem setting and removing only the attributes a transition
  changed (each step as ``steps.<name>``; the ``workspaces`` map, a few hundred bytes per
  workspace, whole, with the ``revision`` that every write counts up), conditional on
  ``attribute_exists(request_id) AND lease_token = :lease_token`` under a lease,
  ``attribute_exists(request_id)`` without one, and
  ``#status = :seen AND attempts = :attempts AND #revision = :revision AND
  (attribute_not_exists(lease_until) OR lease_until <= :now)`` for a write without a lease
  (taking one, a verifier's, a dead letter's);
- ``_get_record``: GetItem with ``ConsistentRead``.

>>> store = AuditStore("audit-table", client=boto3.client("dynamodb"))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NoReturn

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cio_security import config
from cio_security.audit.base import (
    BaseAuditStore,
    ConditionNotMetError,
    LeaseFree,
    RecordChanges,
    RecordExists,
    UnderLease,
    WriteCondition,
)
from cio_security.audit.record import DEFAULT_RETENTION_DAYS, AuditRecord, attribute_value, iso
from cio_security.errors import AuditError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["AuditStore"]

_CONDITION_FAILED: Final = "ConditionalCheckFailedException"


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED


def _condition_expression(condition: WriteCondition) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``(ConditionExpression, names, values)`` for ``condition``."""
    match condition:
        case UnderLease(token=token):
            return (
                "attribute_exists(request_id) AND lease_token = :lease_token",
                {},
                {":lease_token": attribute_value(token)},
            )
        case RecordExists():
            return "attribute_exists(request_id)", {}, {}
        case LeaseFree(status=status, attempts=attempts, now=now, revision=revision):
            # A record written before revisions existed has none: it reads as revision 0.
            unchanged = (
                "#revision = :revision"
                if revision
                else "(attribute_not_exists(#revision) OR #revision = :revision)"
            )
            return (
                "#status = :seen AND attempts = :attempts "
                f"AND {unchanged} "
                "AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
                {"#status": "status", "#revision": "revision"},
                {
                    ":seen": attribute_value(status),
                    ":attempts": attribute_value(attempts),
                    ":revision": attribute_value(revision),
                    ":now": attribute_value(iso(now)),
                },
            )


def _update_expression(changes: RecordChanges) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``(UpdateExpression, names, values)`` that make ``changes``: every attribute name is a
    placeholder (``status``, ``action`` and ``delete`` are reserved words), every new value
    ``:new_<name>``."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    assignments: list[str] = []
    for name, value in changes.values.items():
        names[f"#{name}"] = name
        values[f":new_{name}"] = attribute_value(value)
        assignments.append(f"#{name} = :new_{name}")
    for step, record in changes.steps.items():
        names["#steps"] = "steps"
        names[f"#step_{step}"] = step
        values[f":new_step_{step}"] = attribute_value(record.model_dump(mode="json", exclude_none=True))
        assignments.append(f"#steps.#step_{step} = :new_step_{step}")
    expression = "SET " + ", ".join(assignments)
    if changes.removed:
        names.update({f"#{name}": name for name in changes.removed})
        expression += " REMOVE " + ", ".join(f"#{name}" for name in sorted(changes.removed))
    return expression, names, values


class AuditStore(BaseAuditStore):
    """Audit records in a DynamoDB table keyed by ``request_id`` (S), TTL attribute ``expires_at``.

    ``client`` is a boto3 DynamoDB client (created with ``config.boto_config()`` on first use when
    not given); it is thread-safe, so one store serves every record of a concurrent batch.
    Every method raises AuditError when DynamoDB cannot be reached or refuses the request.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        super().__init__(retention_days=retention_days)
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        """The DynamoDB client, created on first use."""
        if self._client is None:
            self._client = boto3.client("dynamodb", config=config.boto_config())
        return self._client

    def __repr__(self) -> str:
        return f"AuditStore(table_name={self.table_name!r})"

    def _get_record(self, request_id: str) -> AuditRecord | None:
        try:
            item = self.client.get_item(
                TableName=self.table_name, Key={"request_id": {"S": request_id}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise AuditError(f"audit record {request_id} could not be read") from exc
        return AuditRecord.from_item(item) if item else None

    def _create_record(self, record: AuditRecord) -> AuditRecord | None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(request_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise AuditError(f"audit record {record.request_id} could not be written") from exc
            item: Any = exc.response.get("Item")  # type: ignore[typeddict-item,unused-ignore]
            if isinstance(item, dict) and item:
                return AuditRecord.from_item(item)
            existing = self._get_record(record.request_id)
            if existing is None:  # pragma: no cover - a condition failure means it exists
                raise AuditError(f"audit record {record.request_id} could not be written") from exc
            return existing
        except BotoCoreError as exc:
            raise AuditError(f"audit record {record.request_id} could not be written") from exc
        return None

    def _replace_record(
        self, request_id: str, changes: RecordChanges, condition: WriteCondition
    ) -> AuditRecord:
        update, names, values = _update_expression(changes)
        condition_expression, condition_names, condition_values = _condition_expression(condition)
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"request_id": {"S": request_id}},
                UpdateExpression=update,
                ConditionExpression=condition_expression,
                ExpressionAttributeNames=names | condition_names,
                ExpressionAttributeValues=values | condition_values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _condition_failed(exc):
                raise ConditionNotMetError(f"audit record {request_id} is not as the write requires") from exc
            self._refuse(request_id, condition, exc)
        except BotoCoreError as exc:
            self._refuse(request_id, condition, exc)
        return AuditRecord.from_item(response["Attributes"])

    @staticmethod
    def _refuse(request_id: str, condition: WriteCondition, exc: Exception) -> NoReturn:
        verb = "leased" if isinstance(condition, LeaseFree) else "updated"
        raise AuditError(f"audit record {request_id} could not be {verb}") from exc
