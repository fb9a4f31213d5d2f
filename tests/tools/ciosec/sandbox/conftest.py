"""Shared by the sandbox's tests: Track and App API clients on the ``sandbox`` fixture
(tests/fixtures/sandbox.py)."""

from __future__ import annotations

import httpx
import pytest

from ciosec.sandbox import Sandbox
from fixtures.sandbox import SANDBOX_API_KEY, SANDBOX_APP_API_KEY, SANDBOX_SITE_ID

AUTH = (SANDBOX_SITE_ID, SANDBOX_API_KEY)
CUSTOMERS = "/api/v1/customers"
BEARER = {"Authorization": f"Bearer {SANDBOX_APP_API_KEY}"}


@pytest.fixture
def http(sandbox: Sandbox):
    with httpx.Client(base_url=sandbox.url, auth=AUTH, timeout=2.0) as client:
        yield client


@pytest.fixture
def app(sandbox: Sandbox):
    """The App API with the sandbox's App API key."""
    with httpx.Client(base_url=sandbox.app_url, headers=BEARER, timeout=2.0) as client:
        yield client


def identify(http: httpx.Client, raw_id: str, attributes: dict | None = None) -> httpx.Response:
    return http.put(f"{CUSTOMERS}/{raw_id}", json=attributes or {})


def entity(http: httpx.Client, action: str, identifiers: dict, **fields) -> httpx.Response:
    """POST /api/v2/entity for one person operation."""
    return http.post(
        "/api/v2/entity", json={"type": "person", "identifiers": identifiers, "action": action, **fields}
    )


def lookup(app: httpx.Client, customer_id: str, id_type: str | None = None) -> httpx.Response:
    """GET /v1/customers/{id}/attributes on the App API (``customer_id`` already URL-safe)."""
    params = {"id_type": id_type} if id_type else None
    return app.get(f"/v1/customers/{customer_id}/attributes", params=params)
