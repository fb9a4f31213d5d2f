"""The webhook's time budget: every AWS call bounded, no retry, the worst case inside 4 s."""

from __future__ import annotations

from cio_security.webhook.budget import (
    COLD_START_ALLOWANCE_SECONDS,
    CUSTOMERIO_TIMEOUT_SECONDS,
    WEBHOOK_TIME_BUDGET,
)


def test_every_service_on_the_worst_path_has_a_budget() -> None:
    assert {service for service, _ in WEBHOOK_TIME_BUDGET.worst_path} == set(WEBHOOK_TIME_BUDGET.services)


def test_clients_make_one_attempt_with_short_timeouts() -> None:
    for service, budget in WEBHOOK_TIME_BUDGET.services.items():
        boto = WEBHOOK_TIME_BUDGET.boto_config(service)
        assert boto.connect_timeout == budget.connect <= 0.5
        assert boto.read_timeout == budget.read <= 1.0
        assert boto.retries == {"mode": "standard", "total_max_attempts": 1}


def test_the_worst_case_is_the_sum_of_its_parts() -> None:
    budget = WEBHOOK_TIME_BUDGET
    expected = budget.cpu_seconds + sum(
        budget.services[s].connect + n * budget.services[s].read for s, n in budget.worst_path
    )
    assert budget.worst_case_seconds() == round(expected, 3)
    assert budget.worst_case_seconds() + COLD_START_ALLOWANCE_SECONDS <= CUSTOMERIO_TIMEOUT_SECONDS
