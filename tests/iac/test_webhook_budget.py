"""The webhook's 4 seconds (issue 13): every AWS call's timeouts fit a budget that answers inside
Customer.io's timeout, cold start included, and the function's Timeout matches it.

- The budget's worst case (``WEBHOOK_TIME_BUDGET.worst_case_seconds``) is at most the function's
  Timeout: the function always answers itself (a Lambda timeout is API Gateway's 502, which
  Customer.io meets with a one-hour wait).
- The Timeout plus the cold-start allowance is at most 4 s.
- The figures the template's comment and the README state are the code's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cio_security.webhook.budget import (
    COLD_START_ALLOWANCE_SECONDS,
    CUSTOMERIO_TIMEOUT_SECONDS,
    WEBHOOK_TIME_BUDGET,
)
from fixtures.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
TEMPLATE_TEXT = (ROOT / "template.yaml").read_text(encoding="utf-8")
README_TEXT = (ROOT / "README.md").read_text(encoding="utf-8")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def webhook_timeout() -> float:
    own = RESOURCES["WebhookFunction"]["Properties"].get("Timeout")
    return float(own if own is not None else TEMPLATE["Globals"]["Function"]["Timeout"])


def test_the_budget_fits_the_function_timeout() -> None:
    assert WEBHOOK_TIME_BUDGET.worst_case_seconds() <= webhook_timeout()


def test_the_timeout_leaves_the_cold_start_allowance_inside_customerios_4_seconds() -> None:
    assert webhook_timeout() + COLD_START_ALLOWANCE_SECONDS <= CUSTOMERIO_TIMEOUT_SECONDS


def test_no_webhook_call_is_retried_by_botocore() -> None:
    """A botocore retry sleeps up to 1 s first; a 503 lets Customer.io retry instead."""
    for service in WEBHOOK_TIME_BUDGET.services:
        assert WEBHOOK_TIME_BUDGET.boto_config(service).retries["total_max_attempts"] == 1


def test_the_template_states_the_budget() -> None:
    block = re.search(r"^  WebhookFunction:\n(.*?)(?=^  \S)", TEMPLATE_TEXT, flags=re.MULTILINE | re.DOTALL)
    assert block is not None
    comment = " ".join(line.strip().lstrip("#").strip() for line in block.group(1).splitlines())
    assert f"{WEBHOOK_TIME_BUDGET.worst_case_seconds():g} s" in comment
    assert "4 connects and 8 reads" in comment


def test_the_readme_states_the_budget() -> None:
    section = README_TEXT[README_TEXT.index("**Four seconds.**") :].split("\n\n", 1)[0]
    text = " ".join(section.split())
    assert f"{WEBHOOK_TIME_BUDGET.worst_case_seconds():g} s" in text
    assert f"{webhook_timeout():g} s Timeout" in text
    for budget in WEBHOOK_TIME_BUDGET.services.values():
        assert f"{budget.connect:g} s" in text and f"{budget.read:g} s" in text
