"""Sanitizer throughput against Powertools DataMasking.erase on the same record and fields.

DataMasking.erase only masks the fields it is told about (by JSONPath); the sanitizer also
walks every key against the policy and runs the card/SSN/IBAN detectors on every string. The
record is the 4 KiB webhook ``data`` of the webhook benchmark plus a nested profile with the
sensitive fields both tools are pointed at.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from benchmarks.webhook import PEPPER, four_kib_event

FIELDS = ["password", "ssn", "card_number", "phone", "ip_address", "address"]


def record() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(four_kib_event())["data"]
    data["profile"] = {
        "password": "hunter2hunter2",
        "ssn": "123-45-6789",
        "card_number": "4111 1111 1111 1111",
        "phone": "+44 20 7946 0000",
        "ip_address": "203.0.113.9",
        "address": "1 Example Street",
        "plan": "premium",
    }
    return data


def _median_seconds(fn: Any, iterations: int) -> float:
    for _ in range(50):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(iterations: int = 2000) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.data_masking import DataMasking

    from cio_security.sanitizer.attributes import sanitize

    data = record()
    size = len(json.dumps(data).encode())
    masking = DataMasking()
    paths = [f"$..{field}" for field in FIELDS]
    ours = _median_seconds(lambda: sanitize(data, pepper=PEPPER), iterations)
    erase = _median_seconds(lambda: masking.erase(data, fields=paths), iterations)
    return {
        "record_bytes": size,
        "sanitize_us": ours * 1e6,
        "datamasking_erase_us": erase * 1e6,
        "ratio_sanitize_to_erase": ours / erase,
        "sanitize_mib_per_s": size / ours / 2**20,
    }
