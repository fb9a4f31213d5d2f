"""ciosec.emulator.template: the real template.yaml resolves for what the local stack uses, and an
intrinsic the resolver cannot resolve is an error naming the construct and the resource, never a
made-up name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ciosec.emulator.local_stack import FUNCTIONS
from ciosec.emulator.provision import function_environment
from ciosec.emulator.template import Resolver, UnresolvableIntrinsicError, load_template

TEMPLATE = """\
Parameters:
  Stage:
    Type: String
    Default: dev
  Required:
    Type: String
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Key:
    Type: AWS::KMS::Key
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-${Stage}-queue"
      VisibilityTimeout: !If [IsProd, 300, 30]
      KmsMasterKeyId: !GetAtt Key.Arn
      Tags:
        - Key: joined
          Value: !Join ["/", [a, !Ref Stage, !Select [1, [x, y]]]]
        - Key: literal
          Value: !Sub "${!NotResolved}"
  Other:
    Type: AWS::SQS::Queue
    Properties:
      FromUnknownRef: !Ref Nowhere
      FromParameterWithoutValue: !Ref Required
      FromUnmodelledAttribute: !GetAtt Queue.QueueArnTypo
      FromUnknownFunction: !ImportValue shared-export
      FromFindInMap: !FindInMap [Map, Key, Value]
      FromSub: !Sub "arn:${AWS::Partition}:kms:${Key.Arn}"
      FromUnknownCondition: !If [NoSuchCondition, a, b]
"""


@pytest.fixture
def resolver(tmp_path: Path) -> Resolver:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return Resolver("stack", path=path)


def test_resolves_parameters_pseudo_parameters_conditions_and_functions(resolver: Resolver) -> None:
    props = resolver.properties("Queue", "QueueName", "VisibilityTimeout", "Tags")
    assert props == {
        "QueueName": "stack-dev-queue",
        "VisibilityTimeout": 30,
        "Tags": [{"Key": "joined", "Value": "a/dev/y"}, {"Key": "literal", "Value": "${NotResolved}"}],
    }
    assert resolver.properties("Queue", "NotAProperty") == {}


def test_resolves_what_the_provisioner_recorded(resolver: Resolver) -> None:
    resolver.attributes[("Key", "Arn")] = "arn:aws:kms:eu-west-1:123456789012:key/k"
    assert resolver.properties("Queue", "KmsMasterKeyId") == {
        "KmsMasterKeyId": "arn:aws:kms:eu-west-1:123456789012:key/k"
    }
    assert resolver.properties("Other", "FromSub") == {
        "FromSub": "arn:aws:kms:arn:aws:kms:eu-west-1:123456789012:key/k"
    }


@pytest.mark.parametrize(
    ("logical_id", "prop", "construct", "reason"),
    [
        (
            "Queue",
            "KmsMasterKeyId",
            "Fn::GetAtt Key.Arn",
            "Key (AWS::KMS::Key) is not created by the local stack",
        ),
        (
            "Other",
            "FromUnknownRef",
            "Ref Nowhere",
            "no parameter, pseudo parameter or resource named Nowhere",
        ),
        ("Other", "FromParameterWithoutValue", "Ref Required", "parameter Required has no Default"),
        (
            "Other",
            "FromUnmodelledAttribute",
            "Fn::GetAtt Queue.QueueArnTypo",
            "Queue (AWS::SQS::Queue) is not",
        ),
        (
            "Other",
            "FromUnknownFunction",
            "Fn::ImportValue shared-export",
            "Fn::ImportValue is not implemented",
        ),
        ("Other", "FromFindInMap", "Fn::FindInMap", "Fn::FindInMap is not implemented"),
        ("Other", "FromSub", "Fn::Sub ${Key.Arn}", "Key (AWS::KMS::Key) is not created by the local stack"),
        ("Other", "FromUnknownCondition", "Condition NoSuchCondition", "has no condition NoSuchCondition"),
    ],
)
def test_an_unresolvable_intrinsic_is_an_error_naming_construct_and_resource(
    resolver: Resolver, logical_id: str, prop: str, construct: str, reason: str
) -> None:
    with pytest.raises(UnresolvableIntrinsicError) as failure:
        resolver.properties(logical_id, prop)
    assert failure.value.construct == construct
    assert failure.value.where == f"resource {logical_id}, property {prop}"
    assert reason in failure.value.reason
    assert str(failure.value).startswith(
        f"resource {logical_id}, property {prop}: cannot resolve {construct}"
    )


def test_resolving_every_property_fails_on_the_first_unresolvable_one(resolver: Resolver) -> None:
    with pytest.raises(UnresolvableIntrinsicError, match=r"resource Queue, property KmsMasterKeyId"):
        resolver.properties("Queue")


def test_a_recorded_resource_without_the_attribute_is_named_as_unmodelled(resolver: Resolver) -> None:
    resolver.refs["Queue"] = "https://sqs/queue"
    with pytest.raises(UnresolvableIntrinsicError, match="does not model Queue's QueueArnTypo"):
        resolver.properties("Other", "FromUnmodelledAttribute")


def test_an_unknown_resource_is_a_key_error(resolver: Resolver) -> None:
    with pytest.raises(KeyError, match="no resource Missing"):
        resolver.properties("Missing")


def test_the_real_template_resolves_what_the_local_stack_uses() -> None:
    """What provisioning and the functions' environments read from template.yaml resolves once
    the data resources are recorded; everything else is never asked for."""
    resolver = Resolver("cio-security-local")
    resources = load_template()["Resources"]
    provisioned = {
        "AWS::SQS::Queue": ("QueueName", "VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy"),
        "AWS::DynamoDB::Table": ("TableName", "KeySchema", "AttributeDefinitions", "TimeToLiveSpecification"),
        "AWS::Events::EventBus": ("Name",),
        "AWS::SecretsManager::Secret": ("Name", "SecretString", "GenerateSecretString"),
        "AWS::S3::Bucket": ("BucketName", "PublicAccessBlockConfiguration", "LifecycleConfiguration"),
    }
    for logical_id, spec in resources.items():
        if spec["Type"] in provisioned:
            resolver.refs[logical_id] = f"physical-{logical_id}"
            for attribute in ("Arn", "QueueName", "QueueUrl", "Name", "Id"):
                resolver.attributes[(logical_id, attribute)] = f"{logical_id}.{attribute}"
    for logical_id, spec in resources.items():
        if spec["Type"] in provisioned:
            resolver.properties(logical_id, *provisioned[spec["Type"]])
    for logical_id in FUNCTIONS:
        environment = function_environment(resolver, logical_id)
        assert environment
        assert all("physical-" in v for k, v in environment.items() if k.endswith(("_SECRET_ID", "_TABLE")))
    with pytest.raises(UnresolvableIntrinsicError, match="ProjectKey"):
        resolver.properties("DeletionQueue", "KmsMasterKeyId")
