"""template.yaml's webhook resources (issue 13): the bucket for kept bodies and claim checks, the
settings' defaults against the code's, the quarantine alarm, SnapStart and the source ranges."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cio_security import config
from cio_security.webhook.settings import WebhookSettings
from ciosec.emulator.template import Resolver
from fixtures.template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]


def props(logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = RESOURCES[logical_id]["Properties"]
    return found


def webhook_environment(**parameters: str) -> dict[str, str]:
    """The webhook's environment as the stack sets it for these parameter values."""
    resolver = Resolver("cio-security-test", parameters=parameters)
    resolver.refs.update({lid: lid for lid in RESOURCES})
    variables = props("WebhookFunction")["Environment"]["Variables"]
    return {k: str(resolver.resolve(v, where=f"WebhookFunction {k}")) for k, v in variables.items()}


# ------------------------------------------------------------------ the bucket


def test_the_bucket_is_kms_encrypted_with_the_project_key_per_object() -> None:
    (rule,) = props("WebhookBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": ["ProjectKey", "Arn"]}
    assert rule["BucketKeyEnabled"] is False  # per-object encryption context: consumers scoped to claims/


def test_the_bucket_blocks_public_access_and_acls() -> None:
    block = props("WebhookBucket")["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props("WebhookBucket")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]


def test_the_bucket_refuses_insecure_transport() -> None:
    policy = props("WebhookBucketPolicy")
    assert policy["Bucket"] == {"Ref": "WebhookBucket"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(statement["Resource"]) == 2  # the bucket and its objects


def test_everything_in_the_bucket_expires_after_the_retention_parameter() -> None:
    (rule,) = props("WebhookBucket")["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and "Prefix" not in rule and "Filter" not in rule
    assert rule["ExpirationInDays"] == {"Ref": "WebhookQuarantineRetentionDays"}
    assert PARAMETERS["WebhookQuarantineRetentionDays"]["Default"] == 14
    assert "VersioningConfiguration" not in props("WebhookBucket")  # a deleted body stays deleted


def test_the_function_only_writes_under_its_two_prefixes() -> None:
    role = props("WebhookFunctionRole")
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    s3 = [s for s in statements if any(a.startswith("s3:") for a in _as_list(s["Action"]))]
    assert len(s3) == 1
    assert _as_list(s3[0]["Action"]) == ["s3:PutObject"]
    assert {r["Fn::Sub"] for r in s3[0]["Resource"]} == {
        "${WebhookBucket.Arn}/quarantine/*",
        "${WebhookBucket.Arn}/claims/*",
    }


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_bucket_is_an_output_for_the_operator_cli() -> None:
    assert TEMPLATE["Outputs"]["WebhookBucketName"]["Value"] == {"Ref": "WebhookBucket"}


# ------------------------------------------------------------------ settings


def test_the_template_defaults_are_the_codes_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = webhook_environment()
    assert int(environment["WEBHOOK_DEDUPE_SECONDS"]) == config.DEFAULT_WEBHOOK_DEDUPE_SECONDS
    assert int(environment["WEBHOOK_TOLERANCE_SECONDS"]) == config.DEFAULT_WEBHOOK_TOLERANCE_SECONDS
    assert int(environment["WEBHOOK_MAX_BODY_BYTES"]) == config.DEFAULT_WEBHOOK_MAX_BODY_BYTES
    assert environment["WEBHOOK_ALLOWED_SOURCE_CIDRS"] == ""
    for name in (value for key, value in vars(config).items() if key == value):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    WebhookSettings.from_env()  # the stack's own settings are accepted


def test_a_zero_tolerance_parameter_means_the_dedupe_window() -> None:
    environment = webhook_environment(WebhookDedupeSeconds="86400", WebhookToleranceSeconds="0")
    assert environment["WEBHOOK_TOLERANCE_SECONDS"] == "86400"
    environment = webhook_environment(WebhookDedupeSeconds="86400", WebhookToleranceSeconds="600")
    assert environment["WEBHOOK_TOLERANCE_SECONDS"] == "600"


def test_the_body_limit_cannot_exceed_what_lambda_accepts() -> None:
    assert (
        PARAMETERS["WebhookMaxBodyBytes"]["MaxValue"]
        == config.DEFAULT_WEBHOOK_MAX_BODY_BYTES
        == 6 * 1024 * 1024
    )


def test_source_ranges_are_off_by_default() -> None:
    assert PARAMETERS["WebhookAllowedSourceCidrs"]["Default"] == ""


# ------------------------------------------------------------------ SnapStart, alarm, metrics


def test_snapstart_is_a_parameter_off_by_default_on_published_versions() -> None:
    assert PARAMETERS["WebhookSnapStart"]["Default"] == "None"
    assert set(PARAMETERS["WebhookSnapStart"]["AllowedValues"]) == {"None", "PublishedVersions"}
    function = props("WebhookFunction")
    assert function["SnapStart"] == {"ApplyOn": {"Ref": "WebhookSnapStart"}}
    assert function["AutoPublishAlias"]  # API Gateway invokes a published version, as SnapStart needs


def test_the_quarantine_alarm_follows_the_alarm_pattern() -> None:
    alarm = props("WebhookQuarantinedAlarm")
    assert alarm["MetricName"] == "WebhookQuarantined"
    assert alarm["Namespace"] == {"Ref": "MetricsNamespace"}
    assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Fn::Sub": "${AWS::StackName}-webhook"}}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        0,
        "GreaterThanThreshold",
    )
    assert alarm["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"
    body, _ = props("Dashboard")["DashboardBody"]["Fn::Sub"]
    assert "${WebhookQuarantinedAlarm.Arn}" in body


def test_the_metrics_metadata_documents_the_webhook_metrics() -> None:
    documented = TEMPLATE["Metadata"]["CioSecurity::Metrics"]
    assert documented["WebhookQuarantined"]["Dimensions"] == ["service"]
    assert "source_address" in documented["WebhookRejected"]["Meaning"]
    json.dumps(documented)
