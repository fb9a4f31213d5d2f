"""``Sandbox``: the Track API sandbox's state (credential sets, workspaces, the request log,
settings, scripted faults), its Python API for tests, and its lifecycle (``start``/``stop``).

Each Track request goes: latency (in the HTTP server), the fault injection (before auth, as a
proxy's 503 would), authentication, the rate limit, then the Track semantics of
``ciosec.sandbox.track_api``; every one is logged as a ``RequestRecord``. Nothing is logged to
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
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self

from cio_security.customerio.ratelimit import TokenBucket
from ciosec.sandbox import admin_api, track_api
from ciosec.sandbox.config import HOST, SandboxConfig, rate_limiter
from ciosec.sandbox.faults import FaultInjector, Faults, ScriptedFault
from ciosec.sandbox.models import (
    CredentialSet,
    Operation,
    Person,
    Reply,
    RequestRecord,
    Workspace,
    error_reply,
    workspace_key,
)
from ciosec.sandbox.server import SandboxHTTPServer

MAX_LOGGED_REQUESTS: int | None = 10_000
"""The request log keeps the newest entries: a long ``make local`` session stays small."""


class Sandbox:
    """The Track API v1 sandbox: ``start()``, use ``url``, ``stop()`` (or use it as a context
    manager). Bound on 127.0.0.1 only; ``port=0`` picks a free port."""

    def __init__(
        self,
        credentials: Sequence[CredentialSet] = (),
        *,
        port: int = 0,
        config: SandboxConfig | None = None,
    ) -> None:
        self._initial_credentials = tuple(credentials)
        self._initial_config = config or SandboxConfig()
        self._port = port
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._credentials: dict[str, CredentialSet] = {}
        self._config = self._initial_config
        self._workspaces: dict[str, Workspace] = {}
        self._log: deque[RequestRecord] = deque(maxlen=MAX_LOGGED_REQUESTS)
        self._faults = FaultInjector()
        self._bucket: TokenBucket | None = None
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
        """Stop serving, drop open connections, join every thread and close the port."""
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
        """``http://127.0.0.1:PORT``: the base URL to give the Track client."""
        return f"http://{HOST}:{self.port}"

    def threads(self) -> list[threading.Thread]:
        """The sandbox's live threads (empty after ``stop()``)."""
        live = [self._thread] if self._thread and self._thread.is_alive() else []
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
                self._bucket = rate_limiter(config)
            return config

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
        hang_seconds: float = 5.0,
    ) -> None:
        """Make the next ``times`` matching Track requests fail (see ScriptedFault)."""
        self.script(
            ScriptedFault(
                kind=kind,
                status=status,
                headers=dict(headers or {}),
                method=method,
                path=path,
                operation=operation,
                times=times,
                hang_seconds=hang_seconds,
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

    def reset(self) -> None:
        """Back to the state at construction: initial credentials and config, no people, no
        suppressions, an empty log, no scripted faults."""
        with self._lock:
            self._credentials = {}
            self._workspaces = {}
            self._log = deque(maxlen=MAX_LOGGED_REQUESTS)
            self._faults.clear_scripted()
            for credentials in self._initial_credentials:
                self.add_credentials(credentials)
            self._config = self._initial_config
            self.configure(faults=self._initial_config.faults)

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
        """Identifier -> attributes of every person in a workspace (default: the first set's)."""
        with self._lock:
            ws = self._workspace(environment_id)
            return {pid: copy.deepcopy(p.attributes) for pid, p in ws.people.items()}

    def events(self, identifier: str, environment_id: int | str | None = None) -> list[dict[str, Any]]:
        """The events tracked for a person (``[]`` for an absent one)."""
        with self._lock:
            person = self._workspace(environment_id).people.get(identifier)
            return copy.deepcopy(person.events) if person else []

    def suppressed(self, environment_id: int | str | None = None) -> set[str]:
        with self._lock:
            return set(self._workspace(environment_id).suppressed)

    def add_person(
        self,
        identifier: str,
        attributes: Mapping[str, Any] | None = None,
        environment_id: int | str | None = None,
    ) -> None:
        """Seed a person directly (no request, no log entry)."""
        with self._lock:
            person = self._workspace(environment_id).people.setdefault(identifier, Person())
            person.attributes.update(copy.deepcopy(dict(attributes or {})))

    def requests(self) -> list[RequestRecord]:
        """The log of Track requests (admin requests are not logged)."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def state(self) -> dict[str, Any]:
        """Everything, JSON-ready (``GET /_sandbox/state``); API keys left out."""
        with self._lock:
            return {
                "credentials": [c.public() for c in self._credentials.values()],
                "workspaces": {
                    env: {
                        "people": {
                            pid: {"attributes": p.attributes, "events": p.events}
                            for pid, p in ws.people.items()
                        },
                        "suppressed": sorted(ws.suppressed),
                    }
                    for env, ws in self._workspaces.items()
                },
                "config": self._config.model_dump(mode="json"),
                "scripted_faults": [
                    {**fault.model_dump(mode="json"), "remaining": remaining}
                    for fault, remaining in self._faults.scripted()
                ],
                "requests": [r.as_dict() for r in self._log],
            }

    # -- requests, as the HTTP server hands them over --------------------------------------------

    def handle_track(
        self, method: str, raw_path: str, authorization: str | None, body: bytes, request_id: str
    ) -> Reply:
        """One Track request: faults, auth, the rate limit, then the Track semantics; logged."""
        path = raw_path.partition("?")[0]
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
                    reply = self._rate_limited() or track_api.apply(
                        operation,
                        identifier,
                        payload=payload,
                        body=body,
                        credentials=credentials,
                        workspaces=self._workspaces,
                        delete_missing_status=self._config.delete_missing_status,
                    )
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
        return reply

    def handle_admin(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """One admin API request (see ``ciosec.sandbox.admin_api``)."""
        return admin_api.handle(self, method, path, headers, body)

    def _rate_limited(self) -> Reply | None:
        if self._bucket is None or self._bucket.try_acquire():
            return None
        wait = max(1, math.ceil(self._bucket.seconds_until_available()))
        return error_reply(429, "rate limit exceeded", **{"Retry-After": str(wait)})
