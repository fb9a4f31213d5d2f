"""TrackClient through real HTTP to the sandbox on 127.0.0.1 (and httpx.MockTransport where the
real Track URLs are involved)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import unquote

import httpx
import pytest

from cio_security.customerio import (
    DEFAULT_TIMEOUT,
    RegionInfo,
    RetryPolicy,
    TokenBucket,
    TrackClient,
    TrackResponse,
    parse_retry_after,
    track_path,
)
from cio_security.customerio.retry import DEFAULT
from cio_security.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    CustomerIOError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    RedirectRefusedError,
    ServerError,
    TransientError,
    TransportError,
)
from cio_security.secrets.models import TrackCredentials
from ciosec.sandbox import CredentialSet, Sandbox
from fixtures.logs import sensitive
from fixtures.sandbox import (
    FAST_RETRY,
    SANDBOX_API_KEY,
    SANDBOX_ENVIRONMENT_ID,
    SANDBOX_SITE_ID,
    SANDBOX_TRACK_CREDENTIALS,
    TEST_PEPPER,
    RecordedSleep,
    track_credentials,
)

CUSTOMERS = "/api/v1/customers"
CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0000"


def fast(**changes) -> RetryPolicy:
    """The sandbox retry policy (1 s timeouts) with ``changes``."""
    return FAST_RETRY.with_changes(**changes)


def make_client(sandbox: Sandbox, **overrides) -> TrackClient:
    options = {
        "base_url": sandbox.url,
        "retry": FAST_RETRY,
        "pepper": TEST_PEPPER,
        "sleep": RecordedSleep(),
        "random": lambda: 0.5,
    }
    options.update(overrides)
    credentials = options.pop("credentials", SANDBOX_TRACK_CREDENTIALS)
    return TrackClient(credentials, **options)


def sleeps(client: TrackClient) -> list[float]:
    return client._sender._sleep.calls  # type: ignore[attr-defined]


# -- the Track operations --------------------------------------------------------------------------


def test_identify_puts_sanitized_attributes(sandbox: Sandbox, track_client: TrackClient) -> None:
    sensitive(PHONE)
    response = track_client.identify("user-1", {"plan": "pro", "phone": PHONE, "note": f"card {CARD}"})
    assert response.status == 200
    record = sandbox.requests()[-1]
    assert (record.method, record.raw_path, record.site_id) == ("PUT", f"{CUSTOMERS}/user-1", SANDBOX_SITE_ID)
    attributes = sandbox.people()["user-1"]
    assert attributes["plan"] == "pro"
    assert "phone" not in attributes
    assert len(attributes["phone_hash"]) == 64
    wire = json.dumps(sandbox.state())
    assert "4111" not in wire
    assert PHONE not in wire


def test_track_posts_name_and_sanitized_data(sandbox: Sandbox, track_client: TrackClient) -> None:
    track_client.track("user-2", "purchase", {"amount": 10, "card": CARD, "phone": PHONE})
    record = sandbox.requests()[-1]
    assert (record.method, record.raw_path) == ("POST", f"{CUSTOMERS}/user-2/events")
    assert record.body["name"] == "purchase"
    assert record.body["data"]["amount"] == 10
    assert "phone_hash" in record.body["data"]
    assert "4111" not in json.dumps(record.body)
    assert [e["name"] for e in sandbox.events("user-2")] == ["purchase"]
    track_client.track("user-2", "login")
    assert sandbox.requests()[-1].body == {"name": "login", "data": {}}


def test_suppress_unsuppress_and_delete(sandbox: Sandbox, track_client: TrackClient) -> None:
    sandbox.add_person("user-3", {"plan": "pro"})
    assert track_client.suppress("user-3").status == 200
    assert sandbox.people() == {}
    assert sandbox.suppressed() == {"user-3"}
    assert track_client.unsuppress("user-3").status == 200
    assert sandbox.suppressed() == set()
    sandbox.add_person("user-3")
    assert track_client.delete("user-3").status == 200
    assert sandbox.people() == {}
    assert [(r.method, r.raw_path) for r in sandbox.requests()] == [
        ("POST", f"{CUSTOMERS}/user-3/suppress"),
        ("POST", f"{CUSTOMERS}/user-3/unsuppress"),
        ("DELETE", f"{CUSTOMERS}/user-3"),
    ]


def test_delete_of_someone_who_never_existed_is_200(sandbox: Sandbox, track_client: TrackClient) -> None:
    # Customer.io documents 200 (and 401) only: the Track API never says whether a person existed.
    response = track_client.delete("ghost")
    assert response == TrackResponse(200, sandbox.requests()[-1].request_id)


def test_delete_404_is_a_wrong_url_not_already_gone(sandbox: Sandbox, track_client: TrackClient) -> None:
    sandbox.fail_next(status=404, operation="delete")  # a proxy or a wrong base URL answering
    with pytest.raises(NotFoundError) as caught:
        track_client.delete("ghost")
    assert caught.value.status == 404
    assert len(sandbox.requests()) == 1  # permanent: not retried


def test_response_carries_the_request_id(sandbox: Sandbox, track_client: TrackClient) -> None:
    response = track_client.suppress("user-4")
    assert response.request_id == sandbox.requests()[-1].request_id
    assert response.request_id.startswith("sbx-")


def test_region(sandbox: Sandbox, track_client: TrackClient) -> None:
    info = track_client.region()
    assert info == RegionInfo(
        url="https://track.customer.io", region="us", environment_id=SANDBOX_ENVIRONMENT_ID
    )
    eu = sandbox.add_credentials(
        CredentialSet(site_id="eu", api_key="eu-key-123", environment_id=9, region="eu")
    )
    with make_client(sandbox, credentials=track_credentials(eu)) as client:
        assert client.region() == RegionInfo(
            url="https://track-eu.customer.io", region="eu", environment_id=9
        )


def test_region_with_an_unexpected_body_is_permanent(sandbox: Sandbox, track_client: TrackClient) -> None:
    sandbox.fail_next(1, 200, operation="region")  # 200 with {} as body
    with pytest.raises(PermanentError) as caught:
        track_client.region()
    assert caught.value.status == 200


# -- input validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["", None, 42])
def test_empty_or_non_string_identifier_is_refused_before_any_request(
    sandbox: Sandbox, track_client: TrackClient, identifier
) -> None:
    for call in (
        lambda: track_client.delete(identifier),
        lambda: track_client.suppress(identifier),
        lambda: track_client.identify(identifier, {}),
        lambda: track_client.track(identifier, "event"),
    ):
        with pytest.raises(BadRequestError):
            call()
    assert sandbox.requests() == []


def test_event_name_is_required(sandbox: Sandbox, track_client: TrackClient) -> None:
    with pytest.raises(BadRequestError):
        track_client.track("user", "")
    assert sandbox.requests() == []


def test_identify_and_track_need_a_pepper(sandbox: Sandbox) -> None:
    with make_client(sandbox, pepper=None) as client:
        with pytest.raises(ConfigurationError):
            client.identify("user", {"plan": "pro"})
        with pytest.raises(ConfigurationError):
            client.track("user", "event", {"a": 1})
        assert sandbox.requests() == []
        assert client.suppress("user").status == 200  # no attributes, no pepper needed


def test_attributes_must_be_a_mapping(track_client: TrackClient) -> None:
    with pytest.raises(BadRequestError):
        track_client.identify("user", ["not", "a", "mapping"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://127.0.0.1",
        "http://user:pw@127.0.0.1",
        "https://",
        "not a url",
        "http://127.0.0.1/?q=1",
        "//host",
    ],
)
def test_base_url_is_validated(base_url: str) -> None:
    with pytest.raises(ConfigurationError):
        TrackClient(SANDBOX_TRACK_CREDENTIALS, base_url=base_url)


@pytest.mark.parametrize(
    "options",
    [
        {"max_attempts": 0},
        {"backoff_base": -1.0},
        {"backoff_cap": float("nan")},
        {"retry_after_cap": float("inf")},
    ],
)
def test_retry_settings_are_validated(options: dict) -> None:
    with pytest.raises(ConfigurationError):
        TrackClient(SANDBOX_TRACK_CREDENTIALS, retry=DEFAULT.with_changes(**options))


@pytest.mark.parametrize("options", [{"pepper": ""}, {"retry": 3}])
def test_settings_are_validated(options: dict) -> None:
    with pytest.raises(ConfigurationError):
        TrackClient(SANDBOX_TRACK_CREDENTIALS, **options)


def test_credentials_must_be_credentials_or_a_provider(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigurationError):
        TrackClient("site:key")  # type: ignore[arg-type]
    bad_provider = make_client(sandbox, credentials=lambda refresh: {"site_id": "s"})
    with bad_provider as client, pytest.raises(ConfigurationError):
        client.suppress("user")


def test_default_timeout_is_explicit() -> None:
    assert None not in (
        DEFAULT_TIMEOUT.connect,
        DEFAULT_TIMEOUT.read,
        DEFAULT_TIMEOUT.write,
        DEFAULT_TIMEOUT.pool,
    )


# -- the real Track URLs (no network: httpx.MockTransport) ---------------------------------------------


@pytest.mark.parametrize(("region", "host"), [("us", "track.customer.io"), ("eu", "track-eu.customer.io")])
def test_default_base_url_follows_the_region(region: str, host: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"X-Request-Id": "abc-123"})

    credentials = TrackCredentials(site_id="site", api_key="key-xyz", region=region)
    with TrackClient(credentials, transport=httpx.MockTransport(handler)) as client:
        assert client.suppress("a/b") == TrackResponse(200, "abc-123")
    request = seen[0]
    assert (request.url.scheme, request.url.host) == ("https", host)
    assert request.url.raw_path == b"/api/v1/customers/a%2Fb/suppress"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"site:key-xyz").decode()
    assert request.headers["User-Agent"].startswith("cio-security/")


def test_a_hostile_request_id_header_is_ignored() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"X-Request-Id": "x" * 500})

    with TrackClient(SANDBOX_TRACK_CREDENTIALS, transport=httpx.MockTransport(handler)) as client:
        assert client.suppress("user").request_id is None


# -- hostile identifiers ---------------------------------------------------------------------------------

HOSTILE = {
    "a/b": "a%2Fb",
    "../accounts/region": "..%2Faccounts%2Fregion",
    "x?y#z": "x%3Fy%23z",
    "%2F": "%252F",
    "Zoë/李": "Zo%C3%AB%2F%E6%9D%8E",
    "first+last@example.com": "first%2Blast%40example.com",
    "..": "%2E%2E",
    ".": "%2E",
    "%2E%2E": "%252E%252E",
    "a b;c=d&e\\f": "a%20b%3Bc%3Dd%26e%5Cf",
    "line\nbreak\r\x00": "line%0Abreak%0D%00",
}


@pytest.mark.parametrize("identifier", list(HOSTILE), ids=[repr(i) for i in HOSTILE])
def test_hostile_identifiers_arrive_as_exactly_one_segment(
    sandbox: Sandbox, track_client: TrackClient, identifier: str
) -> None:
    sensitive(identifier)
    track_client.suppress(identifier)
    track_client.identify(identifier, {"plan": "pro"})
    track_client.delete(identifier)
    suppress, identify, delete = sandbox.requests()
    assert suppress.raw_path == f"{CUSTOMERS}/{HOSTILE[identifier]}/suppress"
    assert identify.raw_path == delete.raw_path == f"{CUSTOMERS}/{HOSTILE[identifier]}"
    for record in (suppress, identify, delete):
        segment = record.raw_path.split("/")[4]
        assert unquote(segment) == identifier
        assert record.identifier == identifier
        assert record.status == 200
    assert sandbox.suppressed() == {identifier}
    assert sandbox.people() == {}  # identify was ignored: the very same identifier was suppressed


def test_track_path_encodes_every_separator() -> None:
    assert track_path("api", "v1", "customers", "../../x", "events") == "/api/v1/customers/..%2F..%2Fx/events"
    assert track_path("a", ".", "..", "...") == "/a/%2E/%2E%2E/..."


# -- authentication and the credentials provider ----------------------------------------------------------


def test_wrong_key_is_an_authentication_error(sandbox: Sandbox) -> None:
    wrong = TrackCredentials(site_id=SANDBOX_SITE_ID, api_key="wrong-key-000")
    with make_client(sandbox, credentials=wrong) as client, pytest.raises(AuthenticationError) as caught:
        client.suppress("user")
    assert caught.value.status == 401
    assert len(sandbox.requests()) == 1  # fixed credentials: nothing to re-read, no retry


class Provider:
    """Returns ``stale`` until asked to refresh, then ``fresh``; records every call."""

    def __init__(self, stale: TrackCredentials, fresh: TrackCredentials) -> None:
        self.stale, self.fresh = stale, fresh
        self.calls: list[bool] = []
        self.refreshed = False

    def __call__(self, refresh: bool) -> TrackCredentials:
        self.calls.append(refresh)
        self.refreshed = self.refreshed or refresh
        return self.fresh if self.refreshed else self.stale


def test_401_rereads_rotated_credentials_once_and_succeeds(sandbox: Sandbox) -> None:
    revoked = TrackCredentials(site_id="old-site", api_key="revoked-key-1")
    provider = Provider(revoked, SANDBOX_TRACK_CREDENTIALS)
    with make_client(sandbox, credentials=provider) as client:
        assert client.suppress("user").status == 200
        assert provider.calls == [False, True]
        assert [(r.status, r.site_id) for r in sandbox.requests()] == [(401, None), (200, SANDBOX_SITE_ID)]
        assert client.delete("user").status == 200
    assert provider.calls == [False, True, False]
    assert sleeps(client) == []


def test_401_with_unchanged_credentials_after_reread_fails(sandbox: Sandbox) -> None:
    revoked = TrackCredentials(site_id=SANDBOX_SITE_ID, api_key="revoked-key-2")
    provider = Provider(revoked, revoked)
    with make_client(sandbox, credentials=provider) as client, pytest.raises(AuthenticationError) as caught:
        client.suppress("user")
    assert caught.value.status == 401
    assert provider.calls == [False, True]
    assert len(sandbox.requests()) == 1


def test_401_after_rotation_too_fails_without_a_second_reread(sandbox: Sandbox) -> None:
    provider = Provider(
        TrackCredentials(site_id="s", api_key="revoked-key-3"),
        TrackCredentials(site_id="s", api_key="also-bad-4"),
    )
    with make_client(sandbox, credentials=provider) as client, pytest.raises(AuthenticationError):
        client.suppress("user")
    assert provider.calls == [False, True]
    assert len(sandbox.requests()) == 2


def test_403_is_permanent_and_not_reread(sandbox: Sandbox) -> None:
    provider = Provider(SANDBOX_TRACK_CREDENTIALS, SANDBOX_TRACK_CREDENTIALS)
    sandbox.fail_next(1, 403)
    with make_client(sandbox, credentials=provider) as client, pytest.raises(AuthenticationError) as caught:
        client.suppress("user")
    assert caught.value.status == 403
    assert provider.calls == [False]


@pytest.mark.parametrize(
    ("status", "error"), [(400, BadRequestError), (422, BadRequestError), (404, NotFoundError)]
)
def test_permanent_statuses_are_not_retried(
    sandbox: Sandbox, track_client: TrackClient, status: int, error: type[Exception]
) -> None:
    sandbox.fail_next(1, status)
    with pytest.raises(error) as caught:
        track_client.suppress("user")
    assert caught.value.status == status
    assert len(sandbox.requests()) == 1


# -- retries ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_transient_statuses_are_retried_with_full_jitter(
    sandbox: Sandbox, track_client: TrackClient, status: int
) -> None:
    sandbox.fail_next(3, status)
    assert track_client.suppress("user").status == 200
    assert [r.status for r in sandbox.requests()] == [status, status, status, 200]
    # random() = 0.5: 0.5 * min(5.0, 0.2 * 2**n) for n = 0, 1, 2
    assert sleeps(track_client) == pytest.approx([0.1, 0.2, 0.4])


def test_backoff_is_capped(sandbox: Sandbox) -> None:
    sandbox.fail_next(3, 500)
    with make_client(sandbox, random=lambda: 1.0, retry=fast(backoff_base=1.0, backoff_cap=1.5)) as client:
        client.suppress("user")
    assert sleeps(client) == [1.0, 1.5, 1.5]


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, ServerError), (503, ServerError), (408, TransientError), (429, RateLimitedError)],
)
def test_exhausted_attempts_raise_the_transient_error(
    sandbox: Sandbox, track_client: TrackClient, status: int, error: type[TransientError]
) -> None:
    sandbox.fail_next(4, status)
    with pytest.raises(error) as caught:
        track_client.delete("user")
    assert caught.value.status == status
    assert caught.value.request_id == sandbox.requests()[-1].request_id
    assert caught.value.operation == "delete"
    assert len(sandbox.requests()) == 4
    assert len(sleeps(track_client)) == 3


def test_retry_after_seconds_is_honoured(sandbox: Sandbox, track_client: TrackClient) -> None:
    sandbox.fail_next(1, 429, headers={"Retry-After": "3"})
    sandbox.fail_next(1, 503, headers={"Retry-After": "0"})
    assert track_client.suppress("user").status == 200
    assert sleeps(track_client) == [3.0, 0.2]  # 0 s asked: the backoff applies


def test_retry_after_http_date_is_honoured(sandbox: Sandbox, track_client: TrackClient) -> None:
    when = datetime.now(UTC) + timedelta(seconds=6)
    sandbox.fail_next(1, 429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    track_client.suppress("user")
    assert 4.0 <= sleeps(track_client)[0] <= 6.5


def test_exhausted_429_carries_retry_after(sandbox: Sandbox, track_client: TrackClient) -> None:
    sandbox.fail_next(4, 429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitedError) as caught:
        track_client.suppress("user")
    assert caught.value.retry_after == 2.0
    assert sleeps(track_client) == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_beyond_the_cap_raises_at_once_for_the_caller_to_defer(
    sandbox: Sandbox, track_client: TrackClient, status: int
) -> None:
    sandbox.fail_next(1, status, headers={"Retry-After": "120"})
    with pytest.raises(RateLimitedError) as caught:
        track_client.suppress("user")
    assert (caught.value.status, caught.value.retry_after) == (status, 120.0)
    assert sleeps(track_client) == []
    assert len(sandbox.requests()) == 1


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_retry_after_is_honoured_on_every_retried_status(
    sandbox: Sandbox, track_client: TrackClient, status: int
) -> None:
    # DESIGN section 4: transient failures (429, 5xx, timeouts) are retried with backoff that
    # honours Retry-After, not only 429 and 503.
    sandbox.fail_next(1, status, headers={"Retry-After": "3"})
    sandbox.fail_next(1, status, headers={"Retry-After": "0"})
    assert track_client.suppress("user").status == 200
    assert [r.status for r in sandbox.requests()] == [status, status, 200]
    assert sleeps(track_client) == [3.0, 0.2]  # 0 s asked: the backoff applies


@pytest.mark.parametrize("status", [500, 502])
def test_retry_after_http_date_is_honoured_on_a_server_error(
    sandbox: Sandbox, track_client: TrackClient, status: int
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=6)
    sandbox.fail_next(1, status, headers={"Retry-After": format_datetime(when, usegmt=True)})
    assert track_client.suppress("user").status == 200
    assert 4.0 <= sleeps(track_client)[0] <= 6.5


@pytest.mark.parametrize("status", [500, 502, 408])
def test_a_retried_status_asking_beyond_the_cap_raises_at_once(
    sandbox: Sandbox, track_client: TrackClient, status: int
) -> None:
    sandbox.fail_next(1, status, headers={"Retry-After": "120"})
    with pytest.raises(RateLimitedError) as caught:
        track_client.suppress("user")
    assert (caught.value.status, caught.value.retry_after) == (status, 120.0)
    assert sleeps(track_client) == []
    assert len(sandbox.requests()) == 1


def test_timeouts_are_retried_then_reported(sandbox: Sandbox) -> None:
    sandbox.fail_next(4, kind="timeout", hang_seconds=1.0)
    timeout = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)
    started = time.monotonic()
    with make_client(sandbox, retry=fast(timeout=timeout)) as client, pytest.raises(TransportError) as caught:
        client.suppress("user")
    assert time.monotonic() - started < 2.0
    assert "ReadTimeout" in str(caught.value)
    assert caught.value.status is None
    assert len(sandbox.requests()) == 4


def test_a_timeout_then_success(sandbox: Sandbox) -> None:
    sandbox.fail_next(1, kind="timeout", hang_seconds=1.0)
    timeout = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)
    with make_client(sandbox, retry=fast(timeout=timeout)) as client:
        assert client.suppress("user").status == 200
    assert sandbox.suppressed() == {"user"}


def test_connection_resets_are_retried(sandbox: Sandbox, track_client: TrackClient) -> None:
    sandbox.fail_next(2, kind="reset")
    assert track_client.suppress("user").status == 200
    assert len(sandbox.requests()) == 3
    sandbox.fail_next(4, kind="reset")
    with pytest.raises(TransportError):
        track_client.suppress("user")


def test_unreachable_host_is_a_transport_error(sandbox: Sandbox) -> None:
    client = make_client(sandbox, retry=fast(max_attempts=2))
    sandbox.stop()
    with client, pytest.raises(TransportError) as caught:
        client.suppress("user")
    assert "ConnectError" in str(caught.value)


# -- rate limiting -------------------------------------------------------------------------------------


class CountingBucket(TokenBucket):
    def __init__(self) -> None:
        super().__init__(1000.0, burst=1000.0)
        self.acquired = 0

    def acquire(self) -> float:
        self.acquired += 1
        return super().acquire()


def test_every_attempt_passes_through_the_bucket(sandbox: Sandbox) -> None:
    bucket = CountingBucket()
    sandbox.fail_next(2, 500)
    with make_client(sandbox, rate_limit=bucket) as client:
        client.suppress("user")
        assert bucket.acquired == 3
        provider = Provider(TrackCredentials(site_id="s", api_key="stale-key-5"), SANDBOX_TRACK_CREDENTIALS)
    with make_client(sandbox, rate_limit=bucket, credentials=provider) as client:
        client.suppress("user")  # 401, re-read, 200
    assert bucket.acquired == 5


def test_client_pacing_stays_under_the_sandbox_limit(sandbox: Sandbox) -> None:
    rate, n = 25.0, 16
    sandbox.configure(rate_limit_rps=rate, rate_limit_burst=2)
    with make_client(sandbox, rate_limit=TokenBucket(rate), retry=fast(max_attempts=1)) as client:
        started = time.monotonic()
        for i in range(n):
            client.suppress(f"user-{i}")
        elapsed = time.monotonic() - started
    assert [r.status for r in sandbox.requests()] == [200] * n
    assert elapsed >= (n - 1) / rate * 0.95

    sandbox.clear_requests()
    with make_client(sandbox, retry=fast(max_attempts=1)) as unpaced:
        outcomes = []
        for i in range(n):
            try:
                outcomes.append(unpaced.suppress(f"user-{i}").status)
            except RateLimitedError as exc:
                outcomes.append(exc.retry_after)
    assert 429 in [r.status for r in sandbox.requests()]
    assert 1.0 in outcomes  # the sandbox's Retry-After reaches the caller


# -- redirects --------------------------------------------------------------------------------------------


def test_redirects_are_refused_and_the_other_host_receives_nothing(
    sandbox: Sandbox, track_client: TrackClient
) -> None:
    with Sandbox(
        [CredentialSet(site_id=SANDBOX_SITE_ID, api_key=SANDBOX_API_KEY, environment_id=1)]
    ) as other:
        for status in (301, 302, 307, 308):
            sandbox.fail_next(1, status, headers={"Location": f"{other.url}{CUSTOMERS}/user/suppress"})
            with pytest.raises(RedirectRefusedError) as caught:
                track_client.suppress("user")
            assert caught.value.status == status
        assert other.requests() == []
    assert len(sandbox.requests()) == 4
    assert sleeps(track_client) == []


# -- nothing sensitive in errors ----------------------------------------------------------------------------


def test_errors_never_contain_credentials_identifiers_or_payloads(sandbox: Sandbox) -> None:
    identifier = "first+last@example.com"
    secret_value = "payload-marker-8c1f"
    sensitive(identifier, secret_value)
    forbidden = [
        SANDBOX_API_KEY,
        identifier,
        "first+last",
        "first%2Blast",
        secret_value,
        TEST_PEPPER,
        base64.b64encode(f"{SANDBOX_SITE_ID}:{SANDBOX_API_KEY}".encode()).decode(),
    ]
    errors: list[CustomerIOError] = []
    timeout = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)
    with make_client(sandbox, retry=fast(max_attempts=2, timeout=timeout)) as client:
        scripts = [
            {"status": 400},
            {"status": 404},
            {"status": 403},
            {"status": 500, "times": 2},
            {"status": 429, "times": 2, "headers": {"Retry-After": "1"}},
            {"status": 429, "headers": {"Retry-After": "999"}},
            {"status": 302, "headers": {"Location": f"http://127.0.0.1:9/{identifier}"}},
            {"kind": "reset", "times": 2},
            {"kind": "timeout", "times": 2, "hang_seconds": 0.5},
        ]
        for script in scripts:
            sandbox.fail_next(**script)
            with pytest.raises(CustomerIOError) as caught:
                client.identify(identifier, {"note": secret_value})
            errors.append(caught.value)
    wrong = TrackCredentials(site_id=SANDBOX_SITE_ID, api_key=SANDBOX_API_KEY + "-wrong")
    with make_client(sandbox, credentials=wrong) as client, pytest.raises(CustomerIOError) as caught:
        client.track(identifier, "event", {"note": secret_value})
    errors.append(caught.value)
    assert len(errors) == len(scripts) + 1
    for error in errors:
        text = f"{error} {error!r} {error.args}"
        assert not [value for value in forbidden if value in text], type(error).__name__
        assert error.__cause__ is None


# -- helpers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("5", 5.0),
        (" 12 ", 12.0),
        ("-3", None),
        ("1.5", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=1445412470.0) == expected


def test_client_closes_its_connection_pool(sandbox: Sandbox) -> None:
    client = make_client(sandbox)
    client.suppress("user")
    client.close()
    with pytest.raises(RuntimeError):
        client.suppress("user")
