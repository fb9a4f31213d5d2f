"""Size of the built shared layer (after ``make build``): unzipped and zipped, largest packages."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / ".aws-sam" / "build" / "SharedLayer"
LAMBDA_LAYER_LIMIT_MIB = 250  # unzipped, all layers and the function together


def run() -> dict[str, Any]:
    if not LAYER.exists():
        return {"skipped": "no built layer: run `make build` first"}
    files = [p for p in LAYER.rglob("*") if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(LAYER))
    packages: dict[str, int] = {}
    site = LAYER / "python"
    for path in files:
        parts = path.relative_to(site).parts if site in path.parents else ("(other)",)
        packages[parts[0]] = packages.get(parts[0], 0) + path.stat().st_size
    largest = sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:8]
    return {
        "unzipped_mib": round(unzipped / 2**20, 2),
        "zipped_mib": round(len(buffer.getvalue()) / 2**20, 2),
        "fraction_of_lambda_limit": round(unzipped / 2**20 / LAMBDA_LAYER_LIMIT_MIB, 3),
        "largest_packages_mib": {name: round(size / 2**20, 2) for name, size in largest},
    }
