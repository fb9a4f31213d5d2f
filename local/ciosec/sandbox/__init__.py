"""A Customer.io Track API v1 sandbox on 127.0.0.1, for tests and ``make local``.

It models the Track semantics per workspace (``track_api``), needs Basic auth with one of its
credential sets, records every Track request as it arrived (the raw path included, so tests can
check what a hostile identifier turned into on the wire), and misbehaves on demand: latency, a
token-bucket rate limit, random and scripted faults (``faults``). An admin API under
``/_sandbox/`` (``admin_api``) drives it from another process; the same operations are methods of
``Sandbox``.

- ``models``: credential sets, people and workspaces, the request log, replies.
- ``faults``: random and scripted faults, and the injector that applies them.
- ``config``: ``SandboxConfig`` (latency, rate limit, faults) and the bind address.
- ``track_api``: the Track routes and their semantics.
- ``admin_api``: ``/_sandbox/...``.
- ``server``: the HTTP server and request handler.
- ``sandbox``: ``Sandbox`` itself (state, Python API, lifecycle).
- ``cli``: ``python -m ciosec.sandbox --port 0``.

>>> creds = CredentialSet(site_id="site", api_key="key", environment_id=1)
>>> with Sandbox([creds]) as sandbox:                                          # doctest: +SKIP
...     httpx.put(f"{sandbox.url}/api/v1/customers/u1", json={}, auth=("site", "key"))
...     sandbox.people()
{'u1': {}}
"""

from ciosec.sandbox.cli import main
from ciosec.sandbox.config import HOST, SandboxConfig
from ciosec.sandbox.faults import Faults, ScriptedFault
from ciosec.sandbox.models import CredentialSet, RequestRecord
from ciosec.sandbox.sandbox import Sandbox

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
