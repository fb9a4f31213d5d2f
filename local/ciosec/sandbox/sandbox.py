"""``Sandbox``: the Customer.io sandbox's state (Track credential sets, App API keys, workspaces,
the request log, settings, scripted faults, reporting webhook senders), its Python API for tests,
and its lifecycle (``start``/``stop``).

Each Track request goes: latency (in the HTTP server), the fault injection (before auth, as a
proxy's 503 would), authentication, the rate limit, then the semantics of
``ciosec.sandbox.track_api`` (v1) or ``ciosec.sandbox.track_v2``. An App API request (under
``/app``) goes: latency, scripted faults, its Bearer key, the key's rate limit, then
``ciosec.sandbox.app_api``. Every request is logged as a ``RequestRecord``. Nothing is logged to
the ``logging`` module per request: paths hold identifiers and headers hold credentials.
"""

from __future__ import annotations

import contextlib
import copy
import math
import secrets as random_tokens
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self

from cio_security.customerio.ratelimit import TokenBucket
from ciosec.sandbox import admin_api, app_api, people, track_api, track_v2
from ciosec.sandbox.config import APP_PREFIX, HOST, SandboxConfig, app_rate_limiter, rate_limiter
from ciosec.sandbox.faults import (
    ErrorBody,
    FaultInjector,
    Faults,
    OperationFault,
    ScriptedFault,
    rate_limited_reply,
)
from ciosec.sandbox.models import (
    AppApiKey,
    CredentialSet,
    IdentifierType,
    Operation,
    Reply,
    RequestRecord,
    Workspace,
    app_error_reply,
    error_reply,
    workspace_key,
)
from ciosec.sandbox.server import SandboxHTTPServer
from ciosec.sandbox.webhooks import DeliveryPolicy, FastForwardClock, RetrySigning, WebhookSender

MAX_LOGGED_REQUESTS: int | None = 10_000
"""The request log keeps the newest entries: a long ``make local`` session stays small."""


class Sandbox:
    """The Customer.io sandbox (Track v1 and v2 at ``url``, the App API at ``app_url``):
    ``start()``, use it, ``stop()`` (or use it as a context manager). Bound on 127.0.0.1 only;
    ``port=0`` picks a free port. ``clock`` (monotonic seconds) drives the rate limits and the
    processing delay, so tests can run them on a fake clock."""

    def __init__(
        self,
        credentials: Sequence[CredentialSet] = (),
        *,
        app_keys: Sequence[AppApiKey] = (),
        port: int = 0,
        config: SandboxConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._initial_credentials = tuple(credentials)
        self._initial_app_keys = tuple(app_keys)
        self._initial_config = config or SandboxConfig()
        self._port = port
        self._clock = clock
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._credentials: dict[str, CredentialSet] = {}
        self._app_keys: dict[str, AppApiKey] = {}
        self._app_buckets: dict[str, TokenBucket | None] = {}
        self._config = self._initial_config
        self._workspaces: dict[str, Workspace] = {}
        self._log: deque[RequestRecord] = deque(maxlen=MAX_LOGGED_REQUESTS)
        self._faults = FaultInjector()
        self._bucket: TokenBucket | None = None
        self._webhooks: dict[str, WebhookSender] = {}
        self._webhook_settings: dict[str, tuple[Any, ...]] = {}
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1:port and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._stopping.clear()
        self._server = SandboxHTTPServer(self, (HOST, self._port))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="cio-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and sending webhooks (the senders are dropped), drop open connections, join
        every thread and close the port."""
        self._stop_webhooks()
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with server.tracking:
            connections = list(server.connections)
            threads = list(server.threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return self._server.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the base URL to give the Track client (v1 and v2)."""
        return f"http://{HOST}:{self.port}"

    @property
    def app_url(self) -> str:
        """``http://127.0.0.1:PORT/app``: the App API's base URL (``https://api.customer.io``)."""
        return f"{self.url}{APP_PREFIX}"

    def threads(self) -> list[threading.Thread]:
        """The sandbox's live threads (empty after ``stop()``)."""
        live = [self._thread] if self._thread and self._thread.is_alive() else []
        with self._lock:
            senders = [s.thread for s in self._webhooks.values()]
        live.extend(t for t in senders if t is not None and t.is_alive())
        if self._server is not None:
            with self._server.tracking:
                live.extend(t for t in self._server.threads if t.is_alive())
        return live

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (latency, a hang), returning early when the sandbox stops."""
        self._stopping.wait(seconds)

    # -- configuration ---------------------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        return self._config

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change settings (SandboxConfig fields); ``faults`` may be a partial dict. Setting faults
        re-seeds the fault RNG with their ``seed``. Raises pydantic's ValidationError."""
        with self._lock:
            current = self._config.model_dump()
            faults = changes.pop("faults", None)
            if isinstance(faults, Faults):
                faults = faults.model_dump()
            if faults is not None:
                current["faults"] = {**current["faults"], **dict(faults)}
            current.update(changes)
            config = SandboxConfig.model_validate(current)
            previous, self._config = self._config, config
            if faults is not None:
                self._faults.set_faults(config.faults)
            limit = (config.rate_limit_rps, config.rate_limit_burst)
            if self._bucket is None or limit != (previous.rate_limit_rps, previous.rate_limit_burst):
                self._bucket = rate_limiter(config, self._clock)
            if config.app_rate_limit_rps != previous.app_rate_limit_rps:
                self._app_buckets = {}
            return config

    def clear_faults(self) -> SandboxConfig:
        """Behave like a healthy Customer.io again, keeping everything else: no random faults, no
        scripted request or operation faults, no added latency, no Track rate limit (429s in their
        default form), and the App API's documented 10 requests/s per key. People, credential sets,
        App API keys, reporting webhooks, the processing delay and the request log stay."""
        defaults = SandboxConfig()
        with self._lock:
            self._faults.clear_scripted()
            seed = self._config.faults.seed
            return self.configure(
                faults=Faults(seed=seed),
                latency=defaults.latency,
                rate_limit_rps=defaults.rate_limit_rps,
                rate_limit_burst=defaults.rate_limit_burst,
                rate_limit_retry_after=defaults.rate_limit_retry_after,
                rate_limit_body=defaults.rate_limit_body,
                app_rate_limit_rps=defaults.app_rate_limit_rps,
            )

    def script(self, fault: ScriptedFault) -> None:
        """Queue a scripted fault; the first queued match wins."""
        with self._lock:
            self._faults.script(fault)

    def fail_next(
        self,
        times: int = 1,
        status: int = 503,
        *,
        method: str | None = None,
        path: str | None = None,
        operation: Operation | None = None,
        kind: Literal["status", "timeout", "reset"] = "status",
        headers: Mapping[str, str] | None = None,
        body: ErrorBody = "json",
        hang_seconds: float = 5.0,
    ) -> None:
        """Make the next ``times`` matching Track or App API requests fail (see ScriptedFault)."""
        self.script(
            ScriptedFault(
                kind=kind,
                status=status,
                headers=dict(headers or {}),
                body=body,
                method=method,
                path=path,
                operation=operation,
                times=times,
                hang_seconds=hang_seconds,
            )
        )

    def script_operation(self, fault: OperationFault) -> None:
        """Queue a Track v2 operation fault; the first queued match wins."""
        with self._lock:
            self._faults.script_operation(fault)

    def fail_operations(
        self,
        times: int = 1,
        *,
        reason: str = "injected",
        field: str = "identifiers",
        message: str = "injected operation fault",
        action: str | None = None,
        identifier_type: IdentifierType | None = None,
        identifier: str | None = None,
        batch_index: int | None = None,
    ) -> None:
        """Refuse the next ``times`` matching Track v2 operations: they are not applied and answer
        in the batch's 207 (a 400 from ``/api/v2/entity``). See OperationFault."""
        self.script_operation(
            OperationFault(
                reason=reason,
                field=field,
                message=message,
                action=action,
                identifier_type=identifier_type,
                identifier=identifier,
                batch_index=batch_index,
                times=times,
            )
        )

    def add_credentials(self, credentials: CredentialSet | None = None, **fields: Any) -> CredentialSet:
        """Add a credential set (generated site id and key unless given; the environment of the
        first set unless given) and return it, key included."""
        with self._lock:
            if credentials is None:
                values: dict[str, Any] = {
                    "site_id": "site-" + random_tokens.token_hex(6),
                    "api_key": "key-" + random_tokens.token_hex(20),
                    "environment_id": self._default_environment(fallback=True),
                    "region": next(iter(self._credentials.values())).region if self._credentials else "us",
                }
                values.update({k: v for k, v in fields.items() if v is not None})
                credentials = CredentialSet.model_validate(values)
            self._credentials[credentials.site_id] = credentials
            self._workspaces.setdefault(workspace_key(credentials.environment_id), Workspace())
            return credentials

    def remove_credentials(self, site_id: str) -> bool:
        """Remove a credential set (as deleting it in Customer.io's UI does)."""
        with self._lock:
            return self._credentials.pop(site_id, None) is not None

    @property
    def credentials(self) -> list[CredentialSet]:
        with self._lock:
            return list(self._credentials.values())

    def add_app_key(self, app_key: AppApiKey | None = None, **fields: Any) -> AppApiKey:
        """Add an App API key (``app_key``, or one made of ``fields``: a generated ``key`` unless
        given, the environment and region of the first credential set unless given) and return
        it, key included."""
        with self._lock:
            key = app_key
            if key is None:
                values: dict[str, Any] = {
                    "key": "app-" + random_tokens.token_hex(20),
                    "environment_id": self._default_environment(fallback=True),
                    "region": next(iter(self._credentials.values())).region if self._credentials else "us",
                }
                values.update({k: v for k, v in fields.items() if v is not None})
                key = AppApiKey.model_validate(values)
            self._app_keys[key.key] = key
            self._workspaces.setdefault(workspace_key(key.environment_id), Workspace())
            return key

    def remove_app_key(self, key: str) -> bool:
        """Remove an App API key (as revoking it in Customer.io's UI does)."""
        with self._lock:
            self._app_buckets.pop(key, None)
            return self._app_keys.pop(key, None) is not None

    @property
    def app_keys(self) -> list[AppApiKey]:
        with self._lock:
            return list(self._app_keys.values())

    def reset(self) -> None:
        """Back to the state at construction: initial credentials, App API keys and config, no
        people, no suppressions, an empty log, no scripted faults, no reporting webhooks."""
        self._stop_webhooks()
        with self._lock:
            self._credentials = {}
            self._app_keys = {}
            self._app_buckets = {}
            self._workspaces = {}
            self._log = deque(maxlen=MAX_LOGGED_REQUESTS)
            self._faults.clear_scripted()
            for credentials in self._initial_credentials:
                self.add_credentials(credentials)
            for key in self._initial_app_keys:
                self.add_app_key(key)
            self._config = self._initial_config
            self.configure(faults=self._initial_config.faults)

    # -- reporting webhooks (ciosec.sandbox.webhooks) ---------------------------------------------

    def configure_webhooks(
        self,
        url: str,
        signing_key: bytes | str,
        *,
        environment_id: int | str | None = None,
        retry_signing: RetrySigning = "resign",
        policy: DeliveryPolicy | None = None,
        fast_forward: bool = False,
        max_real_wait: float = 0.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> WebhookSender:
        """Set up a workspace's reporting webhook (default: the first credential set's) and start
        its sender: events queued on it are delivered to ``url``, signed with ``signing_key``, as
        Customer.io delivers them. ``fast_forward`` makes its waits take no time, or at most
        ``max_real_wait`` real seconds each (``FastForwardClock``); ``clock`` and ``sleep`` replace
        its time altogether. The same settings keep the running sender and its log; other settings
        replace it (its pending events are dropped)."""
        policy = policy or DeliveryPolicy()
        key = signing_key.encode() if isinstance(signing_key, str) else bytes(signing_key)
        settings = (url, key, retry_signing, policy, fast_forward, max_real_wait)
        injected = clock is not None or sleep is not None
        if fast_forward and not injected:
            ticking = FastForwardClock(max_real_sleep=max_real_wait)
            clock, sleep = ticking.now, ticking.sleep
        with self._lock:
            env = self._default_environment(fallback=True) if environment_id is None else environment_id
            workspace = workspace_key(env)
            current = self._webhooks.get(workspace)
            if current is not None and not injected and self._webhook_settings.get(workspace) == settings:
                return current
            sender = WebhookSender(
                url, key, policy=policy, retry_signing=retry_signing, clock=clock, sleep=sleep
            )
            self._webhooks[workspace] = sender.start()
            self._webhook_settings[workspace] = settings
        if current is not None:
            current.stop()  # outside the lock: it may be waiting on a call
        return sender

    def webhooks(self, environment_id: int | str | None = None) -> WebhookSender:
        """A workspace's webhook sender (default: the first credential set's workspace); raises
        LookupError when its reporting webhook is not set up."""
        with self._lock:
            env = self._default_environment(fallback=True) if environment_id is None else environment_id
            sender = self._webhooks.get(workspace_key(env))
            if sender is None:
                raise LookupError("no reporting webhook is set up for that workspace")
            return sender

    def _stop_webhooks(self) -> None:
        with self._lock:
            senders, self._webhooks = list(self._webhooks.values()), {}
            self._webhook_settings = {}
        for sender in senders:
            sender.stop()

    # -- inspection ------------------------------------------------------------------------------

    def _default_environment(self, *, fallback: bool = False) -> int | str:
        if self._credentials:
            return next(iter(self._credentials.values())).environment_id
        if fallback:
            return 1
        raise LookupError("the sandbox has no credential set, so no default workspace")

    def _workspace(self, environment_id: int | str | None) -> Workspace:
        env = self._default_environment() if environment_id is None else environment_id
        return self._workspaces.setdefault(workspace_key(env), Workspace())

    def people(self, environment_id: int | str | None = None) -> dict[str, dict[str, Any]]:
        """Identifier -> attributes of every person in a workspace (default: the first set's), as
        Track sees it (no processing delay). A person is keyed by the identifier they were added
        with, as a Track v1 path names it (a cio_id with its ``cio_`` prefix)."""
        with self._lock:
            ws = self._workspace(environment_id)
            return {p.key: copy.deepcopy(p.attributes) for p in ws.people.values()}

    def person(self, identifier: str, environment_id: int | str | None = None) -> dict[str, Any] | None:
        """A person named as a Track v1 path names them (``u1``, ``a@example.com``,
        ``cio_03000001``): ``{"key", "id", "email", "cio_id", "phone", "attributes", "events"}``,
        or None."""
        with self._lock:
            found = people.find(self._workspace(environment_id), people.v1_reference(identifier))
            if found is None:
                return None
            return {
                "key": found.key,
                **found.identifiers(),
                "attributes": copy.deepcopy(found.attributes),
                "events": copy.deepcopy(found.events),
            }

    def events(self, identifier: str, environment_id: int | str | None = None) -> list[dict[str, Any]]:
        """The events tracked for a person (``[]`` for an absent one)."""
        found = self.person(identifier, environment_id)
        return found["events"] if found else []

    def suppressed(self, environment_id: int | str | None = None) -> set[str]:
        """Every suppressed identifier of a workspace, as it was given or as the suppressed
        person held it (cio_ids with their ``cio_`` prefix)."""
        with self._lock:
            return people.suppressed_identifiers(self._workspace(environment_id))

    def add_person(
        self,
        identifier: str,
        attributes: Mapping[str, Any] | None = None,
        environment_id: int | str | None = None,
    ) -> None:
        """Seed a person directly (no request, no log entry, no processing delay): ``identifier``
        is typed as a Track v1 path would type it (``cio_`` prefix: their cio_id; ``@``: their
        email; else their id); ``id`` and ``email`` in ``attributes`` are identifiers too.
        Seeding ignores suppressions."""
        with self._lock:
            ws = self._workspace(environment_id)
            reference = people.v1_reference(identifier)
            person = people.find(ws, reference) or people.create(
                ws, reference, now=self._clock(), wall=int(time.time()), delay=0.0, key=identifier
            )
            values = copy.deepcopy(dict(attributes or {}))
            for kind in ("id", "email"):
                value = values.get(kind)
                free = getattr(person, kind) is None
                if isinstance(value, str) and value and free and people.find(ws, (kind, value)) is None:
                    people.assign(ws, person, (kind, value))
            person.attributes.update(values)

    def requests(self) -> list[RequestRecord]:
        """The log of Track requests (admin requests are not logged)."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def state(self) -> dict[str, Any]:
        """Everything, JSON-ready (``GET /_sandbox/state``); API keys left out. ``identities``
        gives each person's identifiers (workspace -> person key -> id, email, cio_id, phone)."""
        with self._lock:
            return {
                "credentials": [c.public() for c in self._credentials.values()],
                "app_api_keys": [k.public() for k in self._app_keys.values()],
                "workspaces": {
                    env: {
                        "people": {
                            p.key: {"attributes": p.attributes, "events": p.events}
                            for p in ws.people.values()
                        },
                        "suppressed": sorted(people.suppressed_identifiers(ws)),
                    }
                    for env, ws in self._workspaces.items()
                },
                "identities": {
                    env: {p.key: p.identifiers() for p in ws.people.values()}
                    for env, ws in self._workspaces.items()
                },
                "config": self._config.model_dump(mode="json"),
                "scripted_faults": [
                    {**fault.model_dump(mode="json"), "remaining": remaining}
                    for fault, remaining in self._faults.scripted()
                ],
                "scripted_operation_faults": [
                    {**fault.model_dump(mode="json"), "remaining": remaining}
                    for fault, remaining in self._faults.scripted_operations()
                ],
                "requests": [r.as_dict() for r in self._log],
                "webhooks": {env: sender.public() for env, sender in self._webhooks.items()},
            }

    # -- requests, as the HTTP server hands them over --------------------------------------------

    def handle_track(
        self, method: str, raw_path: str, authorization: str | None, body: bytes, request_id: str
    ) -> Reply:
        """One Track request (v1 or v2): faults, auth, the rate limit, then the Track semantics;
        logged."""
        path = raw_path.partition("?")[0]
        identifier: str | None = None
        if path.startswith("/api/v2/"):
            operation, reply = track_v2.route(method, path)
        else:
            operation, identifier, reply = track_api.route(method, path)
        payload = track_api.parse_body(body)
        site_id: str | None = None
        fault: str | None = None
        with self._lock:
            if reply is None:
                reply, fault = self._faults.next_fault(method, raw_path, operation)
            if reply is None:
                credentials = track_api.authenticate(authorization, self._credentials)
                if credentials is None:
                    reply = error_reply(401, "Unauthorized request")
                else:
                    site_id = credentials.site_id
                    reply = self._rate_limited()
                    if reply is None:
                        reply, fault = self._apply_track(operation, identifier, payload, body, credentials)
            self._record(
                method=method,
                raw_path=raw_path,
                operation=operation,
                identifier=identifier,
                reply=reply,
                site_id=site_id,
                request_id=request_id,
                fault=fault,
                payload=payload,
            )
        return reply

    def _apply_track(
        self,
        operation: Operation | None,
        identifier: str | None,
        payload: Any,
        body: bytes,
        credentials: CredentialSet,
    ) -> tuple[Reply, str | None]:
        workspace = self._workspaces.setdefault(workspace_key(credentials.environment_id), Workspace())
        now, wall, delay = self._clock(), int(time.time()), self._config.processing_delay
        if operation in {"entity", "batch"}:
            reply, labels = track_v2.apply(
                operation,
                payload,
                body,
                workspace=workspace,
                faults=self._faults,
                now=now,
                wall=wall,
                delay=delay,
            )
            return reply, ",".join(labels) or None
        reply = track_api.apply(
            operation,
            identifier,
            payload=payload,
            body=body,
            credentials=credentials,
            workspace=workspace,
            now=now,
            wall=wall,
            delay=delay,
        )
        return reply, None

    def handle_app(
        self, method: str, raw_path: str, authorization: str | None, body: bytes, request_id: str
    ) -> Reply:
        """One App API request (under ``/app``): scripted faults, the Bearer key, the key's rate
        limit, then ``ciosec.sandbox.app_api``; logged."""
        path, _, query = raw_path.partition("?")
        operation, customer_id, reply = app_api.route(method, path)
        payload = track_api.parse_body(body)
        fault: str | None = None
        with self._lock:
            if reply is None:
                reply, fault = self._faults.next_fault(method, raw_path, operation, random_faults=False)
            if reply is None and operation is not None:
                key = app_api.authenticate(authorization, self._app_keys)
                if key is None and operation != "app_ip_addresses":
                    reply = app_error_reply(401, "unauthorized")
                else:
                    reply = self._app_rate_limited(key) if key is not None else None
                    if reply is None:
                        environment = (
                            key.environment_id
                            if key is not None
                            else self._default_environment(fallback=True)
                        )
                        reply = app_api.apply(
                            operation,
                            customer_id,
                            query,
                            payload,
                            workspace=self._workspace(environment),
                            ip_addresses=self._config.ip_addresses,
                            now=self._clock(),
                            workspace_id=str(environment),
                        )
            assert reply is not None  # noqa: S101 - route() answers whatever it does not route
            self._record(
                method=method,
                raw_path=raw_path,
                operation=operation,
                identifier=customer_id,
                reply=reply,
                site_id=None,
                request_id=request_id,
                fault=fault,
                payload=payload,
            )
        return reply

    def _record(
        self,
        *,
        method: str,
        raw_path: str,
        operation: Operation | None,
        identifier: str | None,
        reply: Reply,
        site_id: str | None,
        request_id: str,
        fault: str | None,
        payload: Any,
    ) -> None:
        self._log.append(
            RequestRecord(
                method=method,
                raw_path=raw_path,
                operation=operation,
                identifier=identifier,
                status=reply.status if reply.action == "respond" else None,
                site_id=site_id,
                request_id=request_id,
                fault=fault,
                body=payload,
                received_at=time.time(),
            )
        )

    def handle_admin(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """One admin API request (see ``ciosec.sandbox.admin_api``)."""
        return admin_api.handle(self, method, path, headers, body)

    def _rate_limited(self) -> Reply | None:
        if self._bucket is None or self._bucket.try_acquire():
            return None
        wait = max(1, math.ceil(self._bucket.seconds_until_available()))
        return rate_limited_reply(wait, self._config.rate_limit_retry_after, self._config.rate_limit_body)

    def _app_rate_limited(self, key: AppApiKey) -> Reply | None:
        if key.key not in self._app_buckets:
            self._app_buckets[key.key] = app_rate_limiter(self._config, self._clock)
        bucket = self._app_buckets[key.key]
        if bucket is None or bucket.try_acquire():
            return None
        wait = max(1, math.ceil(bucket.seconds_until_available()))
        return rate_limited_reply(
            wait,
            self._config.rate_limit_retry_after,
            self._config.rate_limit_body,
            json_reply=app_error_reply(429, "Your request is over the 10-per-second limit."),
        )
