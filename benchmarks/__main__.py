"""``make bench``: run every benchmark side by side in one run and write BENCHMARKS.md plus
benchmarks/deletion_throughput.png. Each benchmark module exposes ``run() -> dict``; figures are
ratios against a baseline measured in the same run, so they compare across machines."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "BENCHMARKS.md"
RAW = ROOT / "benchmarks" / "results.json"
MODULES = ["webhook", "sanitizer", "deletion_throughput", "verification_throughput", "layer_size"]


def _run_all(selected: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in selected:
        started = time.perf_counter()
        print(f"running {name} ...", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            results[name] = {"skipped": f"module missing: {exc.name}"}
            continue
        results[name] = module.run()
        results[name]["_seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(results[name], indent=2, default=str), flush=True)
    return results


def main(argv: list[str]) -> int:
    selected = argv or MODULES
    results = _run_all(selected)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.system()}",
    }
    RAW.write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    from benchmarks.report import write_report

    write_report(REPORT, meta, results)
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
