"""Fill BENCHMARKS.md's measured blocks from benchmark results, and draw the deletion-throughput plot.

BENCHMARKS.md is written by hand. Only the text between a pair of markers on lines of their own,

    <!-- bench:NAME:begin -->
    <!-- bench:NAME:end -->

is generated: each benchmark's "Measured on" line and tables (``BLOCKS``), and the "Targets at a
glance" table (``GLANCE``), whose measured and met cells come from the same results as the sections,
so the two cannot disagree. Everything outside the markers is kept byte for byte; a block a run
needs and the file does not have (or has twice, or out of order) is an error naming it, raised
before anything is written.

``benchmarks/results.json`` holds ``{"meta": {..., "runs": {name: run}}, "results": {name: result}}``:
each benchmark's figures and, under ``meta.runs``, when and where they were measured.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "BENCHMARKS.md"
RAW = ROOT / "benchmarks" / "results.json"
PLOT = Path(__file__).resolve().parent / "deletion_throughput.png"

GLANCE = "glance"

# Targets, as the sections' tables and the at-a-glance table state them.
WEBHOOK_FLOOR_MAX = 5.0
WEBHOOK_IMPORT_MAX = 1.1
WEBHOOK_INIT_MAX_MS = 1000.0
WEBHOOK_FIRST_REQUEST_MAX_MS = 400.0
SANITIZER_SPEEDUP_MIN = 25.0
VERIFICATION_FRACTION_MIN = 0.9


class MarkerError(ValueError):
    """BENCHMARKS.md lacks (or garbles) the markers of a block a run has to fill."""


def begin_marker(name: str) -> str:
    return f"<!-- bench:{name}:begin -->"


def end_marker(name: str) -> str:
    return f"<!-- bench:{name}:end -->"


# --- formatting -------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def _table(rows: Iterable[tuple[str, Any]]) -> str:
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in rows]
    return "\n".join(lines)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator and denominator else None


def measured_line(run: dict[str, Any] | None, result: dict[str, Any]) -> str:
    """``Measured on 2026-11-30 at 06:39 UTC (Python 3.13.0, x86_64; 29.7 s; load average ...).``
    from the run's record; empty when the run was not recorded."""
    if not run:
        return ""
    day, _, time = run["date"].partition(" ")
    when = f"{day} at {time}" if time else day
    details = [f"Python {run['python']}, {run['arch']}"]
    if result.get("_seconds") is not None:
        details.append(f"{result['_seconds']:g} s")
    loads = run.get("load_average") or []
    if loads:
        load = (
            f"load average {loads[0]:.1f} at the start, {loads[-1]:.1f} at the end"
            if len(loads) > 1
            else f"load average {loads[0]:.1f}"
        )
        on = ", on" if len(loads) > 1 else " on"
        details.append(f"{load}{on} {run['cpus']} vCPUs" if run.get("cpus") else load)
    return f"Measured on {when} ({'; '.join(details)})."


def _with_measured(run: dict[str, Any] | None, result: dict[str, Any], body: str) -> str:
    return "\n\n".join(part for part in (measured_line(run, result), body) if part)


# --- the benchmarks' blocks --------------------------------------------------------------------------

Renderer = Callable[[dict[str, Any], dict[str, Any] | None], str]


def _webhook_measured(r: dict[str, Any], run: dict[str, Any] | None) -> str:
    return measured_line(run, r)


def _webhook_cost(r: dict[str, Any], _run: dict[str, Any] | None) -> str:
    cost = r.get("cost", {})
    return _table(
        [
            ("handler per request (µs, median)", cost.get("handler_us")),
            ("`json.loads` of the same body (µs, median)", cost.get("json_loads_us")),
            ("handler as a multiple of `json.loads`", cost.get("ratio")),
            ("floor: HMAC, pydantic model, `json.dumps` of `data` (µs, median)", cost.get("floor_us")),
            ("floor as a multiple of `json.loads`", cost.get("floor_ratio")),
            (
                f"**handler as a multiple of the floor** (target: at most {WEBHOOK_FLOOR_MAX:g})",
                _ratio(cost.get("handler_us"), cost.get("floor_us")),
            ),
            (
                "of which the library: verify, parse, sanitize, deduplicate, publish (µs)",
                cost.get("processor_us"),
            ),
            (
                "of which the Powertools Lambda wrapper: logger, tracer, metrics, one log line (µs)",
                cost.get("wrapper_us"),
            ),
        ]
    )


def _webhook_import(r: dict[str, Any], _run: dict[str, Any] | None) -> str:
    imp = r.get("import", {})
    return _table(
        [
            ("cold import of the handler (ms)", imp.get("handler_ms")),
            ("cold import of the required libraries alone (ms)", imp.get("dependencies_ms")),
            (
                "**handler as a multiple of the required libraries** "
                f"(target: at most {WEBHOOK_IMPORT_MAX:g})",
                imp.get("handler_to_dependencies"),
            ),
            ("cold import of the libraries the handler actually uses (ms)", imp.get("used_dependencies_ms")),
            ("handler as a multiple of those", imp.get("handler_to_used_dependencies")),
            ("cold `import boto3` (ms)", imp.get("boto3_ms")),
            ("handler as a multiple of boto3", imp.get("ratio")),
            ("cold import with tracing disabled (ms)", imp.get("handler_untraced_ms")),
            ("cold `import aws_xray_sdk.core` alone (ms)", imp.get("xray_sdk_alone_ms")),
        ]
    )


def _webhook_cold_start(r: dict[str, Any], _run: dict[str, Any] | None) -> str:
    cold = r.get("cold_start", {})
    return _table(
        [
            (
                f"Init: the handler's import (ms, median; target: at most {WEBHOOK_INIT_MAX_MS:,.0f})",
                cold.get("init_ms"),
            ),
            (
                f"first request (ms, median; target: at most {WEBHOOK_FIRST_REQUEST_MAX_MS:,.0f})",
                cold.get("first_request_ms"),
            ),
            ("**Init and first request (ms)**", cold.get("cold_total_ms")),
            ("a warm request in the same environment (ms)", cold.get("warm_request_ms")),
            ("SnapStart `prime`, before the snapshot (ms)", cold.get("prime_ms")),
            (
                "first request after `prime` (ms, restore not included)",
                cold.get("first_request_after_prime_ms"),
            ),
        ]
    )


def _sanitizer(r: dict[str, Any], run: dict[str, Any] | None) -> str:
    ratio = r.get("ratio_sanitize_to_erase")
    table = _table(
        [
            ("record size (bytes)", r.get("record_bytes")),
            ("sanitize per record (µs, median)", r.get("sanitize_us")),
            ("`DataMasking.erase` per record (µs, median)", r.get("datamasking_erase_us")),
            ("sanitize / erase (below 1: the sanitizer is faster)", ratio),
            (
                f"**times faster than `DataMasking.erase`** (target: at least {SANITIZER_SPEEDUP_MIN:g})",
                1 / ratio if ratio else None,
            ),
            ("sanitize throughput (MiB/s)", r.get("sanitize_mib_per_s")),
        ]
    )
    return _with_measured(run, r, table)


def _deletion(r: dict[str, Any], run: dict[str, Any] | None) -> str:
    v1, v2 = r.get("v1", {}), r.get("v2", {})
    lines = ["| figure | v1 | v2 |", "|---|---|---|"]
    for name, key in [
        ("erasure requests", "requests"),
        ("requests per invocation (BatchSize)", "batch_size"),
        ("**erasures per second**", "rate"),
        ("every request audited completed", "all_audited"),
        ("429s from the sandbox", "status_429"),
        ("batch item failures", "batch_item_failures"),
        ("Track requests per second", "track_requests_per_second"),
        ("share of the request budget used", "budget_used"),
        ("operations per Track request", "operations_per_request"),
        ("largest Track request body (bytes; Customer.io's limit 500,000)", "request_bytes_max"),
        ("audit storage operations per erasure (reads and writes)", "audit_storage_ops_per_erasure"),
        ("of which reads", "audit_reads_per_erasure"),
        ("CPU per erasure in the handler's process (µs)", "cpu_us_per_erasure"),
        ("handler process CPU, share of one core", "cpu_share_of_one_core"),
    ]:
        lines.append(f"| {name} | {_fmt(v1.get(key, '—'))} | {_fmt(v2.get(key, '—'))} |")
    shares = v2.get("cpu_share", {})
    rows: list[tuple[str, Any]] = [
        ("v1 ceiling: the budget over 2 calls per erasure (erasures/s)", r.get("v1_ceiling_per_second")),
        ("target: 20 times the v1 ceiling (erasures/s)", r.get("v2_target_per_second")),
        ("**v2 as a multiple of the v1 ceiling**", r.get("v2_over_v1_ceiling")),
        ("v2 as a multiple of v1 measured", r.get("v2_over_v1_measured")),
        ("v2 CPU share: audit store", shares.get("audit store")),
        ("v2 CPU share: Track client (encoding, HTTP)", shares.get("track client")),
        ("v2 CPU share: message parsing", shares.get("parsing")),
    ]
    return _with_measured(run, r, "\n".join(lines) + "\n\n" + _table(rows))


def _verification(r: dict[str, Any], run: dict[str, Any] | None) -> str:
    rows: list[tuple[str, Any]] = [
        ("`id` checks (every person gone)", r.get("ids_checked")),
        ("ceiling: 10 requests/s x 100 ids per lookup (checks/s)", r.get("ids_ceiling_per_second")),
        ("**`id` checks per second**", r.get("ids_per_second")),
        (
            f"**fraction of the ceiling** (target: at least {VERIFICATION_FRACTION_MIN:g})",
            r.get("ids_fraction_of_ceiling"),
        ),
        ("App API requests (lookups, and the two checks of the key)", r.get("ids_app_api_requests")),
        ("App API requests per second", r.get("ids_requests_per_second")),
        ("429s from the sandbox", r.get("ids_429s")),
        ("every erasure audited verified", r.get("ids_verified") == r.get("ids_checked")),
        ("`email` checks, one request each", r.get("emails_checked")),
        ("`email` checks per second (ceiling: 10)", r.get("emails_per_second")),
        ("429s from the sandbox (emails)", r.get("emails_429s")),
        ("batch item failures", r.get("batch_item_failures")),
        ("**speed-up from batched lookups**", r.get("speedup_of_batching")),
    ]
    return _with_measured(run, r, _table(rows))


def _layer_size(r: dict[str, Any], run: dict[str, Any] | None) -> str:
    largest = ", ".join(f"{name} {mib:.2f}" for name, mib in r.get("largest_packages_mib", {}).items())
    rows: list[tuple[str, Any]] = [
        ("unzipped (MiB)", r.get("unzipped_mib")),
        ("zipped (MiB)", r.get("zipped_mib")),
        ("fraction of Lambda's 250 MB limit", r.get("fraction_of_lambda_limit")),
        ("largest packages (MiB)", largest),
    ]
    return _with_measured(run, r, _table(rows))


# Each benchmark's blocks, in the order they appear in its section. A benchmark run fills all of its
# blocks; the first one carries "Skipped: ..." when the benchmark could not run.
BLOCKS: dict[str, list[tuple[str, Renderer]]] = {
    "webhook": [
        ("webhook.measured", _webhook_measured),
        ("webhook.cost", _webhook_cost),
        ("webhook.import", _webhook_import),
        ("webhook.cold_start", _webhook_cold_start),
    ],
    "sanitizer": [("sanitizer", _sanitizer)],
    "deletion_throughput": [("deletion_throughput", _deletion)],
    "verification_throughput": [("verification_throughput", _verification)],
    "layer_size": [("layer_size", _layer_size)],
}


# --- targets at a glance ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One row of "Targets at a glance". With a ``source`` benchmark, ``measured`` and ``met`` are
    computed from its result; without one, or while its result is missing (not measured since the
    section was written by hand), the row shows ``hand_measured`` and ``hand_met``."""

    figure: str
    target: str
    why: str | Callable[[dict[str, Any]], str]
    source: str | None = None
    measured: Callable[[dict[str, Any]], str] | None = None
    met: Callable[[dict[str, Any]], bool] | None = None
    hand_measured: str = "not measured"
    hand_met: str = ""

    def row(self, results: dict[str, Any]) -> str:
        result = results.get(self.source) if self.source else None
        measured, met = self.hand_measured, self.hand_met
        if result and "skipped" not in result and self.measured:
            measured = self.measured(result)
            met = ("yes" if self.met(result) else "no") if self.met else ""
        why = self.why if isinstance(self.why, str) else self.why(result or {})
        cells = [self.figure, self.target, measured, met, why]
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def _floor_multiple(r: dict[str, Any]) -> float:
    cost = r["cost"]
    return float(cost["handler_us"] / cost["floor_us"])


def _speedup(r: dict[str, Any]) -> float:
    return float(1 / r["ratio_sanitize_to_erase"])


def _webhook_why(r: dict[str, Any]) -> str:
    cost = r.get("cost", {})
    wrapper, handler = cost.get("wrapper_us"), cost.get("handler_us")
    figures = f" ({wrapper:.0f} µs of {handler:.0f} µs)" if wrapper and handler else ""
    return (
        "The work no implementation can skip (the HMAC, the event model, serialising the event) is "
        "the floor; what the handler adds on top is overhead every webhook pays. The largest part of "
        f"the excess is the Powertools logger, tracer and metrics wrapper{figures}."
    )


TARGETS: list[Target] = [
    Target(
        "webhook handler per request, as a multiple of the unavoidable work",
        f"at most {WEBHOOK_FLOOR_MAX:g}x",
        _webhook_why,
        "webhook",
        lambda r: f"{_floor_multiple(r):.2f}x",
        lambda r: _floor_multiple(r) <= WEBHOOK_FLOOR_MAX,
    ),
    Target(
        "webhook handler cold import, as a multiple of its libraries' import",
        f"at most {WEBHOOK_IMPORT_MAX:g}x",
        "A cold start is mostly imports; the project's own code may add at most 10% to the libraries it "
        "must use.",
        "webhook",
        lambda r: f"{r['import']['handler_to_dependencies']:.2f}x",
        lambda r: r["import"]["handler_to_dependencies"] <= WEBHOOK_IMPORT_MAX,
    ),
    Target(
        "webhook Init phase (cold import in a Lambda-like environment)",
        f"at most {WEBHOOK_INIT_MAX_MS:,.0f} ms",
        "Customer.io gives a call 4 s, cold start included; the time budget keeps 1,000 ms for Init and "
        "API Gateway.",
        "webhook",
        lambda r: f"{r['cold_start']['init_ms']:,.0f} ms",
        lambda r: r["cold_start"]["init_ms"] <= WEBHOOK_INIT_MAX_MS,
    ),
    Target(
        "webhook first request after Init",
        f"at most {WEBHOOK_FIRST_REQUEST_MAX_MS:,.0f} ms",
        "The time budget keeps 400 ms of CPU for the request itself.",
        "webhook",
        lambda r: f"{r['cold_start']['first_request_ms']:,.0f} ms",
        lambda r: r["cold_start"]["first_request_ms"] <= WEBHOOK_FIRST_REQUEST_MAX_MS,
    ),
    Target(
        "sanitizer against Powertools `DataMasking.erase` on the same record",
        f"at least {SANITIZER_SPEEDUP_MIN:g}x faster",
        "The sanitizer checks every key and string of every webhook, where masking touches six named "
        "fields; it must still cost far less, so that checking everything is never the reason to check "
        "less.",
        "sanitizer",
        lambda r: f"{_speedup(r):,.0f}x",
        lambda r: _speedup(r) >= SANITIZER_SPEEDUP_MIN,
        # The section's figures were measured by hand (its notes); a `make bench` run replaces them.
        hand_measured="72x to 150x",
        hand_met="yes",
    ),
    # Measured by the card corpus in `make test` (tests/unit/sanitizer/card_corpus.py), not by a
    # benchmark: kept as the "Card detection" section states them.
    Target(
        "card-number recall, every network and form",
        "at least 99%",
        "A missed card number leaves the stack in an event.",
        hand_measured="100% (Visa's legacy 13 digits: 89%)",
        hand_met="yes",
    ),
    Target(
        "card-number false positives, every family of look-alike numbers",
        "at most 1%",
        "A false positive drops a legitimate value (a product code, an order number) from the event.",
        hand_measured="at most 0.3%",
        hand_met="yes",
    ),
    Target(
        "erasures per second, Track API v2 batches",
        "at least 1,000 (20x the v1 ceiling) with no 429",
        "Erasing one person at a time within a 100 requests/s budget capped the stack at 50 per second: "
        "5.5 hours for a million requests. 1,000 per second clears a million in under 17 minutes.",
        "deletion_throughput",
        lambda r: f"{r['v2']['rate']:,.0f}",
        lambda r: r["v2"]["rate"] >= r["v2_target_per_second"] and r["v2"]["status_429"] == 0,
    ),
    Target(
        "erasure checks per second, against the App API's 10 requests/s",
        f"at least {VERIFICATION_FRACTION_MIN:g} of the ceiling, no 429",
        "The App API allows 10 requests per second; batched lookups of 100 ids make the ceiling 1,000 "
        "checks per second, and verification should use it without being throttled.",
        "verification_throughput",
        lambda r: f"{r['ids_fraction_of_ceiling']:.3f}",
        lambda r: (
            r["ids_fraction_of_ceiling"] >= VERIFICATION_FRACTION_MIN
            and r["ids_429s"] == 0
            and r.get("emails_429s", 0) == 0
        ),
    ),
    Target(
        "shared layer, unzipped",
        "(well within Lambda's 250 MB)",
        "Lambda counts the function and all its layers against 250 MB unzipped; a small layer also starts "
        "faster.",
        "layer_size",
        lambda r: f"{r['unzipped_mib']:.1f} MiB, {r['fraction_of_lambda_limit']:.3f} of the limit",
    ),
]


def glance(results: dict[str, Any]) -> str:
    lines = ["| figure | target | measured | met | why this target |", "|---|---|---|---|---|"]
    return "\n".join(lines + [target.row(results) for target in TARGETS])


# --- filling the markers -------------------------------------------------------------------------------


def block_names(benchmarks: Iterable[str]) -> list[str]:
    """The blocks a run of these benchmarks fills: theirs and the at-a-glance table."""
    names = [GLANCE]
    for benchmark in benchmarks:
        names += [name for name, _ in BLOCKS.get(benchmark, [])]
    return names


def _span(text: str, name: str) -> tuple[int, int]:
    """Start and end of the text between the block's markers (each alone on its line, once)."""
    begin, end = begin_marker(name), end_marker(name)
    begins = [m.end() for m in re.finditer(rf"^{re.escape(begin)}[ \t]*$", text, re.MULTILINE)]
    ends = [m.start() for m in re.finditer(rf"^{re.escape(end)}[ \t]*$", text, re.MULTILINE)]
    if not begins or not ends:
        missing = " and ".join(m for m, found in ((begin, begins), (end, ends)) if not found)
        raise MarkerError(
            f"BENCHMARKS.md has no block {name!r}: {missing} missing, each on a line of its own"
        )
    if len(begins) > 1 or len(ends) > 1:
        raise MarkerError(f"BENCHMARKS.md has the markers of block {name!r} more than once")
    if ends[0] < begins[0]:
        raise MarkerError(f"BENCHMARKS.md has the end marker of block {name!r} before its begin marker")
    return begins[0], ends[0]


def check_markers(text: str, names: Iterable[str]) -> None:
    """Raise ``MarkerError`` naming the first block whose markers are missing or garbled."""
    for name in names:
        _span(text, name)


def fill(text: str, blocks: dict[str, str]) -> str:
    """The text with each named block's content replaced; everything outside the markers as it was."""
    spans = sorted((*_span(text, name), name) for name in blocks)
    for (_, end, name), (start, _, following) in itertools.pairwise(spans):
        if start < end:
            raise MarkerError(f"BENCHMARKS.md's blocks {name!r} and {following!r} overlap")
    out, position = [], 0
    for start, end, name in spans:
        content = blocks[name].strip("\n")
        out += [text[position:start], f"\n\n{content}\n\n" if content else "\n"]
        position = end
    return "".join(out) + text[position:]


def render_blocks(data: dict[str, Any], benchmarks: Iterable[str]) -> dict[str, str]:
    """Each block's content for these benchmarks, and the at-a-glance table, from results.json's data."""
    results, runs = data.get("results", {}), data.get("meta", {}).get("runs", {})
    blocks = {GLANCE: glance(results)}
    for benchmark in benchmarks:
        result = results.get(benchmark, {"skipped": "no result"})
        for i, (name, render) in enumerate(BLOCKS.get(benchmark, [])):
            if "skipped" in result:
                blocks[name] = f"Skipped: {result['skipped']}" if i == 0 else ""
            else:
                blocks[name] = render(result, runs.get(benchmark))
    return blocks


def _filled(report: Path, data: dict[str, Any], benchmarks: Iterable[str]) -> tuple[str, str]:
    text = report.read_text(encoding="utf-8")
    return text, fill(text, render_blocks(data, benchmarks))


def write_report(path: Path, data: dict[str, Any], benchmarks: Iterable[str]) -> None:
    """Fill these benchmarks' blocks and the at-a-glance table of the report at ``path`` from
    results.json's ``data``; the rest of the file is left as it is."""
    text, filled = _filled(path, data, benchmarks)
    if filled != text:
        path.write_text(filled, encoding="utf-8")


def update(
    results: dict[str, Any],
    runs: dict[str, Any],
    *,
    meta: dict[str, Any] | None = None,
    report: Path = REPORT,
    raw: Path = RAW,
) -> None:
    """Merge these benchmarks' results (and the records of their runs) into results.json and fill
    their blocks of the report; the other benchmarks' figures stay as they are. Nothing is written
    when the report lacks a block."""
    data: dict[str, Any] = (
        json.loads(raw.read_text(encoding="utf-8")) if raw.exists() else {"meta": {}, "results": {}}
    )
    data.setdefault("meta", {}).update(meta or {})
    data["meta"].setdefault("runs", {}).update(runs)
    data.setdefault("results", {}).update(results)
    text, filled = _filled(report, data, results)  # raises before anything is written
    raw.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    if filled != text:
        report.write_text(filled, encoding="utf-8")
    deletion = results.get("deletion_throughput", {})
    if "skipped" not in deletion:
        _plot(deletion)


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
