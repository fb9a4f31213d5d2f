"""template.yaml's erasure verification (issue 14): the verification queue and function, the App API
key secret and its rotation, and the deletion function's share (the first ticket)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cio_security import config
from cio_security.customerio.app_api import APP_RATE_LIMIT_RPS
from cio_security.customerio.retry import ROTATION_TEST
from cio_security.deletion.verification import MAX_DELAY_SECONDS, VerificationPolicy
from cio_security.deletion.verification_settings import VerificationSettings, is_placeholder, policy_from_env

from .test_template import RESOURCES, TEMPLATE, function_props, parameter_default, props, ref, sqs_event
from .test_timeouts import (
    VISIBILITY_PER_TIMEOUT,
    comment_above,
    function_environment,
    function_timeout,
    seconds,
)

FUNCTION = "ErasureVerificationFunction"


@pytest.fixture
def verification_settings(monkeypatch: pytest.MonkeyPatch) -> VerificationSettings:
    """VerificationSettings read from the function's environment in template.yaml alone."""
    for name in (value for key, value in vars(config).items() if key == value):
        monkeypatch.delenv(name, raising=False)
    for name, value in function_environment(FUNCTION).items():
        monkeypatch.setenv(name, value)
    return VerificationSettings.from_env()


# -- the queue and the event source ------------------------------------------------------------------


def test_the_verification_queue_is_encrypted_and_redrives_to_its_own_dlq() -> None:
    for queue in ("VerificationQueue", "VerificationDeadLetterQueue"):
        assert ref(props(queue)["KmsMasterKeyId"]) == "ProjectKey", queue
    redrive = props("VerificationQueue")["RedrivePolicy"]
    assert ref(redrive["deadLetterTargetArn"]) == "VerificationDeadLetterQueue"
    variables = function_props(FUNCTION)["Environment"]["Variables"]
    # The function knows a ticket's last delivery: the same count as the queue's.
    assert int(variables["VERIFICATION_MAX_RECEIVE_COUNT"]) == int(redrive["maxReceiveCount"]) >= 5
    assert int(props("VerificationDeadLetterQueue")["MessageRetentionPeriod"]) == 14 * 24 * 3600


def test_visibility_covers_six_timeouts_and_the_batching_window() -> None:
    window = int(sqs_event(FUNCTION)["MaximumBatchingWindowInSeconds"])
    visibility = int(props("VerificationQueue")["VisibilityTimeout"])
    assert visibility >= VISIBILITY_PER_TIMEOUT * function_timeout(FUNCTION) + window
    assert seconds(VISIBILITY_PER_TIMEOUT * function_timeout(FUNCTION) + window).split()[0] in comment_above(
        "VerificationQueue", "VisibilityTimeout"
    )


def test_batches_fill_a_batched_lookup_and_concurrency_sizes_the_budget_share() -> None:
    event = sqs_event(FUNCTION)
    assert event["BatchSize"] == 100  # one POST /v1/customers/attributes takes 1 to 100 ids
    assert event["MaximumBatchingWindowInSeconds"] >= 1  # required for a BatchSize above 10
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    variables = function_props(FUNCTION)["Environment"]["Variables"]
    assert int(variables["VERIFICATION_MAX_CONCURRENCY"]) == event["ScalingConfig"]["MaximumConcurrency"] == 2


def test_each_invocation_paces_at_its_share_of_the_app_apis_ten_per_second(
    verification_settings: VerificationSettings,
) -> None:
    assert parameter_default("CustomerIoAppRateLimitRps") == APP_RATE_LIMIT_RPS == 10
    assert TEMPLATE["Parameters"]["CustomerIoAppRateLimitRps"]["MaxValue"] == 10
    concurrency = sqs_event(FUNCTION)["ScalingConfig"]["MaximumConcurrency"]
    assert verification_settings.rate_per_invocation * concurrency == APP_RATE_LIMIT_RPS


# -- time budget -------------------------------------------------------------------------------------


def test_the_timeout_exceeds_a_lookup_at_its_worst_and_the_work_after_it(
    verification_settings: VerificationSettings,
) -> None:
    budget = verification_settings.lookup_budget_seconds
    assert budget < function_timeout(FUNCTION)
    stated = comment_above(FUNCTION, "Timeout")
    assert seconds(verification_settings.retry.worst_case()) in stated
    assert seconds(budget) in stated


def test_rotation_timeout_covers_the_app_api_keys_test_secret() -> None:
    # testSecret of an App API key: GET /v1/workspaces with the pending key, then the current one.
    assert 2 * ROTATION_TEST.worst_case() < function_timeout("RotationFunction")


# -- timing parameters -------------------------------------------------------------------------------


def test_timing_parameters_feed_both_functions_and_default_to_the_policy(
    verification_settings: VerificationSettings,
) -> None:
    assert parameter_default("VerificationFirstCheckSeconds") == 900
    assert parameter_default("VerificationWindowSeconds") == 86_400
    assert verification_settings.policy == VerificationPolicy()
    for function in ("GdprDeletionFunction", FUNCTION):
        variables = function_props(function)["Environment"]["Variables"]
        assert ref(variables["VERIFICATION_FIRST_CHECK_SECONDS"]) == "VerificationFirstCheckSeconds"
        assert ref(variables["VERIFICATION_WINDOW_SECONDS"]) == "VerificationWindowSeconds"
        assert ref(variables["VERIFICATION_QUEUE_URL"]) == "VerificationQueue"
        assert ref(variables["APP_API_KEY_SECRET_ID"]) == "AppApiKeySecret"
    parameters = TEMPLATE["Parameters"]
    # Every allowed first delay fits in the smallest allowed window.
    assert (
        parameters["VerificationFirstCheckSeconds"]["MaxValue"]
        >= parameters["VerificationWindowSeconds"]["MinValue"]
    )
    assert parameters["VerificationWindowSeconds"]["MinValue"] >= MAX_DELAY_SECONDS


def test_the_deletion_functions_policy_is_the_verification_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    for function in ("GdprDeletionFunction", FUNCTION):
        for name, value in function_environment(function).items():
            monkeypatch.setenv(name, value)
    assert policy_from_env() == VerificationPolicy()


# -- the App API key --------------------------------------------------------------------------------


def test_the_app_api_key_starts_as_a_placeholder_that_turns_verification_off() -> None:
    placeholder = props("AppApiKeySecret")["SecretString"]
    assert is_placeholder(placeholder)
    assert json.loads(placeholder) == {"app_api_key": "", "region": "us"}
    assert props("AppApiKeyStagingSecret")["SecretString"] == "{}"


def test_a_failed_app_api_key_rotation_reaches_the_alarm_topic() -> None:
    pattern: dict[str, Any] = props("RotationFailedRule")["EventPattern"]
    secrets = {ref(s) for s in pattern["detail"]["additionalEventData"]["SecretId"]}
    assert "AppApiKeySecret" in secrets


# -- alarms ------------------------------------------------------------------------------------------


def test_erasure_not_verified_alarms_on_the_first_one() -> None:
    alarm = props("ErasureNotVerifiedAlarm")
    assert ref(alarm["Namespace"]) == "MetricsNamespace"
    assert alarm["MetricName"] == "ErasureNotVerified"
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": {"Fn::Sub": "${AWS::StackName}-erasure-verification"}}
    ]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        0,
        "GreaterThanThreshold",
    )
    service = props(FUNCTION)["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert service == {"Fn::Sub": "${AWS::StackName}-erasure-verification"}


def test_a_rejected_app_api_and_a_stalled_queue_alarm() -> None:
    assert props("AppApiRejectedAlarm")["MetricName"] == "AppApiRejected"
    stalled = props("VerificationQueueAgeAlarm")
    assert stalled["MetricName"] == "ApproximateAgeOfOldestMessage"
    # Tickets are re-sent at least every 900 s while they wait: an hour means no consumer.
    assert stalled["Threshold"] > MAX_DELAY_SECONDS
    assert ref(stalled["Dimensions"][0]["Value"]) == "VerificationQueue"


def test_every_verification_resource_is_in_the_template() -> None:
    for logical_id in (
        "AppApiKeySecret",
        "AppApiKeyStagingSecret",
        "AppApiKeyRotationSchedule",
        "VerificationQueue",
        "VerificationDeadLetterQueue",
        "ErasureVerificationFunction",
        "ErasureVerificationFunctionRole",
        "ErasureVerificationFunctionLogGroup",
    ):
        assert logical_id in RESOURCES
