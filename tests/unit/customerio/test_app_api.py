"""The App API client for erasure verification (httpx.MockTransport playing the documented App
API: docs.customer.io App API, getPersonAttributes, getPeopleById, listworkspaces)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from cio_security.customerio.app_api import APP_RATE_LIMIT_RPS, AppClient
from cio_security.customerio.retry import APP_LOOKUP
from cio_security.errors import AuthenticationError, BadRequestError, NotFoundError, ServerError
from cio_security.secrets.models import AppApiKey
from fixtures.logs import sensitive

KEY = AppApiKey(app_api_key="app-key-0123456789abcdef")
NEW_KEY = AppApiKey(app_api_key="app-key-rotated-fedcba9876")
WORKSPACES = {"workspaces": [{"id": "13XXXX", "name": "Workspace 1"}]}


class FakeAppApi:
    """The documented App API: people by id type, 404 for the gone, ``/v1/workspaces``."""

    def __init__(self, people: dict[str, set[str]] | None = None, *, key: str = "app-key-0123456789abcdef"):
        self.people = people if people is not None else {}
        self.key = key
        self.requests: list[httpx.Request] = []
        self.auths: list[str | None] = []  # as sent (an auth flow re-sends the same request object)
        self.wrong_url = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.auths.append(request.headers.get("authorization"))
        if self.wrong_url:
            return httpx.Response(404, text="Not Found")  # a proxy, not the App API
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return httpx.Response(401, json={"meta": {"error": "Unauthorized request"}})
        path = request.url.path
        if path == "/v1/workspaces":
            return httpx.Response(200, json=WORKSPACES)
        id_type = request.url.params.get("id_type", "id")
        known = self.people.get(id_type, set())
        if request.method == "POST" and path == "/v1/customers/attributes":
            ids = json.loads(request.content)["ids"]
            return httpx.Response(
                200,
                json={"customers": [{"customer": {"id": i, "attributes": {}}} for i in ids if i in known]},
            )
        parts = request.url.raw_path.decode().split("?")[0].split("/")
        if request.method == "GET" and parts[1:3] == ["v1", "customers"] and parts[4] == "attributes":
            identifier = httpx.URL("http://x/" + parts[3]).path.lstrip("/")
            if identifier in known:
                return httpx.Response(200, json={"customer": {"id": identifier, "attributes": {}}})
            return httpx.Response(404, json={"meta": {"error": "the customer_id does not exist"}})
        return httpx.Response(400)


def client_for(api: Callable[[httpx.Request], httpx.Response], key=KEY) -> AppClient:
    sensitive(KEY.app_api_key.get_secret_value(), NEW_KEY.app_api_key.get_secret_value())
    fast = APP_LOOKUP.with_changes(max_attempts=1)
    return AppClient(key, base_url="http://127.0.0.1:9", retry=fast, transport=httpx.MockTransport(api))


def test_a_404_means_gone_only_after_the_app_api_proved_itself() -> None:
    api = FakeAppApi({"id": {"u1"}})
    with client_for(api) as app:
        assert app.person_exists("id", "u1") is True
        assert app.person_exists("id", "gone") is False
    assert [r.url.path for r in api.requests] == [
        "/v1/workspaces",
        "/v1/customers/u1/attributes",
        "/v1/customers/gone/attributes",
    ]
    assert all(r.headers["authorization"] == "Bearer app-key-0123456789abcdef" for r in api.requests)


def test_a_wrong_url_never_verifies_an_erasure() -> None:
    api = FakeAppApi()
    api.wrong_url = True
    with client_for(api) as app, pytest.raises(NotFoundError):
        app.person_exists("id", "u1")


def test_lookups_name_the_identifier_type_and_strip_the_cio_prefix() -> None:
    api = FakeAppApi({"email": {"a@example.com"}, "cio_id": {"03000001"}, "phone": {"+14155552671"}})
    with client_for(api) as app:
        assert app.person_exists("email", "a@example.com") is True
        assert app.person_exists("cio_id", "cio_03000001") is True
        assert app.person_exists("phone", "+14155552671") is True
    lookups = api.requests[1:]
    assert [r.url.params["id_type"] for r in lookups] == ["email", "cio_id", "phone"]
    assert "%2B14155552671" in str(lookups[2].url) or "+14155552671" not in str(lookups[2].url)


def test_a_401_rereads_the_key_once_and_proves_the_new_one() -> None:
    api = FakeAppApi({"id": {"u1"}}, key="app-key-rotated-fedcba9876")
    reads: list[bool] = []

    def provider(refresh: bool) -> AppApiKey:
        reads.append(refresh)
        return NEW_KEY if refresh else KEY

    with client_for(api, key=provider) as app:
        assert app.person_exists("id", "u1") is True
    assert reads[:2] == [False, True]
    assert [str(a).split()[1][:12] for a in api.auths[:2]] == ["app-key-0123", "app-key-rota"]


def test_a_wrong_key_is_permanent() -> None:
    with client_for(FakeAppApi(key="another"), key=KEY) as app, pytest.raises(AuthenticationError):
        app.person_exists("id", "u1")


def test_batched_lookup_returns_who_is_still_there() -> None:
    api = FakeAppApi({"id": {"u1", "u3"}})
    with client_for(api) as app:
        assert app.existing_ids(["u1", "u2", "u3", "u1"]) == {"u1", "u3"}
    post = api.requests[-1]
    assert (post.method, post.url.path, post.url.params["id_type"]) == (
        "POST",
        "/v1/customers/attributes",
        "id",
    )
    assert json.loads(post.content) == {"ids": ["u1", "u2", "u3"]}


@pytest.mark.parametrize("body", [b"", b"[]", b"{}", b'{"customers": "x"}'])
def test_a_lookup_answer_without_a_customers_list_proves_nothing(body: bytes) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/workspaces":
            return httpx.Response(200, json=WORKSPACES)
        return httpx.Response(200, content=body)

    with client_for(api) as app, pytest.raises(ServerError):
        app.existing_ids(["u1"])


def test_batched_lookups_take_one_to_a_hundred_ids() -> None:
    with client_for(FakeAppApi()) as app:
        with pytest.raises(BadRequestError):
            app.existing_ids([])
        with pytest.raises(BadRequestError):
            app.existing_ids([str(i) for i in range(101)])


def test_the_default_pace_is_the_app_apis_ten_per_second() -> None:
    app = AppClient(KEY)
    try:
        assert app._sender.rate_limit is not None
        assert app._sender.rate_limit.rate == APP_RATE_LIMIT_RPS == 10
        assert repr(app) == "AppClient(base_url='https://api.customer.io')"
    finally:
        app.close()
    assert repr(AppClient(KEY, region="eu")) == "AppClient(base_url='https://api-eu.customer.io')"


# -- issue 14: the host from the key's region, and trust that follows the key ----------------------


def test_without_a_base_url_or_region_the_keys_region_picks_the_host() -> None:
    hosts: list[str] = []
    eu_key = AppApiKey(app_api_key="app-key-0123456789abcdef", region="eu")

    def api(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return FakeAppApi()(request)

    fast = APP_LOOKUP.with_changes(max_attempts=1)
    with AppClient(eu_key, retry=fast, transport=httpx.MockTransport(api)) as app:
        assert app.person_exists("id", "gone") is False
        assert repr(app) == "AppClient(base_url='https://api-eu.customer.io')"
    assert hosts == ["api-eu.customer.io", "api-eu.customer.io"]


def test_check_returns_the_accounts_workspace_ids() -> None:
    with client_for(FakeAppApi()) as app:
        assert app.check() == frozenset({"13XXXX"})


def test_a_key_rotated_in_is_proved_before_its_404_counts() -> None:
    api = FakeAppApi()
    keys = [KEY]

    def provider(refresh: bool) -> AppApiKey:
        return keys[-1]

    with client_for(api, key=provider) as app:
        assert app.person_exists("id", "a") is False
        keys.append(NEW_KEY)  # the cache expired: the rotated key, no 401 in between
        api.key = NEW_KEY.app_api_key.get_secret_value()
        assert app.person_exists("id", "b") is False
    assert [r.url.path for r in api.requests] == [
        "/v1/workspaces",
        "/v1/customers/a/attributes",
        "/v1/workspaces",
        "/v1/customers/b/attributes",
    ]


def test_a_404_answered_to_a_re_read_key_is_asked_again_once_the_key_is_proved() -> None:
    api = FakeAppApi()
    reads: list[bool] = []

    def provider(refresh: bool) -> AppApiKey:
        reads.append(refresh)
        return NEW_KEY if refresh or len(reads) > 3 else KEY

    with client_for(api, key=provider) as app:
        app.check()  # KEY proved
        api.key = NEW_KEY.app_api_key.get_secret_value()  # then revoked, NEW_KEY live
        assert app.person_exists("id", "gone") is False
    paths = [r.url.path for r in api.requests]
    assert paths.count("/v1/workspaces") >= 2  # the new key was proved before the 404 counted
    assert paths[-1] == "/v1/customers/gone/attributes"
