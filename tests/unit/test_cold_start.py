"""What a handler module imports at cold start, in a Lambda-like environment (fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def modules_after_import(function: str) -> set[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "shared"),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "POWERTOOLS_TRACE_DISABLED": "false",
    }
    app = ROOT / "functions" / function / "app.py"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(app)], env=env, check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize(
    ("function", "absent"),
    [
        # The webhook never calls Customer.io: no HTTP client library, only botocore is traced.
        ("webhook", {"httpx", "requests", "sqlite3", "cio_security.customerio"}),
        ("gdpr_deletion", {"requests", "sqlite3"}),
        ("erasure_verification", {"requests", "sqlite3"}),
        ("rotation", {"requests", "sqlite3"}),
    ],
)
def test_handlers_import_only_what_they_use(function: str, absent: set[str]) -> None:
    loaded = modules_after_import(function)
    assert "aws_xray_sdk.core" in loaded  # tracing is on, as in Lambda
    assert not absent & loaded


def test_the_workspaces_module_is_light() -> None:
    """The webhook reads its workspaces at cold start: that costs no HTTP client, no pydantic,
    no boto3 (``region_url_overrides`` imports the Customer.io URLs only when called)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "shared")}
    probe = "import json, sys, cio_security.workspaces; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert not {"pydantic", "httpx", "boto3", "botocore", "cio_security.customerio"} & loaded
