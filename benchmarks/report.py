"""Render benchmark results as BENCHMARKS.md and the deletion-throughput plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLOT = Path(__file__).resolve().parent / "deletion_throughput.png"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def _table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in rows]
    return "\n".join(lines)


def _verdict(value: float | None, target: float, *, at_most: bool) -> str:
    if value is None:
        return "not measured"
    ok = value <= target if at_most else value >= target
    return f"{'meets' if ok else 'MISSES'} the target ({'≤' if at_most else '≥'} {target})"


def _webhook(r: dict[str, Any]) -> str:
    cost, imp, cold = r.get("cost", {}), r.get("import", {}), r.get("cold_start", {})
    floor_multiple = (
        cost["handler_us"] / cost["floor_us"] if cost.get("handler_us") and cost.get("floor_us") else None
    )
    import_multiple = imp.get("handler_to_dependencies")
    parts = [
        "In-process cost of one 4 KiB webhook through the real handler (verify, parse, dedupe, "
        "sanitize, publish; AWS calls stubbed in memory), against `json.loads` of the same body and "
        "against the floor; the handler module's cold import (a fresh interpreter each run, median) "
        "against the libraries it needs; and a cold start in a Lambda-like environment.",
        _table(
            [
                ("handler per request (µs, median)", cost.get("handler_us")),
                ("json.loads per request (µs, median)", cost.get("json_loads_us")),
                ("cost ratio to json.loads", cost.get("ratio")),
                ("floor: HMAC + pydantic model + json.dumps of data (µs, median)", cost.get("floor_us")),
                ("floor ratio to json.loads", cost.get("floor_ratio")),
                ("**handler / floor**", floor_multiple),
                (
                    "of which the library: verify, parse, sanitize, dedupe, publish (µs)",
                    cost.get("processor_us"),
                ),
                (
                    "of which Powertools' Lambda wrapper: logger, tracer, metrics, one log line (µs)",
                    cost.get("wrapper_us"),
                ),
                ("cold import of the handler (ms)", imp.get("handler_ms")),
                ("cold import of the prescribed libraries alone (ms)", imp.get("dependencies_ms")),
                ("**handler / prescribed libraries**", import_multiple),
                (
                    "cold import of the libraries the handler uses (no API resolver) (ms)",
                    imp.get("used_dependencies_ms"),
                ),
                ("handler / libraries it uses", imp.get("handler_to_used_dependencies")),
                ("cold `import boto3` (ms)", imp.get("boto3_ms")),
                ("handler / boto3", imp.get("ratio")),
                ("cold import with tracing disabled (ms)", imp.get("handler_untraced_ms")),
                ("cold `import aws_xray_sdk.core` alone (ms)", imp.get("xray_sdk_alone_ms")),
            ]
        ),
        f"Handler / floor {_verdict(floor_multiple, 5.0, at_most=True)}; handler / prescribed "
        f"libraries {_verdict(import_multiple, 1.1, at_most=True)}.",
    ]
    if cold:
        parts += [
            "**Cold start, Lambda-like.** A fresh interpreter with Lambda's environment "
            "(`LAMBDA_TASK_ROOT`, an X-Ray trace header, tracing on) imports the handler (the Init "
            "phase), then answers its first request, with AWS emulated in-process by moto (so no "
            "network latency, but moto's own work is counted): the first request pays what a cold "
            "environment pays besides imports (boto3 clients, secret reads, validators). The budget "
            "(`cio_security.webhook.budget`) leaves 1,000 ms of Customer.io's 4 s for Init and API "
            "Gateway and 400 ms of CPU in the request. SnapStart: `prime` is what the snapshot "
            "would hold; the restore itself is AWS's and was not measured (no AWS here).",
            _table(
                [
                    ("Init: the handler's import (ms, median)", cold.get("init_ms")),
                    ("first request (ms, median)", cold.get("first_request_ms")),
                    ("**Init + first request (ms)**", cold.get("cold_total_ms")),
                    ("a warm request, same environment (ms)", cold.get("warm_request_ms")),
                    ("SnapStart `prime`, before the snapshot (ms)", cold.get("prime_ms")),
                    (
                        "first request after `prime` (ms, restore not included)",
                        cold.get("first_request_after_prime_ms"),
                    ),
                ]
            ),
            f"Init (ms) {_verdict(cold.get('init_ms'), 1000.0, at_most=True)}; first request (ms) "
            f"{_verdict(cold.get('first_request_ms'), 400.0, at_most=True)}. Measured on the "
            "machine named above, not on Lambda's arm64 CPU share at 1,024 MB, which is slower.",
        ]
    parts.append(_webhook_floor(cost, imp))
    return "\n\n".join(p for p in parts if p)


def _webhook_floor(cost: dict[str, Any], imp: dict[str, Any]) -> str:
    """Where the handler's time goes beyond the floor, from this run's own figures."""
    floor, deps = cost.get("floor_ratio"), imp.get("dependencies_ratio")
    if floor is None or deps is None:
        return ""
    return (
        f"The floor, measured in the same run: the work no implementation can skip (the HMAC check, "
        f"the pydantic model over the body, serialising `data` for EventBridge) costs {floor:.2f}x "
        f"`json.loads`. Beyond it the handler pays for the sanitizer's walk of every key and string, "
        f"Powertools' idempotency records (two key hashes, two records), its structured log line "
        f"(about 30 µs), its metrics (EMF) and tracer, all prescribed. The cold import is measured as "
        f"Lambda runs it (`LAMBDA_TASK_ROOT` set): outside Lambda the X-Ray SDK builds a sampling "
        f"client at import, which Lambda never pays. The prescribed libraries include Powertools' "
        f"API resolver, which the handler no longer imports (one route needs no resolver)."
    )


def _sanitizer(r: dict[str, Any]) -> str:
    return "\n\n".join(
        [
            "The sanitizer on one record (the webhook benchmark's 4 KiB `data` plus a profile holding "
            "a password, an SSN, a card number, a phone, an IP and an address) against Powertools "
            "`DataMasking.erase` pointed at those six fields by JSONPath. The sanitizer does more: it "
            "matches every key against the policy, hashes instead of masking, and runs the "
            "card/SSN/IBAN detectors on every string.",
            _table(
                [
                    ("record size (bytes)", r.get("record_bytes")),
                    ("sanitize per record (µs, median)", r.get("sanitize_us")),
                    ("DataMasking.erase per record (µs, median)", r.get("datamasking_erase_us")),
                    ("**ratio sanitize / erase** (below 1 = faster)", r.get("ratio_sanitize_to_erase")),
                    ("sanitize throughput (MiB/s)", r.get("sanitize_mib_per_s")),
                ]
            ),
        ]
    )


def _deletion(r: dict[str, Any]) -> str:
    v1, v2 = r.get("v1", {}), r.get("v2", {})
    ceiling, target = r.get("v1_ceiling_per_second"), r.get("v2_target_per_second")
    lines = ["| figure | v1 | v2 |", "|---|---|---|"]
    for name, key in [
        ("erasure requests", "requests"),
        ("BatchSize (requests per invocation)", "batch_size"),
        ("**erasures per second**", "rate"),
        ("every request audited completed", "all_audited"),
        ("429s from the sandbox", "status_429"),
        ("batch item failures", "batch_item_failures"),
        ("Track requests per second (budget used)", "track_requests_per_second"),
        ("share of the request budget used", "budget_used"),
        ("operations per Track request", "operations_per_request"),
        ("largest Track request body (bytes; v2 limit 500,000)", "request_bytes_max"),
        ("audit storage operations per erasure (reads + writes)", "audit_storage_ops_per_erasure"),
        ("of which reads", "audit_reads_per_erasure"),
        ("CPU per erasure in the handler's process (µs)", "cpu_us_per_erasure"),
        ("handler process CPU, share of one core", "cpu_share_of_one_core"),
    ]:
        lines.append(f"| {name} | {_fmt(v1.get(key, '—'))} | {_fmt(v2.get(key, '—'))} |")
    shares = v2.get("cpu_share", {})
    rows: list[tuple[str, Any]] = [
        ("v1 ceiling: budget / 2 calls per erasure (erasures/s)", ceiling),
        ("v2 target: 20 x the v1 ceiling (erasures/s)", target),
        ("**v2 / v1 ceiling**", r.get("v2_over_v1_ceiling")),
        ("v2 / v1 measured", r.get("v2_over_v1_measured")),
        ("v2 CPU share: audit store", shares.get("audit store")),
        ("v2 CPU share: Track client (encoding, HTTP)", shares.get("track client")),
        ("v2 CPU share: message parsing", shares.get("parsing")),
    ]
    v2_rate = v2.get("rate")
    bounds = (
        f"**What bounds v2.** Not the request budget: it used {_fmt(v2.get('budget_used'))} of it, "
        f"{_fmt(v2.get('operations_per_request'))} erasures per Track request. Not the request size: "
        f"the largest body was {_fmt(v2.get('request_bytes_max'))} bytes of the 500,000 allowed (an "
        "operation is about 80 bytes plus its identifier, so a BatchSize up to 1,000 fits; a larger "
        "batch is split). An invocation is two phases of concurrent audit writes (the leases, then "
        "the acceptance and completion in one conditional write, 25 in flight) around one Track call. "
        f"Audit writes no longer read first: {_fmt(v2.get('audit_storage_ops_per_erasure'))} storage "
        f"operations per erasure against v1's {_fmt(v1.get('audit_storage_ops_per_erasure', '—'))} "
        "(the writes after a lease are conditional on its token, so the read before them proved "
        "nothing the condition does not). What is left is CPU: "
        f"{_fmt(v2.get('cpu_us_per_erasure'))} µs per erasure in the handler's process, "
        f"{_fmt(shares.get('audit store'))} of it in the audit store (building, diffing and copying "
        "records; on DynamoDB, boto3's request signing and serialisation take its place), at "
        f"{_fmt(v2.get('cpu_share_of_one_core'))} of one core across the five environments, which "
        "share one interpreter here but each have their own in Lambda. Batching the audit writes "
        "further does not fit the guarantees: BatchWriteItem takes no conditions, and "
        "TransactWriteItems (up to 100 conditional writes) fails them all when one lease was taken "
        "over and costs twice the write capacity. The emulator: the sandbox scans its whole "
        "suppression list on every suppress, so beyond about 5,000 erasures in one workspace a run "
        "measures the sandbox (this run: "
        f"{_fmt(v2.get('sandbox_cpu_seconds'))} s of sandbox CPU)."
    )
    return "\n\n".join(
        [
            f"Erasures through the real deletion handler against the sandbox limited to "
            f"{r.get('rate_limit_rps'):g} requests/s with {r.get('latency_ms'):g} ms latency: "
            f"{r.get('concurrency')} concurrent execution environments, each pacing its Track calls at "
            "the budget divided by the concurrency, the audit table in memory with "
            f"{r.get('audit_latency_ms'):g} ms per storage operation. **v1** is the Track v1 path of "
            f"commit `{r.get('v1_commit')}` (suppress then delete per request, BatchSize 10), taken "
            "from git; **v2** is this tree's Track v2 batch path (one batch request per invocation). "
            "Each runs in a fresh interpreter of its own, side by side in one run.",
            "\n".join(lines),
            _table(rows),
            f"v2 {_verdict(v2_rate, target or 0.0, at_most=False)} (erasures/s) with "
            f"{v2.get('status_429')} 429s and every request audited: {v2.get('all_audited')}.",
            bounds,
        ]
    )


def _verification(r: dict[str, Any]) -> str:
    rows: list[tuple[str, Any]] = [
        ("`id` checks (all people gone)", r.get("ids_checked")),
        ("ceiling: 10 requests/s x 100 ids per batched lookup (checks/s)", r.get("ids_ceiling_per_second")),
        ("**`id` checks per second**", r.get("ids_per_second")),
        ("**fraction of the ceiling**", r.get("ids_fraction_of_ceiling")),
        ("App API requests (lookups and the two checks of the key)", r.get("ids_app_api_requests")),
        ("App API requests per second", r.get("ids_requests_per_second")),
        ("429s from the sandbox", r.get("ids_429s")),
        ("every erasure audited verified", r.get("ids_verified") == r.get("ids_checked")),
        ("`email` checks, one request each", r.get("emails_checked")),
        ("`email` checks per second (ceiling: 10)", r.get("emails_per_second")),
        ("429s from the sandbox (emails)", r.get("emails_429s")),
        ("batch item failures", r.get("batch_item_failures")),
        ("**speed-up of batched lookups**", r.get("speedup_of_batching")),
    ]
    return "\n\n".join(
        [
            "Erasure checks through the real verification handler against the sandbox's App API, "
            f"limited to {r.get('app_rate_limit_rps'):g} requests/s per key as Customer.io documents, "
            f"with {r.get('latency_ms'):g} ms latency; every person already gone (the check that ends "
            f"an erasure). {r.get('concurrency')} execution environments (the event source's "
            "MaximumConcurrency), each pacing its App API requests at the budget divided by the "
            "concurrency, invoked with batches of up to 100 tickets; the audit table in memory with "
            "5 ms per storage operation. `id` tickets share one `POST /v1/customers/attributes` per "
            "100; an `email` needs a request of its own.",
            _table(rows),
            f"The `id` checks' fraction of the ceiling "
            f"{_verdict(r.get('ids_fraction_of_ceiling'), 0.9, at_most=False)} with {r.get('ids_429s')} "
            "429s (target: zero). Emails stay under their ceiling by the two environments' start "
            "(each proves the key with `GET /v1/workspaces` first) and the tail of the run, where one "
            "environment is left with work at half the budget.",
        ]
    )


def _generic(r: dict[str, Any]) -> str:
    rows = [
        (k, json.dumps(v) if isinstance(v, (dict, list)) else v)
        for k, v in r.items()
        if not k.startswith("_") and k != "series"
    ]
    return _table(rows)


def _plot(deletion: dict[str, Any]) -> bool:
    """Erasures per second of each path against the v1 ceiling and the v2 target."""
    series = deletion.get("series")
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for name, points in series.items():
        xs, ys = zip(*points, strict=True) if points else ((), ())
        ax.plot(xs, ys, label=name)
    for key, label, style in (
        ("v1_ceiling_per_second", "v1 ceiling", ":"),
        ("v2_target_per_second", "v2 target (20x)", "--"),
    ):
        value = deletion.get(key)
        if value:
            ax.axhline(value, linestyle=style, color="grey", label=f"{label} ({value:g}/s)")
    ax.set_yscale("log")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("erasures completed per second (log)")
    ax.set_title("Deletion throughput at a 100 requests/s Track budget: v1 against v2 batches")
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT)
    plt.close(fig)
    return True


SECTIONS = {
    "webhook": ("Webhook handler", _webhook),
    "sanitizer": ("Sanitizer throughput", _sanitizer),
    "deletion_throughput": ("Deletion throughput", _deletion),
    "verification_throughput": ("Erasure verification throughput", _verification),
    "layer_size": ("Layer size", _generic),
}


def write_report(path: Path, meta: dict[str, Any], results: dict[str, Any]) -> None:
    parts = [
        "# Benchmarks",
        f"Measured by `make bench` on {meta['date']} (Python {meta['python']}, {meta['machine']}). "
        "Figures are ratios against a baseline measured side by side in the same run. "
        "Raw numbers: `benchmarks/results.json`.",
    ]
    for key, result in results.items():
        title, render = SECTIONS.get(key, (key, _generic))
        parts.append(f"## {title}")
        parts.append(f"Skipped: {result['skipped']}" if "skipped" in result else render(result))
        if key == "deletion_throughput" and "skipped" not in result and _plot(result):
            parts.append(f"![deletion throughput]({PLOT.relative_to(path.parent)})")
    path.write_text("\n\n".join(parts) + "\n")
