"""App API contract: the documented person lookup, batch lookup and IP list examples
(tests/contract/documented.py, with their sources), sent verbatim to the sandbox's App API
(``sandbox.app_url``, standing for https://api.customer.io). The project has no App API client
yet: the sandbox is held to the documented answers here, so a client written against it is
written against the documentation."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from ciosec.sandbox import Sandbox
from fixtures.sandbox import SANDBOX_APP_API_KEY, SANDBOX_APP_KEY, SANDBOX_CREDENTIALS

from .documented import (
    APP_ERROR_FIELDS,
    IP_ADDRESSES,
    PEOPLE_BY_ID,
    PEOPLE_BY_ID_RESPONSE_PREFIX,
    PERSON_ATTRIBUTES,
    PERSON_ATTRIBUTES_RESPONSE_PREFIX,
    Exchange,
    conforms,
    contains,
)

BEARER = {"Authorization": f"Bearer {SANDBOX_APP_API_KEY}"}


def send(sandbox: Sandbox, exchange: Exchange, *, key: bool = True, **changes: object) -> httpx.Response:
    headers = BEARER if exchange.auth == "bearer" and key else {}
    request = changes.get("request", exchange.request)
    return httpx.request(
        exchange.method,
        f"{sandbox.app_url}{changes.get('path', exchange.path)}",
        params=exchange.query,
        json=request,
        headers=headers,
        timeout=2,
    )


def seed_documented_person(sandbox: Sandbox) -> None:
    """The person of the documented response example: id 1, cio_id 03000001, test@example.com."""
    attributes = PERSON_ATTRIBUTES_RESPONSE_PREFIX["customer"]["attributes"]
    sandbox.add_person("cio_03000001", {k: v for k, v in attributes.items() if k != "cio_id"})


def test_the_documented_lookup_request_is_accepted(sandbox: Sandbox) -> None:
    sandbox.add_person("12345", {"title": "tester"})
    response = send(sandbox, PERSON_ATTRIBUTES)
    assert response.status_code == PERSON_ATTRIBUTES.status
    assert conforms(response.json(), {"customer": {"id": str, "attributes": {"id": str, "cio_id": str}}})
    assert response.json()["customer"]["id"] == "12345"


def test_the_lookup_answers_the_documented_example(sandbox: Sandbox) -> None:
    seed_documented_person(sandbox)
    response = send(sandbox, PERSON_ATTRIBUTES, path="/v1/customers/1/attributes")
    assert response.status_code == 200
    assert contains(response.json(), PERSON_ATTRIBUTES_RESPONSE_PREFIX)
    # Every attribute value is a string, as in the documented example.
    assert all(isinstance(v, str) for v in response.json()["customer"]["attributes"].values())


def test_the_lookup_answers_404_for_a_missing_person_and_401_without_the_key(sandbox: Sandbox) -> None:
    missing = send(sandbox, PERSON_ATTRIBUTES)
    assert missing.status_code == 404  # "The customer_id does not exist."
    assert conforms(missing.json(), {"errors": [APP_ERROR_FIELDS]})
    unauthorized = send(sandbox, PERSON_ATTRIBUTES, key=False)
    assert unauthorized.status_code == 401
    assert conforms(unauthorized.json(), {"errors": [APP_ERROR_FIELDS]})


def test_the_lookup_answers_429_over_10_per_second() -> None:
    frozen = 100.0  # a clock that never moves: no token comes back during the test
    with Sandbox([SANDBOX_CREDENTIALS], app_keys=[SANDBOX_APP_KEY], clock=lambda: frozen) as sandbox:
        statuses = [send(sandbox, PERSON_ATTRIBUTES).status_code for _ in range(11)]
    assert statuses == [404] * 10 + [429]  # "Your request is over the 10-per-second limit."


def test_the_documented_batch_lookup_request_is_accepted(sandbox: Sandbox) -> None:
    response = send(sandbox, PEOPLE_BY_ID)
    assert (response.status_code, response.json()) == (200, {"customers": []})  # "" names nobody: omitted


def test_the_batch_lookup_answers_the_documented_example(sandbox: Sandbox) -> None:
    seed_documented_person(sandbox)
    response = send(sandbox, PEOPLE_BY_ID, request={"ids": ["1", "2"]})
    assert response.status_code == 200
    assert contains(response.json(), PEOPLE_BY_ID_RESPONSE_PREFIX)  # "2" does not exist: omitted
    malformed = send(sandbox, PEOPLE_BY_ID, request={"ids": []})
    assert malformed.status_code == 400  # "The request is malformed."
    assert conforms(malformed.json(), {"errors": [APP_ERROR_FIELDS]})


def test_the_documented_ip_list_request_gets_the_documented_shape(sandbox: Sandbox) -> None:
    response = send(sandbox, IP_ADDRESSES)
    assert response.status_code == IP_ADDRESSES.status
    assert conforms(response.json(), {"ip_addresses": [str]})
    assert conforms(IP_ADDRESSES.response, {"ip_addresses": [str]})
    # One address per item, as documented; the sandbox's are loopback (its webhooks come from there).
    for address in IP_ADDRESSES.response["ip_addresses"]:
        ipaddress.ip_address(address)
    assert all(ipaddress.ip_address(a).is_loopback for a in response.json()["ip_addresses"])


@pytest.mark.parametrize("exchange", [PERSON_ATTRIBUTES, PEOPLE_BY_ID, IP_ADDRESSES], ids=lambda e: e.name)
def test_app_api_examples_are_not_answered_on_the_track_host(sandbox: Sandbox, exchange: Exchange) -> None:
    response = httpx.request(
        exchange.method, f"{sandbox.url}{exchange.path}", json=exchange.request, headers=BEARER
    )
    assert response.status_code == 404  # api.customer.io is another host than track.customer.io
