"""template.yaml: the promises the stack makes (issues 2-5 and 7, DESIGN sections 1, 2 and 7)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ciosec.emulator.template import Resolver
from fixtures.template import load_template, queue_attributes, table_definition

ROOT = Path(__file__).resolve().parents[2]

TEMPLATE = load_template()
# The resources a stack deployed with the defaults and an alarm topic has (so the optional
# RotationFailedRule is here): the template after the AWS::LanguageExtensions transform
# (Fn::ForEach expanded for Workspaces=default), conditions applied, so the generated secrets of the
# one workspace (conditioned out: it is the primary) are not here. tests/iac/test_workspaces.py
# covers other Workspaces values.
ALARM_TOPIC = "arn:aws:sns:eu-west-1:123456789012:ops-alarms"
RESOURCES: dict[str, Any] = Resolver(
    "cio-security-test", parameters={"AlarmTopicArn": ALARM_TOPIC}
).resources()
FUNCTIONS = ("WebhookFunction", "GdprDeletionFunction", "RotationFunction", "ErasureVerificationFunction")
ROTATED_SECRETS = ("TrackCredentialsSecret", "SigningKeySecret", "AppApiKeySecret")

# DESIGN section 7: which function reads which variable.
ENVIRONMENT = {
    "WebhookFunction": {
        "SIGNING_KEY_SECRET_ID",
        "PEPPER_SECRET_ID",
        "IDEMPOTENCY_TABLE",
        "EVENT_BUS_NAME",
        "WEBHOOK_TOLERANCE_SECONDS",
        "WEBHOOK_DEDUPE_SECONDS",
        "WEBHOOK_MAX_BODY_BYTES",
        "WEBHOOK_QUARANTINE_BUCKET",
        "WEBHOOK_ALLOWED_SOURCE_CIDRS",
        "SIGNING_KEY_GRACE_SECONDS",
    },
    "GdprDeletionFunction": {
        "TRACK_CREDENTIALS_SECRET_ID",
        "PEPPER_SECRET_ID",
        "CUSTOMERIO_TRACK_URL",
        "CUSTOMERIO_RATE_LIMIT_RPS",
        "AUDIT_TABLE",
        "DEAD_LETTER_QUEUE_URL",
        "DELETION_MAX_CONCURRENCY",
        "DELETION_MAX_RECEIVE_COUNT",
        "APP_API_KEY_SECRET_ID",
        "VERIFICATION_QUEUE_URL",
        "EVENT_BUS_NAME",
    },
    "RotationFunction": {
        "TRACK_CREDENTIALS_SECRET_ID",
        "SIGNING_KEY_SECRET_ID",
        "PEPPER_SECRET_ID",
        "CUSTOMERIO_TRACK_URL",
        "APP_API_KEY_SECRET_ID",
        "CUSTOMERIO_APP_URL",
    },
    "ErasureVerificationFunction": {
        "APP_API_KEY_SECRET_ID",
        "CUSTOMERIO_APP_URL",
        "PEPPER_SECRET_ID",
        "AUDIT_TABLE",
        "VERIFICATION_QUEUE_URL",
        "VERIFICATION_DEAD_LETTER_QUEUE_URL",
    },
}

# The only actions allowed on Resource "*": X-Ray has no resource-level permissions for them.
STAR_RESOURCE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

CUSTOM_METRICS = {
    "WebhookVerified",
    "WebhookRejected",
    "WebhookDuplicate",
    "WebhookQuarantined",
    "PublishLatency",
    "DeletionCompleted",
    "DeletionSubmitted",
    "DeletionWrongUrl",
    "ErasureEventFailed",
    "DeletionFailedPermanently",
    "DeletionRetried",
    "DeletionSentToDlq",
    "DeadlineAtRisk",
    "DeletionAge",
    "RotationStep",
    "RotationFailed",
    "ErasureVerified",
    "ErasureNotVerified",
    "VerificationRescheduled",
    "VerificationLookupFailed",
    "AppApiRejected",
    "VerificationDeadLettered",
    "VerificationRetried",
    "VerificationAge",
}


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: spec for lid, spec in RESOURCES.items() if spec["Type"] == resource_type}


def props(logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = RESOURCES[logical_id].get("Properties", {})
    return found


def function_props(logical_id: str) -> dict[str, Any]:
    """A function's properties with the template's Globals applied (environments merged)."""
    global_props = TEMPLATE.get("Globals", {}).get("Function", {})
    own = props(logical_id)
    merged = {**global_props, **own}
    merged["Environment"] = {
        "Variables": {
            **global_props.get("Environment", {}).get("Variables", {}),
            **own.get("Environment", {}).get("Variables", {}),
        }
    }
    return merged


def ref(value: Any) -> str | None:
    """The logical id a ``!Ref`` or ``!GetAtt`` points at (None for anything else)."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return str(arg)
        if key == "Fn::GetAtt":
            return str(arg[0] if isinstance(arg, list) else arg.split(".")[0])
    return None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(function: str) -> list[dict[str, Any]]:
    role_id = ref(props(function)["Role"])
    assert role_id is not None and RESOURCES[role_id]["Type"] == "AWS::IAM::Role"
    statements: list[dict[str, Any]] = []
    for policy in props(role_id).get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def grants(function: str, action: str, resource_id: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and action in as_list(statement["Action"])
        and resource_id in {ref(r) for r in as_list(statement["Resource"])}
        for statement in role_statements(function)
    )


def sqs_event(function: str) -> dict[str, Any]:
    events = [e for e in props(function).get("Events", {}).values() if e["Type"] == "SQS"]
    assert len(events) == 1
    found: dict[str, Any] = events[0]["Properties"]
    return found


def parameter_default(name: str) -> Any:
    return TEMPLATE["Parameters"][name]["Default"]


# ------------------------------------------------------------------ functions and layer


def test_template_declares_the_four_functions_and_nothing_else() -> None:
    assert set(of_type("AWS::Serverless::Function")) == set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_runs_python313_on_arm64_with_active_tracing(function: str) -> None:
    fn = function_props(function)
    assert fn["Runtime"] == "python3.13"
    assert fn["Architectures"] == ["arm64"]
    assert fn["Tracing"] == "Active"
    assert fn["Handler"] == "app.handler"
    assert {ref(layer) for layer in fn["Layers"]} == {"SharedLayer"}
    assert ref(fn["KmsKeyArn"]) == "ProjectKey"  # environment variables encrypted with the CMK


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_has_its_own_service_name_and_encrypted_log_group(function: str) -> None:
    fn = function_props(function)
    variables = fn["Environment"]["Variables"]
    assert "POWERTOOLS_SERVICE_NAME" in props(function)["Environment"]["Variables"]
    assert {"POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"} <= set(variables)
    log_group = ref(fn["LoggingConfig"]["LogGroup"])
    assert log_group is not None and RESOURCES[log_group]["Type"] == "AWS::Logs::LogGroup"


def test_service_names_are_distinct() -> None:
    names = [json.dumps(props(f)["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]) for f in FUNCTIONS]
    assert len(set(names)) == len(names)


def test_shared_layer_is_built_for_python313_arm64() -> None:
    layer = RESOURCES["SharedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["ContentUri"] == "layers/shared"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_sam_build_alone_builds_the_same_layer_as_make_build() -> None:
    """`sam build` runs layers/shared/Makefile itself: arm64 wheels for python3.13, every pin
    installed without its dependencies (so no second botocore), the library copied beside them."""
    makefile = (ROOT / "layers" / "shared" / "Makefile").read_text()
    recipe = makefile.split("build-SharedLayer:", 1)[1]
    for flag in (
        "--no-deps",
        "--only-binary=:all:",
        "--platform manylinux2014_aarch64",
        "--python-version 3.13",
    ):
        assert flag in recipe
    assert "-r requirements.txt" in recipe
    assert "cp -R cio_security" in recipe
    pinned = [
        line.split("==")[0].lower()
        for line in (ROOT / "layers" / "shared" / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert "botocore" not in pinned and "boto3" not in pinned


@pytest.mark.parametrize(("function", "names"), ENVIRONMENT.items())
def test_function_has_the_design_environment(function: str, names: set[str]) -> None:
    assert names <= set(function_props(function)["Environment"]["Variables"])


def test_secret_ids_and_addresses_come_from_the_stack_not_literals() -> None:
    expected = {
        "SIGNING_KEY_SECRET_ID": "SigningKeySecret",
        "TRACK_CREDENTIALS_SECRET_ID": "TrackCredentialsSecret",
        "PEPPER_SECRET_ID": "PepperSecret",
        "IDEMPOTENCY_TABLE": "IdempotencyTable",
        "AUDIT_TABLE": "AuditTable",
        "EVENT_BUS_NAME": "EventBus",
        "DEAD_LETTER_QUEUE_URL": "DeletionDeadLetterQueue",
        "APP_API_KEY_SECRET_ID": "AppApiKeySecret",
        "VERIFICATION_QUEUE_URL": "VerificationQueue",
        "VERIFICATION_DEAD_LETTER_QUEUE_URL": "VerificationDeadLetterQueue",
    }
    for function in FUNCTIONS:
        variables = function_props(function)["Environment"]["Variables"]
        for name, logical_id in expected.items():
            if name in variables:
                assert ref(variables[name]) == logical_id, (function, name)


def test_webhook_is_a_post_route_on_an_http_api_with_throttling_and_access_logs() -> None:
    events = props("WebhookFunction")["Events"]
    (event,) = events.values()
    assert event["Type"] == "HttpApi"
    assert event["Properties"]["Method"] == "POST"
    assert event["Properties"]["Path"] == "/webhooks/customerio"
    assert event["Properties"]["PayloadFormatVersion"] == "2.0"
    api = props(ref(event["Properties"]["ApiId"]) or "")
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(api["DefaultRouteSettings"])
    assert ref(api["AccessLogSettings"]["DestinationArn"]) == "WebhookApiAccessLogGroup"
    json.loads(api["AccessLogSettings"]["Format"])  # a JSON access log line


# ------------------------------------------------------------------ encryption


def test_every_queue_is_encrypted_with_the_project_key() -> None:
    queues = of_type("AWS::SQS::Queue")
    assert set(queues) == {
        "DeletionQueue",
        "DeletionDeadLetterQueue",
        "VerificationQueue",
        "VerificationDeadLetterQueue",
    }
    for logical_id in queues:
        assert ref(props(logical_id)["KmsMasterKeyId"]) == "ProjectKey", logical_id


def test_every_table_is_encrypted_with_the_project_key() -> None:
    tables = of_type("AWS::DynamoDB::Table")
    assert set(tables) == {"IdempotencyTable", "AuditTable"}
    for logical_id in tables:
        sse = props(logical_id)["SSESpecification"]
        assert sse["SSEEnabled"] is True
        assert sse["SSEType"] == "KMS"
        assert ref(sse["KMSMasterKeyId"]) == "ProjectKey", logical_id


def test_every_secret_is_encrypted_with_the_project_key() -> None:
    secrets = of_type("AWS::SecretsManager::Secret")
    assert len(secrets) == 7
    for logical_id in secrets:
        assert ref(props(logical_id)["KmsKeyId"]) == "ProjectKey", logical_id


def test_every_log_group_is_encrypted_and_expires() -> None:
    for logical_id in of_type("AWS::Logs::LogGroup"):
        assert ref(props(logical_id)["KmsKeyId"]) == "ProjectKey", logical_id
        assert "RetentionInDays" in props(logical_id), logical_id


def test_project_key_rotates_and_lets_only_logs_in_besides_the_account() -> None:
    key = props("ProjectKey")
    assert key["EnableKeyRotation"] is True
    assert RESOURCES["ProjectKey"]["DeletionPolicy"] == "Retain"  # the retained audit table needs it
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert all(p != "*" and p.get("AWS") != "*" for p in principals)
    services = [p["Service"] for p in principals if "Service" in p]
    assert services and all("logs." in json.dumps(s) for s in services)


def test_queues_refuse_insecure_transport() -> None:
    covered = set()
    for policy in of_type("AWS::SQS::QueuePolicy").values():
        covered |= {ref(q) for q in policy["Properties"]["Queues"]}
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert covered == set(of_type("AWS::SQS::Queue"))


# ------------------------------------------------------------------ deletion queue


def test_deletion_queue_visibility_is_at_least_six_times_the_function_timeout() -> None:
    timeout = int(function_props("GdprDeletionFunction")["Timeout"])
    window_ref = ref(sqs_event("GdprDeletionFunction")["MaximumBatchingWindowInSeconds"])
    assert window_ref == "DeletionBatchingWindowSeconds"
    window = int(TEMPLATE["Parameters"][window_ref]["MaxValue"])  # the longest the parameter allows
    visibility = int(props("DeletionQueue")["VisibilityTimeout"])
    assert visibility >= 6 * timeout + window


def test_deletion_queue_redrives_to_its_dead_letter_queue() -> None:
    redrive = props("DeletionQueue")["RedrivePolicy"]
    assert ref(redrive["deadLetterTargetArn"]) == "DeletionDeadLetterQueue"
    # One parameter feeds the queue and the function: the function knows a message's last delivery.
    assert ref(redrive["maxReceiveCount"]) == "DeletionMaxReceiveCount"
    variables = function_props("GdprDeletionFunction")["Environment"]["Variables"]
    assert ref(variables["DELETION_MAX_RECEIVE_COUNT"]) == "DeletionMaxReceiveCount"
    assert int(TEMPLATE["Parameters"]["DeletionMaxReceiveCount"]["Default"]) >= 3
    # A redriven message keeps its enqueue time: the DLQ must keep it longer than the source queue.
    assert int(props("DeletionDeadLetterQueue")["MessageRetentionPeriod"]) == 14 * 24 * 3600
    assert int(props("DeletionDeadLetterQueue")["MessageRetentionPeriod"]) > int(
        props("DeletionQueue")["MessageRetentionPeriod"]
    )


SQS_MAX_MESSAGE_BYTES = 262_144
DLQ_ATTRIBUTE_ALLOWANCE = 2_048  # reason, request_id (<= 128), source_message_id, last_error


def test_any_deletion_message_fits_in_the_dlq_with_its_reason_attributes() -> None:
    """SQS counts message attributes toward its size limit: the source queue's cap leaves room."""
    source = int(props("DeletionQueue")["MaximumMessageSize"])
    dead_letter = int(props("DeletionDeadLetterQueue").get("MaximumMessageSize", SQS_MAX_MESSAGE_BYTES))
    assert source + DLQ_ATTRIBUTE_ALLOWANCE <= dead_letter


def test_deletion_event_reports_batch_item_failures_and_caps_concurrency() -> None:
    event = sqs_event("GdprDeletionFunction")
    assert ref(event["Queue"]) == "DeletionQueue"
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert ref(event["ScalingConfig"]["MaximumConcurrency"]) == "DeletionMaxConcurrency"
    assert TEMPLATE["Parameters"]["DeletionMaxConcurrency"]["MinValue"] >= 2  # the SQS minimum
    # Batches fill one Track v2 request; AWS requires a batching window of at least 1 s above 10.
    assert ref(event["BatchSize"]) == "DeletionBatchSize"
    assert ref(event["MaximumBatchingWindowInSeconds"]) == "DeletionBatchingWindowSeconds"
    size, window = (
        TEMPLATE["Parameters"]["DeletionBatchSize"],
        TEMPLATE["Parameters"]["DeletionBatchingWindowSeconds"],
    )
    assert 1 <= size["MinValue"] <= size["Default"] <= size["MaxValue"] <= 10_000  # standard queues
    assert window["MinValue"] >= 1
    assert size["Default"] > 10
    variables = function_props("GdprDeletionFunction")["Environment"]["Variables"]
    assert ref(variables["DELETION_MAX_CONCURRENCY"]) == "DeletionMaxConcurrency"


def test_audit_records_are_kept_and_protected() -> None:
    audit = RESOURCES["AuditTable"]
    assert audit["DeletionPolicy"] == audit["UpdateReplacePolicy"] == "Retain"
    assert audit["Properties"]["DeletionProtectionEnabled"] is True
    assert audit["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert audit["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert TEMPLATE["Parameters"]["AuditRetentionDays"]["MinValue"] >= 730


def test_idempotency_table_has_the_powertools_schema() -> None:
    table = props("IdempotencyTable")
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


# ------------------------------------------------------------------ IAM


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_role_is_least_privilege(function: str) -> None:
    role_id = ref(props(function)["Role"]) or ""
    assert "ManagedPolicyArns" not in props(role_id)  # no broad AWS managed policies
    for statement in role_statements(function):
        actions = as_list(statement["Action"])
        assert statement["Effect"] == "Allow"
        for action in actions:
            assert action != "*" and not action.endswith(":*"), (function, action)
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= STAR_RESOURCE_ACTIONS, (function, statement.get("Sid"))


@pytest.mark.parametrize(
    ("function", "action", "resource"),
    [
        ("WebhookFunction", "secretsmanager:GetSecretValue", "SigningKeySecret"),
        ("WebhookFunction", "secretsmanager:GetSecretValue", "PepperSecret"),
        ("WebhookFunction", "dynamodb:PutItem", "IdempotencyTable"),
        ("WebhookFunction", "dynamodb:DeleteItem", "IdempotencyTable"),
        ("WebhookFunction", "events:PutEvents", "EventBus"),
        ("WebhookFunction", "kms:Decrypt", "ProjectKey"),
        ("WebhookFunction", "logs:PutLogEvents", "WebhookFunctionLogGroup"),
        ("GdprDeletionFunction", "secretsmanager:GetSecretValue", "TrackCredentialsSecret"),
        ("GdprDeletionFunction", "secretsmanager:GetSecretValue", "PepperSecret"),
        ("GdprDeletionFunction", "dynamodb:UpdateItem", "AuditTable"),
        ("GdprDeletionFunction", "sqs:ReceiveMessage", "DeletionQueue"),
        ("GdprDeletionFunction", "sqs:DeleteMessage", "DeletionQueue"),
        ("GdprDeletionFunction", "sqs:SendMessage", "DeletionDeadLetterQueue"),
        ("GdprDeletionFunction", "kms:GenerateDataKey", "ProjectKey"),
        ("GdprDeletionFunction", "events:PutEvents", "EventBus"),
        ("RotationFunction", "secretsmanager:PutSecretValue", "TrackCredentialsSecret"),
        ("RotationFunction", "secretsmanager:UpdateSecretVersionStage", "SigningKeySecret"),
        ("RotationFunction", "secretsmanager:DescribeSecret", "TrackCredentialsSecret"),
        ("RotationFunction", "secretsmanager:GetSecretValue", "TrackCredentialsStagingSecret"),
        ("RotationFunction", "secretsmanager:PutSecretValue", "SigningKeyStagingSecret"),
        ("RotationFunction", "kms:GenerateDataKey", "ProjectKey"),
        ("RotationFunction", "secretsmanager:UpdateSecretVersionStage", "AppApiKeySecret"),
        ("RotationFunction", "secretsmanager:PutSecretValue", "AppApiKeyStagingSecret"),
        ("GdprDeletionFunction", "sqs:SendMessage", "VerificationQueue"),
        ("GdprDeletionFunction", "secretsmanager:GetSecretValue", "AppApiKeySecret"),
        ("ErasureVerificationFunction", "sqs:ReceiveMessage", "VerificationQueue"),
        ("ErasureVerificationFunction", "sqs:DeleteMessage", "VerificationQueue"),
        ("ErasureVerificationFunction", "sqs:SendMessage", "VerificationQueue"),
        ("ErasureVerificationFunction", "sqs:SendMessage", "VerificationDeadLetterQueue"),
        ("ErasureVerificationFunction", "secretsmanager:GetSecretValue", "AppApiKeySecret"),
        ("ErasureVerificationFunction", "secretsmanager:GetSecretValue", "PepperSecret"),
        ("ErasureVerificationFunction", "dynamodb:GetItem", "AuditTable"),
        ("ErasureVerificationFunction", "dynamodb:UpdateItem", "AuditTable"),
        ("ErasureVerificationFunction", "events:PutEvents", "EventBus"),
        ("ErasureVerificationFunction", "logs:PutLogEvents", "ErasureVerificationFunctionLogGroup"),
    ],
)
def test_function_role_grants_what_the_function_needs(function: str, action: str, resource: str) -> None:
    assert grants(function, action, resource)


@pytest.mark.parametrize(
    ("function", "action", "resource"),
    [
        ("WebhookFunction", "secretsmanager:GetSecretValue", "TrackCredentialsSecret"),
        ("GdprDeletionFunction", "secretsmanager:GetSecretValue", "SigningKeySecret"),
        ("GdprDeletionFunction", "dynamodb:DeleteItem", "AuditTable"),
        ("RotationFunction", "secretsmanager:PutSecretValue", "PepperSecret"),
        # Granted once, never used: the webhook reads a version's CreatedDate from GetSecretValue,
        # the SQS event source needs no ChangeMessageVisibility, the rotation never reads the pepper.
        ("WebhookFunction", "secretsmanager:DescribeSecret", "SigningKeySecret"),
        ("WebhookFunction", "secretsmanager:ListSecretVersionIds", "SigningKeySecret"),
        ("GdprDeletionFunction", "sqs:ChangeMessageVisibility", "DeletionQueue"),
        ("RotationFunction", "secretsmanager:GetSecretValue", "PepperSecret"),
        # Verification reads people: it never holds the Track key (which deletes them), never
        # creates or deletes an audit record, never changes the App API key.
        ("ErasureVerificationFunction", "secretsmanager:GetSecretValue", "TrackCredentialsSecret"),
        ("ErasureVerificationFunction", "dynamodb:PutItem", "AuditTable"),
        ("ErasureVerificationFunction", "dynamodb:DeleteItem", "AuditTable"),
        ("ErasureVerificationFunction", "secretsmanager:PutSecretValue", "AppApiKeySecret"),
        ("GdprDeletionFunction", "sqs:ReceiveMessage", "VerificationQueue"),
    ],
)
def test_function_role_does_not_grant_what_it_does_not_need(
    function: str, action: str, resource: str
) -> None:
    assert not grants(function, action, resource)


VIA_SERVICES = {
    "WebhookFunction": {"secretsmanager", "dynamodb", "s3", "lambda"},
    "GdprDeletionFunction": {"sqs", "secretsmanager", "dynamodb", "lambda"},
    "RotationFunction": {"secretsmanager", "lambda"},
    "ErasureVerificationFunction": {"sqs", "secretsmanager", "dynamodb", "lambda"},
}


@pytest.mark.parametrize(("function", "services"), VIA_SERVICES.items())
def test_function_uses_the_project_key_only_through_its_services(function: str, services: set[str]) -> None:
    """Every KMS grant is scoped with kms:ViaService to the services holding that function's data."""
    kms = [s for s in role_statements(function) if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert kms
    for statement in kms:
        via = statement["Condition"]["StringEquals"]["kms:ViaService"]
        named = {v["Fn::Sub"].split(".")[0] for v in via}
        assert named == services, (function, named)
        assert all(v["Fn::Sub"].endswith(".${AWS::Region}.amazonaws.com") for v in via)


def test_the_pepper_outlives_the_stack_like_the_audit_records_it_keys() -> None:
    for logical_id in ("PepperSecret", "AuditTable", "ProjectKey"):
        assert RESOURCES[logical_id]["DeletionPolicy"] == "Retain", logical_id
        assert RESOURCES[logical_id]["UpdateReplacePolicy"] == "Retain", logical_id


def test_deletion_max_receive_count_is_at_least_awss_recommended_five() -> None:
    assert TEMPLATE["Parameters"]["DeletionMaxReceiveCount"]["MinValue"] >= 5


# ------------------------------------------------------------------ secrets and rotation


def test_secrets_manager_may_invoke_the_rotation_function_from_this_account_only() -> None:
    (permission,) = (
        p["Properties"]
        for p in of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "secretsmanager.amazonaws.com"
    )
    assert ref(permission["FunctionName"]) == "RotationFunction"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_every_rotated_secret_has_a_schedule_that_never_rotates_on_deploy() -> None:
    schedules = of_type("AWS::SecretsManager::RotationSchedule")
    assert {ref(s["Properties"]["SecretId"]) for s in schedules.values()} == set(ROTATED_SECRETS)
    for spec in schedules.values():
        schedule = spec["Properties"]
        assert ref(schedule["RotationLambdaARN"]) == "RotationFunction"
        assert schedule["RotateImmediatelyOnUpdate"] is False
        assert schedule["RotationRules"]["ScheduleExpression"] == {"Fn::Sub": "rate(${RotationDays} days)"}
        assert spec["DependsOn"] == "RotationFunctionInvokePermission"
    assert parameter_default("RotationDays") == 90


@pytest.mark.parametrize("secret", ROTATED_SECRETS)
def test_rotated_secret_has_a_staging_secret_named_after_it(secret: str) -> None:
    name = props(secret)["Name"]["Fn::Sub"]
    staging = [
        lid
        for lid in of_type("AWS::SecretsManager::Secret")
        if props(lid)["Name"] == {"Fn::Sub": f"{name}/staged"}
    ]
    assert len(staging) == 1
    assert props(staging[0])["SecretString"] == "{}"  # nothing staged


@pytest.mark.parametrize("secret", ROTATED_SECRETS)
def test_rotated_secret_starts_with_a_placeholder_that_is_not_a_credential(secret: str) -> None:
    value = json.loads(props(secret)["SecretString"])
    assert all(v in ("", "us") for v in value.values())


def test_pepper_is_generated_by_the_template() -> None:
    generated = props("PepperSecret")["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "pepper"
    assert generated["SecretStringTemplate"] == "{}"
    assert generated["PasswordLength"] >= 32
    assert generated["ExcludePunctuation"] is True


# ------------------------------------------------------------------ alarms and dashboard


def lambda_alarms(metric: str) -> set[str]:
    found = set()
    for alarm in of_type("AWS::CloudWatch::Alarm").values():
        p = alarm["Properties"]
        if p.get("Namespace") == "AWS/Lambda" and p.get("MetricName") == metric:
            (dimension,) = p["Dimensions"]
            assert dimension["Name"] == "FunctionName"
            found.add(ref(dimension["Value"]) or "")
    return found


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(metric: str) -> None:
    assert lambda_alarms(metric) == set(FUNCTIONS)


def test_alarms_notify_the_topic_only_when_one_is_given() -> None:
    for logical_id, alarm in of_type("AWS::CloudWatch::Alarm").items():
        actions = alarm["Properties"]["AlarmActions"]
        assert actions["Fn::If"][0] == "HasAlarmTopic", logical_id
    assert RESOURCES["RotationFailedRule"]["Condition"] == "HasAlarmTopic"


def test_operations_alarms_exist() -> None:
    def namespace(alarm: dict[str, Any]) -> str | None:
        value = alarm["Properties"].get("Namespace")
        return ref(value) or value

    by_metric = {
        (namespace(alarm), alarm["Properties"].get("MetricName")): logical_id
        for logical_id, alarm in of_type("AWS::CloudWatch::Alarm").items()
    }
    assert ("MetricsNamespace", "DeadlineAtRisk") in by_metric
    assert ("MetricsNamespace", "RotationFailed") in by_metric
    assert ("MetricsNamespace", "ErasureNotVerified") in by_metric
    dlq_alarms = {
        ref(alarm["Properties"]["Dimensions"][0]["Value"])
        for alarm in of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert dlq_alarms == {"DeletionDeadLetterQueue", "VerificationDeadLetterQueue"}
    rejected = props("WebhookRejectedAlarm")
    assert "WebhookRejected" in rejected["Metrics"][0]["Expression"]["Fn::Sub"]
    assert rejected["Threshold"] == {"Ref": "WebhookRejectedAlarmThreshold"}


def test_custom_metrics_are_documented() -> None:
    documented = set(TEMPLATE["Metadata"]["CioSecurity::Metrics"])
    assert documented >= CUSTOM_METRICS


def test_dashboard_is_valid_json_showing_every_custom_metric() -> None:
    body, _variables = props("Dashboard")["DashboardBody"]["Fn::Sub"]
    rendered = re.sub(r"\$\{[^}]+\}", "1", body)
    dashboard = json.loads(rendered)
    assert dashboard["widgets"]
    for metric in CUSTOM_METRICS:
        assert f'MetricName=\\"{metric}\\"' in body, metric


def test_outputs_name_what_the_operator_cli_reads() -> None:
    outputs = set(TEMPLATE["Outputs"])
    assert {
        "DeletionQueueUrl",
        "DeletionDeadLetterQueueUrl",
        "AuditTableName",
        "IdempotencyTableName",
        "WebhookBucketName",
        "EventBusName",
        "TrackCredentialsSecretArn",
        "SigningKeySecretArn",
        "PepperSecretArn",
        "AppApiKeySecretArn",
        "VerificationQueueUrl",
        "WebhookUrl",
        "RotationFunctionArn",
        "SharedLayerArn",
    } <= outputs


# ------------------------------------------------------------------ fixtures for moto tests


def test_table_definition_builds_create_table_kwargs_from_the_template() -> None:
    assert table_definition("AuditTable") == {
        "KeySchema": [{"AttributeName": "request_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "request_id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    assert table_definition("IdempotencyTable")["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_queue_attributes_are_strings_with_the_template_redrive() -> None:
    attributes = queue_attributes("DeletionQueue", dead_letter_queue_arn="arn:aws:sqs:eu-west-1:1:dlq")
    assert attributes["VisibilityTimeout"] == str(props("DeletionQueue")["VisibilityTimeout"])
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:1:dlq",
        "maxReceiveCount": int(TEMPLATE["Parameters"]["DeletionMaxReceiveCount"]["Default"]),
    }
    assert "RedrivePolicy" not in queue_attributes("DeletionQueue")


def test_functions_log_json_at_the_chosen_level() -> None:
    """Lambda keeps the JSON lines' fields and filters by the LogLevel parameter, whose Python
    names map to Lambda's (WARNING is WARN there)."""
    logging_config = TEMPLATE["Globals"]["Function"]["LoggingConfig"]
    assert logging_config["LogFormat"] == "JSON"
    assert logging_config["ApplicationLogLevel"] == {
        "Fn::FindInMap": ["LogLevels", {"Ref": "LogLevel"}, "lambda"]
    }
    levels = TEMPLATE["Mappings"]["LogLevels"]
    assert set(levels) == set(TEMPLATE["Parameters"]["LogLevel"]["AllowedValues"])
    assert {name: level["lambda"] for name, level in levels.items()}["WARNING"] == "WARN"
    assert all(
        level["lambda"] in {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"} for level in levels.values()
    )


def test_a_dsar_producer_needs_only_the_producer_policy() -> None:
    """SendMessage on the deletion queue and the queue key's GenerateDataKey/Decrypt, through SQS
    only: the KMS part is what nobody would guess."""
    statements = props("DeletionProducerPolicy")["PolicyDocument"]["Statement"]
    granted = {(a, ref(r)) for s in statements for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    assert granted == {
        ("sqs:SendMessage", "DeletionQueue"),
        ("kms:GenerateDataKey", "ProjectKey"),
        ("kms:Decrypt", "ProjectKey"),
    }
    (kms,) = [s for s in statements if "kms:Decrypt" in as_list(s["Action"])]
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"
    }
    outputs = TEMPLATE["Outputs"]
    assert ref(outputs["DeletionProducerPolicyArn"]["Value"]) == "DeletionProducerPolicy"
    assert ref(outputs["OperatorPolicyArn"]["Value"]) == "OperatorPolicy"


def test_the_operator_policy_is_scoped_to_the_stacks_resources() -> None:
    for statement in props("OperatorPolicy")["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "*" not in as_list(statement["Resource"])
        for action in as_list(statement["Action"]):
            assert not action.endswith(":*")


def test_the_operator_policy_covers_dlq_listing_and_webhook_tail_only_on_their_own_names() -> None:
    statements = props("OperatorPolicy")["PolicyDocument"]["Statement"]

    def grants(action: str) -> list[Any]:
        return [r for s in statements if action in as_list(s["Action"]) for r in as_list(s["Resource"])]

    # dlq list releases what it read at once (ChangeMessageVisibility 0) on the dead-letter queue
    assert "DeletionDeadLetterQueue" in {ref(r) for r in grants("sqs:ChangeMessageVisibility")}
    # webhook tail: its temporary rule on the stack's bus and its temporary queue, nothing else
    for action in ("events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule"):
        (resource,) = grants(action)
        assert resource["Fn::Sub"].endswith(":rule/${EventBus}/ciosec-tail-*")
    for action in ("sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:DeleteQueue"):
        (resource,) = grants(action)
        assert resource["Fn::Sub"].endswith(":sqs:${AWS::Region}:${AWS::AccountId}:ciosec-tail-*")


def test_reading_live_credentials_and_moving_labels_is_the_incident_responders_policy_only() -> None:
    # Everyday operators stage and rotate; only the incident policy reads a Customer.io credential
    # (operators read the signing key, which a webhook replay verifies with) or moves labels.
    operator = props("OperatorPolicy")["PolicyDocument"]["Statement"]
    for statement in operator:
        assert "secretsmanager:UpdateSecretVersionStage" not in as_list(statement["Action"])
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"]):
            readable = {ref(r) for r in as_list(statement["Resource"])}
            assert not {"TrackCredentialsSecret", "AppApiKeySecret"} & readable
            patterns = [
                r["Fn::Sub"] for r in as_list(statement["Resource"]) if isinstance(r, dict) and "Fn::Sub" in r
            ]
            assert not any(p.endswith(("track-credentials-??????", "app-api-key-??????")) for p in patterns)
    incident = props("IncidentResponderPolicy")["PolicyDocument"]["Statement"]
    (read,) = [s for s in incident if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    # What `secrets incident` reads: the primary's Track credentials and signing key, nothing else.
    assert {ref(r) for r in as_list(read["Resource"])} == {"TrackCredentialsSecret", "SigningKeySecret"}
    (relabel,) = [s for s in incident if "secretsmanager:UpdateSecretVersionStage" in as_list(s["Action"])]
    assert {"TrackCredentialsSecret", "SigningKeySecret", "AppApiKeySecret"} <= {
        ref(r) for r in as_list(relabel["Resource"])
    }
    assert "secretsmanager:PutSecretValue" not in {a for s in incident for a in as_list(s["Action"])}
    assert ref(TEMPLATE["Outputs"]["IncidentResponderPolicyArn"]["Value"]) == "IncidentResponderPolicy"
