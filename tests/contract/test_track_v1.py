"""Track API v1 contract: the documented region, identify, track, suppress, unsuppress and delete
examples (tests/contract/documented.py, with their sources), (a) sent verbatim to the sandbox over
HTTP, (b) answered to the client (httpx.MockTransport) and parsed by it."""

from __future__ import annotations

import httpx
import pytest

from cio_security.customerio.track import RegionInfo, TrackClient, TrackResponse
from cio_security.errors import AuthenticationError, BadRequestError
from cio_security.secrets.models import TrackCredentials
from ciosec.sandbox import CredentialSet, Sandbox
from fixtures.sandbox import (
    FAST_RETRY,
    SANDBOX_API_KEY,
    SANDBOX_SITE_ID,
    SANDBOX_TRACK_CREDENTIALS,
    TEST_PEPPER,
)

from .documented import (
    REGION,
    REGION_RESPONSE,
    V1_400_SHAPE,
    V1_IDENTIFIERS,
    Exchange,
    conforms,
    v1_exchanges,
)

AUTH = (SANDBOX_SITE_ID, SANDBOX_API_KEY)
V1_CALLS = [(identifier, exchange) for identifier in V1_IDENTIFIERS for exchange in v1_exchanges(identifier)]
V1_IDS = [f"{exchange.name}-{identifier}" for identifier, exchange in V1_CALLS]


def send(sandbox: Sandbox, exchange: Exchange, auth: tuple[str, str] | None = AUTH) -> httpx.Response:
    return httpx.request(
        exchange.method, f"{sandbox.url}{exchange.path}", json=exchange.request, auth=auth, timeout=2
    )


def mock_client(status: int, body: bytes, **headers: str) -> TrackClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json", **headers})

    return TrackClient(
        SANDBOX_TRACK_CREDENTIALS,
        retry=FAST_RETRY.with_changes(max_attempts=1),
        transport=httpx.MockTransport(handler),
        pepper=TEST_PEPPER,
        sleep=lambda _: None,
    )


def call(client: TrackClient, name: str, identifier: str) -> TrackResponse:
    if name == "identify":
        return client.identify(identifier, {"plan": "basic"})
    if name == "track":
        return client.track(identifier, "purchase", {"product": "socks"})
    method = getattr(client, name)
    response: TrackResponse = method(identifier)
    return response


# -- (a) the sandbox ---------------------------------------------------------------------------------


def test_region_answers_exactly_the_documented_body(sandbox: Sandbox) -> None:
    documented = sandbox.add_credentials(
        CredentialSet(site_id="doc-site", api_key="doc-key", environment_id=3)
    )
    response = send(sandbox, REGION, (documented.site_id, documented.api_key))
    assert response.status_code == REGION.status
    assert response.json() == REGION_RESPONSE
    assert send(sandbox, REGION, None).status_code == 401


@pytest.mark.parametrize(("identifier", "exchange"), V1_CALLS, ids=V1_IDS)
def test_each_documented_v1_request_gets_the_documented_answer(
    sandbox: Sandbox, identifier: str, exchange: Exchange
) -> None:
    if identifier.startswith("cio_"):
        sandbox.add_person(identifier)  # a cio_id names someone Customer.io added
    response = send(sandbox, exchange)
    assert response.status_code == exchange.status
    assert response.json() == exchange.response
    # Documented 200 whether or not the person exists: the same call again, after the first.
    assert send(sandbox, exchange).json() == exchange.response
    assert send(sandbox, exchange, None).status_code == 401


def test_the_documented_calls_do_what_the_documentation_says(sandbox: Sandbox) -> None:
    identify, track, suppress, unsuppress, delete = v1_exchanges("12345")
    send(sandbox, identify)
    assert sandbox.person("12345")["email"] == "customer@example.com"  # type: ignore[index]
    send(sandbox, track)
    assert [e["name"] for e in sandbox.events("12345")] == ["purchase"]
    send(sandbox, suppress)
    assert sandbox.people() == {}
    assert sandbox.suppressed() == {"12345", "customer@example.com"}
    send(sandbox, identify)
    assert sandbox.people() == {}  # "Any future API calls ... referencing the specified ID are ignored"
    send(sandbox, unsuppress)
    assert sandbox.suppressed() == set()
    send(sandbox, identify)
    send(sandbox, delete)
    assert sandbox.people() == {}


def test_a_malformed_event_answers_the_documented_400_shape(sandbox: Sandbox) -> None:
    response = httpx.post(f"{sandbox.url}/api/v1/customers/12345/events", json={"data": {}}, auth=AUTH)
    assert response.status_code == 400
    assert conforms(response.json(), V1_400_SHAPE)


# -- (b) the client's parsing ------------------------------------------------------------------------


def test_the_client_parses_the_documented_region_body() -> None:
    with mock_client(200, httpx.Response(200, json=REGION_RESPONSE).content) as client:
        info = client.region()
    assert info == RegionInfo(url="https://track.customer.io", region="us", environment_id=3)


def test_the_client_reads_the_sandbox_region_as_documented(sandbox: Sandbox) -> None:
    documented = sandbox.add_credentials(
        CredentialSet(site_id="doc-site", api_key="doc-key", environment_id=3)
    )
    credentials = TrackCredentials(site_id=documented.site_id, api_key=documented.api_key, region="us")
    with TrackClient(credentials, base_url=sandbox.url, retry=FAST_RETRY) as client:
        assert client.region() == RegionInfo.model_validate(REGION_RESPONSE)


@pytest.mark.parametrize("name", ["identify", "track", "suppress", "unsuppress", "delete"])
def test_the_client_reads_the_documented_200_and_401(name: str) -> None:
    with mock_client(200, b"{}", **{"x-request-id": "req-1"}) as client:
        assert call(client, name, "12345") == TrackResponse(200, "req-1")
    with mock_client(401, b"") as client, pytest.raises(AuthenticationError) as caught:
        call(client, name, "12345")
    assert caught.value.status == 401


def test_the_client_reads_a_documented_400_as_a_bad_request() -> None:
    body = b'{"meta": {"errors": ["a name is required"]}}'
    with mock_client(400, body) as client, pytest.raises(BadRequestError) as caught:
        client.track("12345", "purchase")
    assert caught.value.status == 400
    assert "a name is required" not in str(caught.value)  # the body may quote what was sent


@pytest.mark.parametrize("identifier", V1_IDENTIFIERS)
def test_the_client_and_the_sandbox_agree_on_every_documented_call(
    sandbox: Sandbox, track_client: TrackClient, identifier: str
) -> None:
    if identifier.startswith("cio_"):
        sandbox.add_person(identifier)
    for exchange in v1_exchanges(identifier):
        assert call(track_client, exchange.name, identifier).status == exchange.status
        assert sandbox.requests()[-1].raw_path == exchange.path.replace("@", "%40")
