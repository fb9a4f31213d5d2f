"""TrackAuth, the 401 credential refresh as an httpx.Auth flow: driven by hand (no HTTP), then
through TrackClient with httpx.MockTransport for the rate limit and the region's host."""

from __future__ import annotations

import base64

import httpx
import pytest

from cio_security.customerio import TokenBucket, TrackClient
from cio_security.customerio.auth import TrackAuth
from cio_security.errors import AuthenticationError, ConfigurationError
from cio_security.secrets.models import TrackCredentials
from fixtures.logs import sensitive

STALE = TrackCredentials(site_id="site", api_key="stale-key-1", region="us")
FRESH = TrackCredentials(site_id="site", api_key="fresh-key-2", region="us")
FRESH_EU = TrackCredentials(site_id="site-eu", api_key="fresh-eu-key-3", region="eu")
PATH = "/api/v1/customers/a%2Fb"


class Provider:
    """Returns ``stale`` until asked to refresh, then ``fresh``; records every call."""

    def __init__(self, stale: TrackCredentials, fresh: TrackCredentials) -> None:
        self.stale, self.fresh = stale, fresh
        self.calls: list[bool] = []

    def __call__(self, refresh: bool) -> TrackCredentials:
        self.calls.append(refresh)
        return self.fresh if True in self.calls else self.stale


def basic(credentials: TrackCredentials) -> str:
    pair = f"{credentials.site_id}:{credentials.api_key.get_secret_value()}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def request_for(auth: TrackAuth, body: bytes = b'{"a":1}') -> httpx.Request:
    return httpx.Request("POST", auth.base_url + PATH, content=body)


@pytest.fixture(autouse=True)
def _keys_are_sensitive() -> None:
    sensitive(*(c.api_key.get_secret_value() for c in (STALE, FRESH, FRESH_EU)))


def test_a_success_needs_no_reread() -> None:
    provider = Provider(STALE, FRESH)
    auth = TrackAuth(provider)
    flow = auth.sync_auth_flow(request_for(auth))
    assert next(flow).headers["Authorization"] == basic(STALE)
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200))
    assert provider.calls == [False]


def test_401_rereads_once_and_resends_with_the_new_credentials() -> None:
    provider = Provider(STALE, FRESH)
    auth = TrackAuth(provider)
    flow = auth.sync_auth_flow(request_for(auth))
    first = next(flow)
    resent = flow.send(httpx.Response(401))
    assert provider.calls == [False, True]
    assert resent.headers["Authorization"] == basic(FRESH)
    assert (resent.url, resent.content) == (first.url, b'{"a":1}')
    with pytest.raises(StopIteration):  # a second 401 is the answer: no second re-read
        flow.send(httpx.Response(401))
    assert provider.calls == [False, True]
    assert auth.credentials == FRESH


def test_401_with_unchanged_credentials_is_not_resent() -> None:
    provider = Provider(STALE, STALE)
    auth = TrackAuth(provider)
    flow = auth.sync_auth_flow(request_for(auth))
    next(flow)
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401))
    assert provider.calls == [False, True]


@pytest.mark.parametrize("status", [403, 404, 500])
def test_other_statuses_are_not_reread(status: int) -> None:
    provider = Provider(STALE, FRESH)
    auth = TrackAuth(provider)
    flow = auth.sync_auth_flow(request_for(auth))
    next(flow)
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(status))
    assert provider.calls == [False]


def test_one_reread_per_call_across_its_attempts() -> None:
    provider = Provider(STALE, FRESH)
    auth = TrackAuth(provider)
    flow = auth.sync_auth_flow(request_for(auth))
    next(flow)
    flow.send(httpx.Response(401))  # re-sent with FRESH; the re-send then fails, say with a 500
    retry = auth.sync_auth_flow(request_for(auth))  # the call's next attempt
    assert next(retry).headers["Authorization"] == basic(FRESH)
    with pytest.raises(StopIteration):
        retry.send(httpx.Response(401))
    assert provider.calls == [False, True]


def test_the_resend_goes_to_the_new_regions_host() -> None:
    auth = TrackAuth(Provider(STALE, FRESH_EU))
    flow = auth.sync_auth_flow(request_for(auth))
    first = next(flow)
    assert first.url.host == "track.customer.io"
    resent = flow.send(httpx.Response(401))
    assert (resent.url.scheme, resent.url.host, resent.url.raw_path) == (
        "https",
        "track-eu.customer.io",
        PATH.encode(),
    )
    assert resent.headers["Host"] == "track-eu.customer.io"
    assert resent.headers["Authorization"] == basic(FRESH_EU)
    assert (resent.method, resent.content) == ("POST", b'{"a":1}')
    assert auth.base_url == "https://track-eu.customer.io"


def test_with_a_base_url_override_the_resend_stays_there() -> None:
    auth = TrackAuth(Provider(STALE, FRESH_EU), base_url="http://127.0.0.1:8080/cio")
    flow = auth.sync_auth_flow(request_for(auth))
    first = next(flow)
    resent = flow.send(httpx.Response(401))
    assert resent.url == first.url == httpx.URL("http://127.0.0.1:8080/cio" + PATH)
    assert resent.headers["Authorization"] == basic(FRESH_EU)


def test_a_provider_must_return_credentials() -> None:
    with pytest.raises(ConfigurationError):
        TrackAuth(lambda refresh: "site:key")  # type: ignore[arg-type,return-value]
    auth = TrackAuth(lambda refresh: STALE if not refresh else {"site_id": "s"})  # type: ignore[arg-type,return-value]
    flow = auth.sync_auth_flow(request_for(auth))
    next(flow)
    with pytest.raises(ConfigurationError):
        flow.send(httpx.Response(401))


# -- through TrackClient ------------------------------------------------------------------------------


class CountingBucket(TokenBucket):
    def __init__(self) -> None:
        super().__init__(1000.0, burst=1000.0)
        self.acquired = 0

    def acquire(self) -> float:
        self.acquired += 1
        return super().acquire()


def test_the_resend_takes_a_rate_limit_token() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200 if request.headers["Authorization"] == basic(FRESH) else 401)

    bucket = CountingBucket()
    with TrackClient(
        Provider(STALE, FRESH), rate_limit=bucket, transport=httpx.MockTransport(handler)
    ) as client:
        assert client.suppress("user").status == 200
    assert seen == [basic(STALE), basic(FRESH)]
    assert bucket.acquired == 2


def test_after_a_region_change_every_attempt_goes_to_the_new_host() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(401 if len(hosts) == 1 else 500 if len(hosts) == 2 else 200)

    with TrackClient(
        Provider(STALE, FRESH_EU), transport=httpx.MockTransport(handler), sleep=lambda _: None
    ) as client:
        assert client.delete("a/b").status == 200
    assert hosts == ["track.customer.io", "track-eu.customer.io", "track-eu.customer.io"]


def test_a_refused_resend_is_an_authentication_error_without_secrets() -> None:
    with (
        TrackClient(
            Provider(STALE, FRESH), transport=httpx.MockTransport(lambda r: httpx.Response(401))
        ) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.suppress("user")
    text = f"{caught.value} {caught.value!r}"
    assert caught.value.status == 401
    assert "stale-key" not in text
    assert "fresh-key" not in text
