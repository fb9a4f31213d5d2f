"""``python -m ciosec.checks.secrets_baseline``: fail when a tracked file holds a secret-looking string that
``.secrets.baseline`` does not list. Findings are compared by file and hashed secret, not line
number, so moving a known test key within its file does not fail the build (the stock
``detect-secrets-hook`` does). Prints file names only, never the values."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE = Path(".secrets.baseline")


def findings(baseline: dict[str, object]) -> set[tuple[str, str]]:
    results = baseline.get("results", {})
    if not isinstance(results, dict):
        return set()
    return {(name, item["hashed_secret"]) for name, items in results.items() for item in items}


def main() -> int:
    known = findings(json.loads(BASELINE.read_text()))
    # Fixed commands on the repository's own files: no untrusted input reaches them.
    listed = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True)  # noqa: S607
    files = [name for name in listed.stdout.split() if name != str(BASELINE)]
    detect = shutil.which("detect-secrets") or str(Path(sys.executable).with_name("detect-secrets"))
    with tempfile.TemporaryDirectory() as tmp:
        scanned = Path(tmp) / "baseline.json"
        shutil.copy(BASELINE, scanned)
        # --baseline keeps the committed settings (plugins, filters) and rescans the files.
        subprocess.run([detect, "scan", "--baseline", str(scanned), *files], check=True)  # noqa: S603
        new = findings(json.loads(scanned.read_text())) - known
    if new:
        for name in sorted({name for name, _ in new}):
            print(f"possible secret not in .secrets.baseline: {name}")
        print("audit them, then update the baseline: detect-secrets scan --baseline .secrets.baseline")
        return 1
    print(f"detect-secrets: no new findings in {len(files)} tracked files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
