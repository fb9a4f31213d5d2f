"""ciosec.sandbox.people through Track v1: people with an id and an email, suppression of both,
calls referencing a suppressed identifier ignored, cio_id references, the 150-byte id limit
(shared/CUSTOMERIO.md; docs.customer.io Journeys Track API)."""

from __future__ import annotations

import httpx
import pytest

from ciosec.sandbox import Sandbox

from .conftest import CUSTOMERS, identify


def test_a_person_has_an_id_and_an_email(sandbox: Sandbox, http: httpx.Client) -> None:
    identify(http, "u1", {"email": "Jane@Example.com", "plan": "pro"})
    person = sandbox.person("u1")
    assert person is not None
    assert (person["id"], person["email"], person["key"]) == ("u1", "Jane@Example.com", "u1")
    assert person["cio_id"]
    # Emails are case-insensitive: the same person, whichever identifier names them.
    assert sandbox.person("jane@example.com") == person
    assert sandbox.person(f"cio_{person['cio_id']}") == person
    assert sandbox.people() == {"u1": {"email": "Jane@Example.com", "plan": "pro"}}


@pytest.mark.parametrize("by", ["u1", "jane@example.com"])
def test_suppress_deletes_and_suppresses_both_the_id_and_the_email(
    sandbox: Sandbox, http: httpx.Client, by: str
) -> None:
    identify(http, "u1", {"email": "Jane@Example.com"})
    assert http.post(f"{CUSTOMERS}/{by}/suppress").json() == {}
    assert sandbox.people() == {}
    assert {s.casefold() for s in sandbox.suppressed()} == {"u1", "jane@example.com"}
    # Later calls referencing either identifier are ignored (200, nothing happens).
    assert identify(http, "u1", {"plan": "again"}).status_code == 200
    assert identify(http, "JANE@example.com").status_code == 200
    assert identify(http, "u2", {"email": "jane@example.com"}).status_code == 200  # a body identifier too
    assert http.post(f"{CUSTOMERS}/u1/events", json={"name": "x"}).status_code == 200
    assert sandbox.people() == {}
    # Unsuppressing either lifts both; the profile is not restored.
    assert http.post(f"{CUSTOMERS}/JANE@EXAMPLE.COM/unsuppress").status_code == 200
    assert sandbox.suppressed() == set()
    assert sandbox.people() == {}
    identify(http, "u1")
    assert set(sandbox.people()) == {"u1"}


def test_suppress_of_one_identifier_leaves_an_unrelated_person(sandbox: Sandbox, http: httpx.Client) -> None:
    identify(http, "u1", {"email": "a@example.com"})
    identify(http, "u2", {"email": "b@example.com"})
    http.post(f"{CUSTOMERS}/u1/suppress")
    assert set(sandbox.people()) == {"u2"}
    assert sandbox.suppressed() == {"u1", "a@example.com"}


def test_delete_of_a_suppressed_identifier_is_ignored_and_answers_200(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    http.post(f"{CUSTOMERS}/u1/suppress")
    assert http.delete(f"{CUSTOMERS}/u1").json() == {}
    assert sandbox.suppressed() == {"u1"}


def test_body_identifiers_link_the_person_and_conflicts_change_nothing(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    identify(http, "a@example.com", {"plan": "free"})
    identify(http, "u9", {"email": "a@example.com", "plan": "pro"})  # the same person gets the id
    assert set(sandbox.people()) == {"a@example.com"}
    assert sandbox.person("u9") == sandbox.person("a@example.com")
    identify(http, "b@example.com")
    # The path and the body name two different people: an Attribute Update Failure (200, nothing).
    assert identify(http, "u9", {"email": "b@example.com", "plan": "stolen"}).status_code == 200
    assert sandbox.people()["a@example.com"]["plan"] == "pro"
    assert sandbox.person("b@example.com")["id"] is None  # type: ignore[index]


def test_a_cio_id_reference_updates_but_never_creates(sandbox: Sandbox, http: httpx.Client) -> None:
    assert identify(http, "cio_ffff0001", {"plan": "pro"}).status_code == 200
    assert http.post(f"{CUSTOMERS}/cio_ffff0001/events", json={"name": "x"}).status_code == 200
    assert sandbox.people() == {}  # "If the cio_id does not exist ... we'll drop the request"
    sandbox.add_person("cio_03000001", {"plan": "free"})
    identify(http, "cio_03000001", {"plan": "pro", "email": "c@example.com"})
    assert sandbox.person("c@example.com")["cio_id"] == "03000001"  # type: ignore[index]
    http.post(f"{CUSTOMERS}/cio_03000001/suppress")
    assert sandbox.suppressed() == {"cio_03000001", "c@example.com"}


def test_update_only_identify_never_creates(sandbox: Sandbox, http: httpx.Client) -> None:
    identify(http, "u1", {"_update": True, "plan": "pro"})
    assert sandbox.people() == {}
    identify(http, "u1")
    identify(http, "u1", {"_update": True, "plan": "pro"})
    assert sandbox.people() == {"u1": {"plan": "pro"}}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST suppress", "POST unsuppress", "POST events"])
def test_ids_over_150_bytes_are_refused_with_the_documented_400_body(http: httpx.Client, method: str) -> None:
    verb, _, action = method.partition(" ")
    suffix = f"/{action}" if action else ""
    body = {"name": "x"} if action == "events" else ({} if verb == "PUT" else None)
    # 150 bytes: 75 two-byte characters. Customer.io's limit is in bytes, not characters.
    fits, over = "é" * 75, "é" * 75 + "x"
    assert len(fits.encode()) == 150
    assert http.request(verb, f"{CUSTOMERS}/{fits}{suffix}", json=body).status_code == 200
    refused = http.request(verb, f"{CUSTOMERS}/{over}{suffix}", json=body)
    assert refused.status_code == 400  # undocumented: chosen here, see track_api
    assert refused.json() == {"meta": {"errors": ["id is longer than 150 bytes"]}}


def test_the_150_byte_limit_is_for_ids_only(sandbox: Sandbox, http: httpx.Client) -> None:
    long_email = "x" * 200 + "@example.com"
    assert identify(http, long_email).status_code == 200
    assert identify(http, "u1", {"id": "y" * 151}).status_code == 400  # a body id is an id too
    assert set(sandbox.people()) == {long_email}


def test_seeded_people_take_their_identifiers_from_the_attributes(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.add_person("u1", {"email": "d@example.com", "plan": "pro"})
    assert sandbox.person("d@example.com")["id"] == "u1"  # type: ignore[index]
    http.post(f"{CUSTOMERS}/d@example.com/suppress")
    assert sandbox.suppressed() == {"u1", "d@example.com"}
