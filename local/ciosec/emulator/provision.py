"""Create the template's data resources (secrets, queues, tables, event buses) in an AWS endpoint
(the local moto server, or moto in tests) exactly as template.yaml declares them: names,
key schemas, TTLs, visibility timeouts and redrive policies are read from the template, not
repeated here. Functions, APIs, alarms, KMS and IAM are not emulated: the local stack runs the
handlers in-process instead, and only the properties used here are resolved (so a resource's
``KmsMasterKeyId: !GetAtt ProjectKey.Arn`` is never asked for)."""

from __future__ import annotations

import json
import secrets as random_tokens
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from ciosec.emulator.buckets import create_buckets
from ciosec.emulator.template import Resolver

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# Queue attributes CloudFormation accepts that SQS's SetQueueAttributes takes as strings.
QUEUE_ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)


@dataclass
class Provisioned:
    """Physical names of what was created, by logical id."""

    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> secret ARN
    buses: dict[str, str] = field(default_factory=dict)  # logical id -> bus name
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> bucket name
    resolver: Resolver | None = None


def _generate(spec: dict[str, Any]) -> str:
    """A value for GenerateSecretString (template JSON + a random alphanumeric key)."""
    length = int(spec.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?[]^_{|}~"
    value = "".join(random_tokens.choice(alphabet) for _ in range(length))
    if "GenerateStringKey" in spec:
        data = json.loads(spec.get("SecretStringTemplate", "{}"))
        data[spec["GenerateStringKey"]] = value
        return json.dumps(data)
    return value


def provision(resolver: Resolver, *, region: str, overrides: dict[str, str] | None = None) -> Provisioned:
    """Create every secret, queue, table, event bus and bucket of the template.

    ``overrides`` maps a secret's logical id to the SecretString to store instead of the
    template's (the local stack's sandbox credentials, for instance).
    """
    # The resources a stack with the resolver's parameters has: Fn::ForEach expanded (every
    # workspace's secrets after the first), conditions applied.
    resources = resolver.resources()
    by_type: dict[str, list[str]] = {}
    for logical_id, spec in resources.items():
        by_type.setdefault(spec["Type"], []).append(logical_id)
    result = Provisioned(resolver=resolver)
    _queues(resolver, by_type.get("AWS::SQS::Queue", []), result, boto3.client("sqs", region_name=region))
    _tables(
        resolver,
        by_type.get("AWS::DynamoDB::Table", []),
        result,
        boto3.client("dynamodb", region_name=region),
    )
    _buses(
        resolver, by_type.get("AWS::Events::EventBus", []), result, boto3.client("events", region_name=region)
    )
    result.buckets = create_buckets(
        resolver, by_type.get("AWS::S3::Bucket", []), boto3.client("s3", region_name=region), region=region
    )
    _secrets(
        resolver,
        by_type.get("AWS::SecretsManager::Secret", []),
        result,
        boto3.client("secretsmanager", region_name=region),
        overrides or {},
    )
    return result


def _name(resolver: Resolver, props: dict[str, Any], key: str, logical_id: str, sep: str = "-") -> str:
    """The resource's name property, else the name CloudFormation would generate (near enough)."""
    return str(props.get(key) or f"{resolver.stack_name}{sep}{logical_id}")


def _queues(resolver: Resolver, ids: list[str], result: Provisioned, sqs: SQSClient) -> None:
    # Queues first without redrive (a redrive policy names the DLQ's ARN), then the policies.
    for logical_id in ids:
        props = resolver.properties(logical_id, "QueueName", *QUEUE_ATTRIBUTES)
        name = _name(resolver, props, "QueueName", logical_id)
        attributes = {k: str(props[k]) for k in QUEUE_ATTRIBUTES if k in props}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        resolver.refs[logical_id] = url
        resolver.attributes.update(
            {(logical_id, "Arn"): arn, (logical_id, "QueueName"): name, (logical_id, "QueueUrl"): url}
        )
        result.queues[logical_id] = url
    for logical_id in ids:
        policy = resolver.properties(logical_id, "RedrivePolicy").get("RedrivePolicy")
        if policy:
            sqs.set_queue_attributes(
                QueueUrl=result.queues[logical_id],
                Attributes={"RedrivePolicy": policy if isinstance(policy, str) else json.dumps(policy)},
            )


def _tables(resolver: Resolver, ids: list[str], result: Provisioned, ddb: DynamoDBClient) -> None:
    for logical_id in ids:
        props = resolver.properties(
            logical_id,
            "TableName",
            "KeySchema",
            "AttributeDefinitions",
            "BillingMode",
            "TimeToLiveSpecification",
        )
        name = _name(resolver, props, "TableName", logical_id)
        ddb.create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:::table/{name}"
        result.tables[logical_id] = name


def _buses(resolver: Resolver, ids: list[str], result: Provisioned, events: EventBridgeClient) -> None:
    for logical_id in ids:
        name = _name(resolver, resolver.properties(logical_id, "Name"), "Name", logical_id)
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        resolver.refs[logical_id] = name
        resolver.attributes.update({(logical_id, "Arn"): arn, (logical_id, "Name"): name})
        result.buses[logical_id] = name


def _secrets(
    resolver: Resolver,
    ids: list[str],
    result: Provisioned,
    sm: SecretsManagerClient,
    overrides: dict[str, str],
) -> None:
    for logical_id in ids:
        props = resolver.properties(logical_id, "Name", "SecretString", "GenerateSecretString")
        name = _name(resolver, props, "Name", logical_id, sep="/")
        if logical_id in overrides:
            value = overrides[logical_id]
        elif "SecretString" in props:
            value = props["SecretString"]
        else:
            value = _generate(props.get("GenerateSecretString", {}))
        arn = sm.create_secret(Name=name, SecretString=value)["ARN"]
        resolver.refs[logical_id] = arn
        resolver.attributes[(logical_id, "Id")] = arn
        result.secrets[logical_id] = arn


def function_environment(resolver: Resolver, logical_id: str) -> dict[str, str]:
    """A function's environment variables: Globals merged with its own, intrinsics resolved (the
    resources they name must be provisioned first)."""
    template = resolver.template
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][logical_id].get("Properties", {}).get("Environment", {}).get("Variables", {})
    merged = {
        name: resolver.resolve(value, where=f"resource {logical_id}, environment variable {name}")
        for name, value in {**global_env, **own}.items()
    }
    return {k: "" if v is None else str(v) for k, v in merged.items()}
