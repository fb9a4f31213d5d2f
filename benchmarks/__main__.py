"""``make bench``: run every benchmark side by side in one run, record the figures in
benchmarks/results.json and fill BENCHMARKS.md's measured blocks (and draw
benchmarks/deletion_throughput.png); ``python -m benchmarks webhook`` runs and fills one. Each
benchmark module exposes ``run() -> dict``; figures are ratios against a baseline measured in the
same run, so they compare across machines. BENCHMARKS.md's prose is written by hand and left as it
is: only the text between its ``<!-- bench:NAME:begin/end -->`` markers is generated
(``benchmarks/report.py``)."""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks import report

MODULES = ["webhook", "sanitizer", "deletion_throughput", "verification_throughput", "layer_size"]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _run_all(selected: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each benchmark's result, and the record of its run: when, on what, at which load."""
    results: dict[str, Any] = {}
    runs: dict[str, Any] = {}
    for name in selected:
        started, load_before, date = time.perf_counter(), os.getloadavg()[0], _now()
        print(f"running {name} ...", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            results[name] = {"skipped": f"module missing: {exc.name}"}
            continue
        results[name] = module.run()
        results[name]["_seconds"] = round(time.perf_counter() - started, 1)
        runs[name] = {
            "date": date,
            "python": platform.python_version(),
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
        print(json.dumps(results[name], indent=2, default=str), flush=True)
    return results, runs


def main(argv: list[str]) -> int:
    selected = argv or MODULES
    unknown = [name for name in selected if name not in MODULES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    # Before minutes of measuring: the report must have every block this run fills.
    report.check_markers(report.REPORT.read_text(encoding="utf-8"), report.block_names(selected))
    results, runs = _run_all(selected)
    meta = None
    if not argv:  # a whole `make bench` run
        meta = {
            "date": _now(),
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {platform.system()}",
        }
    report.update(results, runs, meta=meta)
    print(f"wrote {report.RAW.relative_to(report.ROOT)} and {report.REPORT.relative_to(report.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
