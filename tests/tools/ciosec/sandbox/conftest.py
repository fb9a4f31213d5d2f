"""Shared by the sandbox's tests: a Track client on the ``sandbox`` fixture (tests/fixtures/sandbox.py)."""

from __future__ import annotations

import httpx
import pytest

from ciosec.sandbox import Sandbox
from fixtures.sandbox import SANDBOX_API_KEY, SANDBOX_SITE_ID

AUTH = (SANDBOX_SITE_ID, SANDBOX_API_KEY)
CUSTOMERS = "/api/v1/customers"


@pytest.fixture
def http(sandbox: Sandbox):
    with httpx.Client(base_url=sandbox.url, auth=AUTH, timeout=2.0) as client:
        yield client


def identify(http: httpx.Client, raw_id: str, attributes: dict | None = None) -> httpx.Response:
    return http.put(f"{CUSTOMERS}/{raw_id}", json=attributes or {})
