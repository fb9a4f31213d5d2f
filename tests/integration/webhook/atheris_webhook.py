"""Coverage-guided fuzzing of the webhook handler with atheris (libFuzzer), issue 7.

Run by test_atheris.py as ``python atheris_webhook.py -runs=N -seed=S``. Each input becomes one
API Gateway request (either payload format, optionally base64) whose body, headers and timestamp
come from the fuzzer, signed with the configured key, with another key, or not at all. The handler
runs with AWS replaced in memory (``fixtures.stubbed_webhook``) so libFuzzer gets thousands of
executions a second. Properties (an AssertionError or any exception is a crash: libFuzzer stops
and exits non-zero): never a 5xx; a request not signed with the configured key is never accepted
(401) and never stored; a request signed with it inside the tolerance is never a 4xx (200:
published once, a duplicate, or kept).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT / "layers" / "shared"), str(ROOT / "tests")]

KEY = "atheris-signing-key-7f3c9a1e5b2d4c6e8a0f"
OTHER_KEY = "atheris-other-key-0d2b4f6a8c1e3a5c7e9b"
PEPPER = "atheris-pepper-5e7a9c1b3d5f7a9c1e3b5d7f"

sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - logs and EMF lines would drown libFuzzer's output
# The project's library is instrumented for coverage feedback (loading the handler imports it).
with atheris.instrument_imports(include=["cio_security"]):
    from cio_security.webhook.signature import sign_webhook
    from fixtures.apigw import http_api_event, rest_event
    from fixtures.stubbed_webhook import stubbed_webhook

    STUB = stubbed_webhook(signing_key=KEY, pepper=PEPPER)
NOW = int(time.time())
FUTURE_SKEW = 300
HEADER_NAMES = ["X-CIO-Timestamp", "X-CIO-Signature", "x-cio-signature", "X-Cio-Timestamp", "Content-Type"]


def _structured_body(fdp: atheris.FuzzedDataProvider) -> bytes:
    """A JSON event whose fields come from the fuzzer (reaches the model, the sanitizer, publish)."""
    fields = fdp.ConsumeIntInRange(0, 8)
    data = {fdp.ConsumeUnicodeNoSurrogates(12): fdp.ConsumeUnicodeNoSurrogates(40) for _ in range(fields)}
    event = {
        "event_id": fdp.ConsumeUnicodeNoSurrogates(30),
        "object_type": fdp.PickValueInList(["email", "push", "sms", fdp.ConsumeUnicodeNoSurrogates(8)]),
        "metric": fdp.PickValueInList(["sent", "clicked", fdp.ConsumeUnicodeNoSurrogates(8)]),
        "timestamp": fdp.ConsumeIntInRange(-(10**13), 10**13),
        "data": data,
    }
    return json.dumps(event).encode()


def test_one_input(raw: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(raw)
    signing = fdp.ConsumeIntInRange(0, 3)  # 0 configured key, 1 other key, 2 fuzzed headers, 3 none
    body = _structured_body(fdp) if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    timestamp = NOW + fdp.ConsumeIntInRange(-600, 600)
    headers: dict[str, str] = {}
    if signing in (0, 1):
        headers = sign_webhook(KEY if signing == 0 else OTHER_KEY, body, timestamp=timestamp)
    elif signing == 2:
        for _ in range(fdp.ConsumeIntInRange(0, 4)):
            headers[fdp.PickValueInList(HEADER_NAMES)] = fdp.ConsumeUnicodeNoSurrogates(80)
    b64 = fdp.ConsumeBool()
    shape = http_api_event if fdp.ConsumeBool() else rest_event
    published_before, kept_before = len(STUB.events.entries), len(STUB.store.objects)
    response = STUB.app.handler(shape(body, headers, base64_encoded=b64), STUB.context)
    status = response["statusCode"]
    assert status < 500, status
    if signing != 0:
        assert status == 401, status
        assert len(STUB.events.entries) == published_before
        assert len(STUB.store.objects) == kept_before
    elif timestamp - int(time.time()) <= FUTURE_SKEW - 5:
        assert status == 200, status  # verified: published, a duplicate or kept, never a 4xx
    if status == 200:
        assert len(STUB.events.entries) - published_before in (0, 1)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
