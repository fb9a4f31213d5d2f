"""A Customer.io Track API v1 sandbox on 127.0.0.1, for tests and ``make local``.

Track semantics modelled (per workspace, i.e. per ``environment_id``):

==========================================  =================================================
``PUT /api/v1/customers/{id}``              identify: create or update a person (attributes
                                            merged); a suppressed id is silently ignored (200)
``POST /api/v1/customers/{id}/events``      track: ``{"name", "data"}``; creates the person;
                                            ignored (200) for a suppressed id
``POST /api/v1/customers/{id}/suppress``    deletes the person and blocks re-adding the id
``POST /api/v1/customers/{id}/unsuppress``  lifts the block (the person is not restored)
``DELETE /api/v1/customers/{id}``           deletes; ``delete_missing_status`` (200) if absent
``GET /api/v1/accounts/region``             ``{"url", "data_center", "environment_id"}`` of
                                            the authenticated credential set
==========================================  =================================================

Every Track request needs Basic auth with one of the configured credential sets (401
otherwise). ``{id}`` is percent-decoded exactly once; the raw path as received is recorded, so
tests can check what a hostile identifier turned into on the wire. Every response carries an
``X-Request-Id``.

Misbehaviour on demand: latency, a token-bucket rate limit (429 + ``Retry-After``), random faults
from a seeded RNG (5xx, 429, a hang past the client's read timeout, a connection reset) and
scripted faults ("the next 2 ``POST */suppress`` answer 503").

The admin API under ``/_sandbox/`` needs no Track auth: it is only ever bound on 127.0.0.1, and
refuses a foreign ``Host`` header (DNS rebinding) and non-JSON POSTs (cross-site forms)::

    GET    /_sandbox/state                  credentials (no keys), people, suppressed, config, log
    GET    /_sandbox/requests               the request log
    POST   /_sandbox/config                 {"latency": .., "rate_limit_rps": .., "faults": {..}}
    POST   /_sandbox/faults                 a scripted fault (ScriptedFault as JSON)
    POST   /_sandbox/credentials            add a credential set (missing fields generated);
                                            answers it in full, api_key included
    DELETE /_sandbox/credentials/{site_id}  remove a credential set
    POST   /_sandbox/reset                  back to the state the sandbox started with

The same operations are Python methods of ``Sandbox``. Nothing is logged per request: paths hold
identifiers and headers hold credentials.

>>> creds = CredentialSet(site_id="site", api_key="key", environment_id=1)
>>> with Sandbox([creds]) as sandbox:                                          # doctest: +SKIP
...     httpx.put(f"{sandbox.url}/api/v1/customers/u1", json={}, auth=("site", "key"))
...     sandbox.people()
{'u1': {}}

Run it on its own with ``python -m ciosec.sandbox --port 0``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import fnmatch
import hmac
import json
import logging
import math
import random
import secrets as random_tokens
import signal
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import unquote_to_bytes

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cio_security.customerio.ratelimit import TokenBucket

__all__ = [
    "HOST",
    "CredentialSet",
    "Faults",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
    "ScriptedFault",
    "main",
]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
TRACK_URLS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
MAX_BODY_BYTES = 1024 * 1024
MAX_LOGGED_REQUESTS = 10_000  # the oldest entries go first: a long `make local` session stays small
MAX_HANG_SECONDS = 30.0
MAX_LATENCY_SECONDS = 30.0
IDLE_CONNECTION_SECONDS = 30.0
ADMIN_PREFIX = "/_sandbox"
Operation = Literal["identify", "track", "suppress", "unsuppress", "delete", "region"]


class CredentialSet(BaseModel):
    """One Track API credential set of a workspace (``environment_id``) in a region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site_id: str = Field(min_length=1)
    api_key: str = Field(min_length=1, repr=False)
    environment_id: int | str
    region: Literal["us", "eu"] = "us"

    def public(self) -> dict[str, Any]:
        """The set without its API key."""
        return {"site_id": self.site_id, "environment_id": self.environment_id, "region": self.region}


class Faults(BaseModel):
    """Random faults: each Track request draws once from a RNG seeded with ``seed``.

    The probabilities are exclusive and add up to at most 1.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_limited_rate: float = Field(default=0.0, ge=0, le=1)
    retry_after: int = Field(default=1, ge=0, le=3600)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    hang_seconds: float = Field(default=5.0, ge=0, le=MAX_HANG_SECONDS)
    reset_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int | None = None

    @field_validator("error_statuses")
    @classmethod
    def _server_errors(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 500 <= status <= 599 for status in value):
            raise ValueError("must be one or more 5xx statuses")
        return value

    @model_validator(mode="after")
    def _at_most_one(self) -> Faults:
        if self.error_rate + self.rate_limited_rate + self.timeout_rate + self.reset_rate > 1.0 + 1e-9:
            raise ValueError("fault probabilities add up to more than 1")
        return self


class SandboxConfig(BaseModel):
    """How the sandbox behaves; change it with ``Sandbox.configure`` or ``POST /_sandbox/config``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency: float = Field(default=0.0, ge=0, le=MAX_LATENCY_SECONDS)
    rate_limit_rps: float | None = Field(default=None, gt=0)
    rate_limit_burst: float | None = Field(default=None, ge=1)
    delete_missing_status: Literal[200, 204, 404] = 200
    faults: Faults = Field(default_factory=Faults)

    @field_validator("rate_limit_rps")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be finite")
        return value


class ScriptedFault(BaseModel):
    """A deterministic fault for the next ``times`` Track requests that match.

    ``method`` matches exactly, ``path`` is a glob on the raw path (``/api/v1/customers/*/suppress``),
    ``operation`` one of identify, track, suppress, unsuppress, delete, region; unset ones match
    anything. ``kind`` is ``status`` (answer ``status`` with ``headers``: a 302 with ``Location``,
    a 429 with ``Retry-After``), ``timeout`` (hang ``hang_seconds``, then close without an
    answer) or ``reset`` (close the connection abruptly).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["status", "timeout", "reset"] = "status"
    status: int = Field(default=503, ge=200, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    method: str | None = None
    path: str | None = None
    operation: Operation | None = None
    times: int = Field(default=1, ge=1)
    hang_seconds: float = Field(default=5.0, ge=0, le=MAX_HANG_SECONDS)

    def matches(self, method: str, raw_path: str, operation: str | None) -> bool:
        return (
            (self.method is None or self.method.upper() == method)
            and (self.path is None or fnmatch.fnmatchcase(raw_path, self.path))
            and (self.operation is None or self.operation == operation)
        )


@dataclass(frozen=True)
class RequestRecord:
    """One Track request as the sandbox saw it. ``status`` is None when no answer was sent."""

    method: str
    raw_path: str
    operation: str | None
    identifier: str | None
    status: int | None
    site_id: str | None
    request_id: str
    fault: str | None = None
    body: Any = None
    received_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "raw_path": self.raw_path,
            "operation": self.operation,
            "identifier": self.identifier,
            "status": self.status,
            "site_id": self.site_id,
            "request_id": self.request_id,
            "fault": self.fault,
            "body": self.body,
            "received_at": self.received_at,
        }


@dataclass
class _Person:
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Workspace:
    people: dict[str, _Person] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)


@dataclass
class _Reply:
    """What the handler thread does: answer, hang then drop the connection, or reset it."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    action: Literal["respond", "hang", "reset"] = "respond"
    hang_seconds: float = 0.0


def _error(status: int, message: str, **headers: str) -> _Reply:
    return _Reply(status, {"meta": {"error": message}}, dict(headers))


def _env_key(environment_id: int | str) -> str:
    return str(environment_id)


class _Server(ThreadingHTTPServer):
    """Tracks its handler threads and open connections so ``stop()`` can end them all."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, sandbox: Sandbox, port: int) -> None:
        self.sandbox = sandbox
        self.threads: set[threading.Thread] = set()
        self.connections: set[socket.socket] = set()
        self.tracking = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._run, args=(request, client_address), name="cio-sandbox-request", daemon=True
        )
        with self.tracking:
            self.threads.add(thread)
            self.connections.add(request)
        thread.start()

    def _run(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.tracking:
                self.threads.discard(threading.current_thread())
                self.connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; an error text may quote a path or a body.
        logger.debug("sandbox: a connection ended with an error")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "cio-sandbox"
    sys_version = ""
    timeout = IDLE_CONNECTION_SECONDS
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request line holds identifiers, and headers hold credentials."""

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        request_id = f"sbx-{uuid.uuid4().hex[:20]}"
        path = self.path.partition("?")[0]
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            body = self._read_body(request_id)
            if body is None:
                return
            reply = sandbox._admin(self.command, path, dict(self.headers.items()), body)
        else:
            if sandbox.config.latency:
                sandbox._stopping.wait(sandbox.config.latency)
            body = self._read_body(request_id)
            if body is None:
                return
            reply = sandbox._track(
                self.command, self.path, self.headers.get("Authorization"), body, request_id
            )
        if reply.action == "reset":
            self._reset()
            return
        if reply.action == "hang":
            sandbox._stopping.wait(reply.hang_seconds)
            self.close_connection = True
            return
        self._respond(reply, request_id)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _dispatch  # noqa: N815

    def _read_body(self, request_id: str) -> bytes | None:
        """The request body, or None after answering 411/413 for one that cannot be read."""
        if self.headers.get("Transfer-Encoding"):
            self._respond(_error(411, "length required"), request_id)
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._respond(_error(413 if length > 0 else 400, "bad content length"), request_id)
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _respond(self, reply: _Reply, request_id: str) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("X-Request-Id", request_id)
        if data:
            self.send_header("Content-Type", "application/json")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _reset(self) -> None:
        """Close abruptly: SO_LINGER 0 makes close() send a TCP RST instead of a FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._credentials: dict[str, CredentialSet] = {}
        self._config = self._initial_config
        self._workspaces: dict[str, _Workspace] = {}
        self._log: deque[RequestRecord] = deque(maxlen=MAX_LOGGED_REQUESTS)
        self._scripted: list[list[Any]] = []  # [ScriptedFault, remaining]
        self._rng = random.Random()  # noqa: S311 - fault injection, not cryptography
        self._bucket: TokenBucket | None = None
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1:port and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._stopping.clear()
        self._server = _Server(self, self._port)
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
        port: int = self._server.server_address[1]
        return port

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
                self._rng = random.Random(config.faults.seed)  # noqa: S311 - reproducible faults
            limit = (config.rate_limit_rps, config.rate_limit_burst)
            if self._bucket is None or limit != (previous.rate_limit_rps, previous.rate_limit_burst):
                self._bucket = _bucket_for(config)
            return config

    def script(self, fault: ScriptedFault) -> None:
        """Queue a scripted fault; the first queued match wins."""
        with self._lock:
            self._scripted.append([fault, fault.times])

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
            self._workspaces.setdefault(_env_key(credentials.environment_id), _Workspace())
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
            self._scripted = []
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

    def _workspace(self, environment_id: int | str | None) -> _Workspace:
        env = self._default_environment() if environment_id is None else environment_id
        return self._workspaces.setdefault(_env_key(env), _Workspace())

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
            person = self._workspace(environment_id).people.setdefault(identifier, _Person())
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
                    for fault, remaining in self._scripted
                ],
                "requests": [r.as_dict() for r in self._log],
            }

    # -- the Track API ---------------------------------------------------------------------------

    def _authenticate(self, authorization: str | None) -> CredentialSet | None:
        if not authorization or authorization[:6].lower() != "basic ":
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        site_id, sep, api_key = decoded.partition(":")
        if not sep:
            return None
        with self._lock:
            candidate = self._credentials.get(site_id)
        if candidate is not None and hmac.compare_digest(api_key.encode(), candidate.api_key.encode()):
            return candidate
        return None

    @staticmethod
    def _route(method: str, path: str) -> tuple[Operation | None, str | None, _Reply | None]:
        """(operation, identifier, None) for a Track route, else (None, None, error reply)."""
        segments = path.split("/")
        if segments == ["", "api", "v1", "accounts", "region"]:
            return ("region", None, None) if method == "GET" else (None, None, _method_not_allowed("GET"))
        if len(segments) not in {5, 6} or segments[:4] != ["", "api", "v1", "customers"] or not segments[4]:
            return None, None, _error(404, "not found")
        try:
            identifier = unquote_to_bytes(segments[4]).decode("utf-8")
        except UnicodeDecodeError:
            return None, None, _error(400, "identifier is not valid UTF-8")
        if len(segments) == 5:
            allowed: dict[str, Operation] = {"PUT": "identify", "DELETE": "delete"}
        else:
            action = {"events": "track", "suppress": "suppress", "unsuppress": "unsuppress"}.get(segments[5])
            if action is None:
                return None, None, _error(404, "not found")
            allowed = {"POST": action}  # type: ignore[dict-item]
        operation = allowed.get(method)
        if operation is None:
            return None, None, _method_not_allowed(", ".join(allowed))
        return operation, identifier, None

    def _next_fault(
        self, method: str, raw_path: str, operation: str | None
    ) -> tuple[_Reply | None, str | None]:
        """A scripted fault, else a random one, else (None, None). Call with the lock held."""
        for entry in self._scripted:
            fault, remaining = entry
            if remaining > 0 and fault.matches(method, raw_path, operation):
                entry[1] = remaining - 1
                self._scripted = [e for e in self._scripted if e[1] > 0]
                if fault.kind == "reset":
                    return _Reply(action="reset"), "scripted:reset"
                if fault.kind == "timeout":
                    return _Reply(action="hang", hang_seconds=fault.hang_seconds), "scripted:timeout"
                failing = fault.status >= 300
                reply = _error(fault.status, "scripted fault") if failing else _Reply(fault.status, {})
                reply.headers.update(fault.headers)
                return reply, f"scripted:{fault.status}"
        faults = self._config.faults
        draw = self._rng.random()
        if draw < faults.error_rate:
            status = self._rng.choice(faults.error_statuses)
            return _error(status, "injected server error"), f"random:{status}"
        draw -= faults.error_rate
        if draw < faults.rate_limited_rate:
            return _error(
                429, "injected rate limit", **{"Retry-After": str(faults.retry_after)}
            ), "random:429"
        draw -= faults.rate_limited_rate
        if draw < faults.timeout_rate:
            return _Reply(action="hang", hang_seconds=faults.hang_seconds), "random:timeout"
        draw -= faults.timeout_rate
        if draw < faults.reset_rate:
            return _Reply(action="reset"), "random:reset"
        return None, None

    def _track(
        self, method: str, raw_path: str, authorization: str | None, body: bytes, request_id: str
    ) -> _Reply:
        path = raw_path.partition("?")[0]
        operation, identifier, reply = self._route(method, path)
        payload: Any = None
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = body.decode("utf-8", "replace")
        site_id: str | None = None
        fault: str | None = None
        with self._lock:
            if reply is None:
                reply, fault = self._next_fault(method, raw_path, operation)
            if reply is None:
                credentials = self._authenticate(authorization)
                if credentials is None:
                    reply = _error(401, "Unauthorized request")
                else:
                    site_id = credentials.site_id
                    reply = self._rate_limited() or self._apply(
                        operation, identifier, payload, body, credentials
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

    def _rate_limited(self) -> _Reply | None:
        if self._bucket is None or self._bucket.try_acquire():
            return None
        wait = max(1, math.ceil(self._bucket.seconds_until_available()))
        return _error(429, "rate limit exceeded", **{"Retry-After": str(wait)})

    def _apply(
        self,
        operation: Operation | None,
        identifier: str | None,
        payload: Any,
        body: bytes,
        credentials: CredentialSet,
    ) -> _Reply:
        """The Track semantics of one authenticated request. Call with the lock held."""
        if operation == "region":
            return _Reply(
                200,
                {
                    "url": TRACK_URLS[credentials.region],
                    "data_center": credentials.region,
                    "environment_id": credentials.environment_id,
                },
            )
        if operation is None or identifier is None:  # pragma: no cover - _route guarantees both
            return _error(404, "not found")
        ws = self._workspaces.setdefault(_env_key(credentials.environment_id), _Workspace())
        if operation in {"identify", "track"} and body and not isinstance(payload, dict):
            return _error(400, "body must be a JSON object")
        attributes = payload if isinstance(payload, dict) else {}
        if operation == "identify":
            if identifier not in ws.suppressed:
                ws.people.setdefault(identifier, _Person()).attributes.update(attributes)
        elif operation == "track":
            name = attributes.get("name")
            data = attributes.get("data", {})
            if not isinstance(name, str) or not name or not isinstance(data, dict):
                return _error(400, "an event needs a name and an object as data")
            if identifier not in ws.suppressed:
                person = ws.people.setdefault(identifier, _Person())
                person.events.append({"name": name, "data": data, "timestamp": int(time.time())})
        elif operation == "suppress":
            ws.people.pop(identifier, None)
            ws.suppressed.add(identifier)
        elif operation == "unsuppress":
            ws.suppressed.discard(identifier)
        elif operation == "delete" and ws.people.pop(identifier, None) is None:
            status = self._config.delete_missing_status
            if status == 404:
                return _error(404, "not found")
            return _Reply(status, {} if status == 200 else None)
        return _Reply(200, {})

    # -- the admin API ---------------------------------------------------------------------------

    def _admin(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        lowered = {k.lower(): v for k, v in headers.items()}
        host = lowered.get("host", "").rsplit(":", 1)[0].strip("[]")
        if host not in {HOST, "localhost"}:
            return _error(403, "the admin API answers only to 127.0.0.1")
        if method == "POST" and not lowered.get("content-type", "").startswith("application/json"):
            return _error(415, "admin requests must be application/json")
        data: Any = {}
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                return _error(400, "not JSON")
        if not isinstance(data, dict):
            return _error(400, "expected a JSON object")
        route = path[len(ADMIN_PREFIX) :].rstrip("/")
        try:
            return self._admin_route(method, route, data)
        except ValidationError as exc:
            return _Reply(400, {"meta": {"error": "invalid settings"}, "errors": json.loads(exc.json())})

    def _admin_route(self, method: str, route: str, data: dict[str, Any]) -> _Reply:
        if (method, route) == ("GET", "/state"):
            return _Reply(200, self.state())
        if (method, route) == ("GET", "/requests"):
            return _Reply(200, [r.as_dict() for r in self.requests()])
        if (method, route) == ("POST", "/config"):
            return _Reply(200, self.configure(**data).model_dump(mode="json"))
        if (method, route) == ("POST", "/faults"):
            self.script(ScriptedFault.model_validate(data))
            return _Reply(200, {})
        if (method, route) == ("POST", "/reset"):
            self.reset()
            return _Reply(200, {})
        if (method, route) == ("POST", "/credentials"):
            return _Reply(200, self.add_credentials(**data).model_dump(mode="json"))
        if method == "DELETE" and route.startswith("/credentials/"):
            site_id = unquote_to_bytes(route[len("/credentials/") :]).decode("utf-8", "replace")
            return _Reply(200, {}) if self.remove_credentials(site_id) else _error(404, "no such site id")
        return _error(404, "no such admin endpoint")


def _bucket_for(config: SandboxConfig) -> TokenBucket | None:
    """The sandbox's rate limiter; the default burst is one second's worth of requests."""
    if not config.rate_limit_rps:
        return None
    return TokenBucket(config.rate_limit_rps, config.rate_limit_burst or max(1.0, config.rate_limit_rps))


def _method_not_allowed(allowed: str) -> _Reply:
    return _error(405, "method not allowed", Allow=allowed)


def main(argv: Sequence[str] | None = None, *, stopped: threading.Event | None = None) -> int:
    """``python -m ciosec.sandbox``: serve until Ctrl-C, SIGTERM or ``stopped`` is set, printing the
    URL and the credential set (a fresh local key unless ``--api-key`` is given)."""
    parser = argparse.ArgumentParser(prog="python -m ciosec.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--site-id", default="sandbox-site")
    parser.add_argument("--api-key", default=None, help="default: a random key, printed at start")
    parser.add_argument("--environment-id", default="100001")
    parser.add_argument("--region", choices=("us", "eu"), default="us")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--rps", type=float, default=None, help="rate limit (requests per second)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="probability of a 5xx")
    parser.add_argument("--rate-limited-rate", type=float, default=0.0, help="probability of a 429")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="probability of a hang")
    parser.add_argument("--reset-rate", type=float, default=0.0, help="probability of a connection reset")
    parser.add_argument("--hang-seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--delete-missing-status", type=int, choices=(200, 204, 404), default=200)
    args = parser.parse_args(argv)
    environment_id: int | str = (
        int(args.environment_id) if args.environment_id.isdigit() else args.environment_id
    )
    credentials = CredentialSet(
        site_id=args.site_id,
        api_key=args.api_key or "sandbox-" + random_tokens.token_hex(16),
        environment_id=environment_id,
        region=args.region,
    )
    try:
        config = SandboxConfig(
            latency=args.latency,
            rate_limit_rps=args.rps,
            delete_missing_status=args.delete_missing_status,
            faults=Faults(
                error_rate=args.error_rate,
                rate_limited_rate=args.rate_limited_rate,
                timeout_rate=args.timeout_rate,
                reset_rate=args.reset_rate,
                hang_seconds=args.hang_seconds,
                seed=args.seed,
            ),
        )
    except ValidationError as exc:
        parser.error(f"invalid settings: {exc.error_count()} error(s): {exc.errors()[0]['msg']}")
    stop = stopped or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox([credentials], port=args.port, config=config) as sandbox:
        print(f"Customer.io sandbox on {sandbox.url} (admin API: {sandbox.url}{ADMIN_PREFIX}/state)")
        print("credentials: " + credentials.model_dump_json(), flush=True)
        try:
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
