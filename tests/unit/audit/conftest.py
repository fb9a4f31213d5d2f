"""Audit unit constants. The moto audit table, the DynamoDB store and ``any_store`` (each backend in
turn, for the contract both must keep) are shared fixtures in ``fixtures.audit``."""

from __future__ import annotations

from datetime import UTC, datetime

from fixtures.audit import AUDIT_TABLE, audit_items

PEPPER = b"unit-pepper-0123456789abcdef0123456789abcdef"
TABLE = AUDIT_TABLE
scan = audit_items
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
