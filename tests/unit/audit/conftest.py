"""Audit unit fixtures: a moto audit table built from template.yaml, the DynamoDB store on it, and
each backend in turn (DynamoDB, the in-memory double) for the contract both must keep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from cio_security.audit.base import AuditBackend
from cio_security.audit.dynamodb import AuditStore
from fixtures.aws import REGION
from fixtures.memory_audit import MemoryAuditStore
from fixtures.template import table_definition

PEPPER = b"unit-pepper-0123456789abcdef0123456789abcdef"
TABLE = "audit-unit"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(TableName=TABLE, **table_definition("AuditTable"))
    return client


@pytest.fixture
def store(dynamodb: Any) -> AuditStore:
    return AuditStore(TABLE, client=dynamodb)


@pytest.fixture(params=["dynamodb", "memory"])
def any_store(request: pytest.FixtureRequest) -> AuditBackend:
    """Each audit backend in turn: the same contract holds for both."""
    if request.param == "memory":
        return MemoryAuditStore()
    return AuditStore(TABLE, client=request.getfixturevalue("dynamodb"))


def scan(dynamodb: Any) -> list[dict[str, Any]]:
    """Every item of the audit table, raw."""
    items: list[dict[str, Any]] = dynamodb.scan(TableName=TABLE)["Items"]
    return items
