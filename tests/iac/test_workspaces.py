"""template.yaml's workspaces (issue 15): the Workspaces parameter generates, with Fn::ForEach, every
workspace's secrets after the first; the primary keeps the stack's original secrets; each role reads
exactly its kinds; every function is told the workspaces, and the names the template gives the
secrets are the names cio_security.workspaces looks for."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest

from cio_security.workspaces import (
    SECRET_KINDS,
    WORKSPACE_NAME_PATTERN,
    SecretKind,
    secret_name,
    workspace_secret_name,
    workspaces_from_env,
)
from ciosec.emulator.language_extensions import LanguageExtensionError, expand
from ciosec.emulator.provision import function_environment
from ciosec.emulator.template import Resolver, load_raw_template

ROOT = Path(__file__).resolve().parents[2]

STACK = "cio-security-test"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
PREFIX = f"{STACK}/customerio/"
FUNCTIONS = ("WebhookFunction", "GdprDeletionFunction", "RotationFunction", "ErasureVerificationFunction")
# Logical id stem of each kind's secret (the primary's logical ids; generated ones add the name).
STEMS: dict[SecretKind, str] = {
    "track-credentials": "TrackCredentials",
    "webhook-signing-key": "SigningKey",
    "app-api-key": "AppApiKey",
}
PRIMARY_SECRETS = {
    "track-credentials": "TrackCredentialsSecret",
    "webhook-signing-key": "SigningKeySecret",
    "app-api-key": "AppApiKeySecret",
}
ENV_VARS = (
    "CUSTOMERIO_WORKSPACES",
    "CUSTOMERIO_WORKSPACE_SECRET_PREFIX",
    "CUSTOMERIO_WORKSPACE_RATE_LIMITS",
    "CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS",
)


class _EveryAttribute(dict[tuple[str, str], str]):
    """Resolver attributes for a template-only test: every ``Fn::GetAtt X.Attr`` is ``X.Attr``."""

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and len(key) == 2

    def __getitem__(self, key: tuple[str, str]) -> str:
        return f"{key[0]}.{key[1]}"


def arn(name: str) -> str:
    """A secret's ARN: its name, "-" and six random characters."""
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbC123"


def resolver(workspaces: str = "default", **parameters: str) -> Resolver:
    """The template resolved for ``Workspaces=workspaces``, every resource "created": secrets by
    their ARN, anything else by its logical id."""
    r = Resolver(STACK, region=REGION, account=ACCOUNT, parameters={"Workspaces": workspaces, **parameters})
    r.attributes = _EveryAttribute()
    for logical_id, spec in r.resources().items():
        if spec["Type"] == "AWS::SecretsManager::Secret":
            r.refs[logical_id] = arn(r.properties(logical_id, "Name")["Name"])
        else:
            r.refs[logical_id] = logical_id
    return r


def generated(r: Resolver) -> dict[str, dict[str, Any]]:
    """The resources a workspace's loop generated (created or not)."""
    return {
        lid: spec
        for lid, spec in r.template["Resources"].items()
        if str(spec.get("Condition", "")).startswith("IsAdditionalWorkspace")
    }


# ---------------------------------------------------------------- the parameter


def test_the_parameter_is_a_validated_list_whose_default_is_one_workspace() -> None:
    spec = load_raw_template()["Parameters"]["Workspaces"]
    assert spec["Type"] == "CommaDelimitedList"
    assert spec["Default"] == "default"
    # CloudFormation applies a CommaDelimitedList's AllowedPattern to each name. Letters and digits
    # only: the names go into logical ids through ${ws} (&{ws} is not replaced in values), and every
    # name the template accepts is one the functions accept.
    for name in ("produs", "a", "eu2", "x" * 32):
        assert re.fullmatch(spec["AllowedPattern"], name)
        assert re.fullmatch(WORKSPACE_NAME_PATTERN, name)
    for name in ("Prod", "prod-eu", "-eu", "a_b", "x" * 33, ""):
        assert not re.fullmatch(spec["AllowedPattern"], name)


def test_the_template_never_uses_the_ampersand_form_in_a_value() -> None:
    # CloudFormation replaces &{ws} in output keys only
    # (cloudformation-coverage-roadmap#2150): a value holding it would reach the stack unreplaced.
    text = (ROOT / "template.yaml").read_text()
    assert "&{" not in text.replace("&{Identifier}", "")


def test_the_local_expander_refuses_the_ampersand_form_in_a_value() -> None:
    loop = ["n", ["a"], {"Q&{n}": {"Name": "x-&{n}"}}]
    with pytest.raises(LanguageExtensionError, match="output keys only"):
        expand({"Resources": {"Fn::ForEach::Q": loop}}, {})


def test_the_template_uses_the_language_extensions_transform_before_sam() -> None:
    assert load_raw_template()["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]


def test_rate_limit_parameters_accept_name_rps_pairs() -> None:
    for name in ("WorkspaceRateLimits", "WorkspaceAppRateLimits"):
        spec = load_raw_template()["Parameters"][name]
        assert spec["Default"] == ""
        for value in ("", "prodeu=50", "produs=100,prodeu=2.5"):
            assert re.fullmatch(spec["AllowedPattern"], value), value
        for value in ("prodeu", "prodeu=", "=5", "prodeu=5,", "prod eu=5", "prod-eu=5"):
            assert not re.fullmatch(spec["AllowedPattern"], value), value


# ---------------------------------------------------------------- what gets created


def test_a_default_deploy_has_exactly_the_single_workspace_resources() -> None:
    raw = load_raw_template()["Resources"]
    written = {lid for lid in raw if not lid.startswith("Fn::ForEach::")}
    r = resolver()
    created = set(r.resources())
    assert created == written - {"RotationFailedRule"}  # that one waits for AlarmTopicArn
    # The loop ran for the one workspace, and its condition keeps everything out: it is the primary.
    assert set(generated(r)) == {f"{stem}{kind}default" for stem in STEMS.values() for kind in _KINDS}
    assert not created & set(generated(r))


_KINDS = ("Secret", "StagingSecret", "RotationSchedule")


def test_two_workspaces_add_the_second_ones_six_secrets_and_three_schedules() -> None:
    r = resolver("produs,prodeu")
    added = set(r.resources()) - set(resolver().resources())
    assert added == {f"{stem}{kind}prodeu" for stem in STEMS.values() for kind in _KINDS}
    types = sorted(r.template["Resources"][lid]["Type"] for lid in added)
    assert types.count("AWS::SecretsManager::Secret") == 6
    assert types.count("AWS::SecretsManager::RotationSchedule") == 3
    # Nothing for the primary: its secrets are the original ones.
    assert not any(lid.endswith("produs") for lid in r.resources())


@pytest.mark.parametrize("workspaces", ["produs,prodeu", "eu,useast1,brandastaging", "a1,b2c3"])
def test_generated_secrets_are_named_by_the_workspaces_convention(workspaces: str) -> None:
    r = resolver(workspaces)
    primary, *others = workspaces.split(",")
    prefix = r.resolve(
        r.template["Globals"]["Function"]["Environment"]["Variables"]["CUSTOMERIO_WORKSPACE_SECRET_PREFIX"]
    )
    assert prefix == PREFIX
    for name in others:
        suffix = name.replace("-", "")
        for kind, stem in STEMS.items():
            secret = r.properties(f"{stem}Secret{suffix}")
            staged = r.properties(f"{stem}StagingSecret{suffix}")
            assert secret["Name"] == workspace_secret_name(prefix, name, kind)
            assert staged["Name"] == workspace_secret_name(prefix, name, kind) + "/staged"
            # Encrypted with the project key, created with the primary's placeholder / an empty stage.
            assert secret["KmsKeyId"] == staged["KmsKeyId"] == "ProjectKey.Arn"
            assert (
                secret["SecretString"] == r.properties(PRIMARY_SECRETS[kind], "SecretString")["SecretString"]
            )
            assert staged["SecretString"] == "{}"
    assert not any(lid.endswith(primary.replace("-", "")) for lid in generated(r) if r.is_created(lid))


def test_generated_rotation_schedules_rotate_their_secret_like_the_primarys() -> None:
    r = resolver("produs,prodeu")
    for stem in STEMS.values():
        mine = r.template["Resources"][f"{stem}RotationScheduleprodeu"]
        primary = r.template["Resources"][f"{stem}RotationSchedule"]
        assert mine["DependsOn"] == primary["DependsOn"] == "RotationFunctionInvokePermission"
        props = r.properties(f"{stem}RotationScheduleprodeu")
        assert props["SecretId"] == r.refs[f"{stem}Secretprodeu"]
        assert props["RotationLambdaARN"] == "RotationFunction.Arn"
        assert props["RotateImmediatelyOnUpdate"] is False  # a deploy must not start a rotation
        assert props["RotationRules"] == r.properties(f"{stem}RotationSchedule")["RotationRules"]


def test_each_generated_resource_names_its_condition_after_its_type() -> None:
    # "Conditions must be the second property listed, or later" in a Fn::ForEach fragment.
    (loop,) = (v for k, v in load_raw_template()["Resources"].items() if k.startswith("Fn::ForEach::"))
    identifier, collection, fragment = loop
    assert (identifier, collection) == ("ws", {"Ref": "Workspaces"})
    for logical_id, spec in fragment.items():
        assert logical_id.endswith("${ws}")
        assert list(spec)[:2] == ["Type", "Condition"], logical_id
        assert spec["Condition"] == "IsAdditionalWorkspace${ws}"


@pytest.mark.parametrize("workspaces", ["produs,prodeu", "x,abcd,z99z", "default,euwestcentral"])
def test_names_make_valid_logical_ids(workspaces: str) -> None:
    r = resolver(workspaces)
    for logical_id in [*r.template["Resources"], *r.template["Conditions"]]:
        assert re.fullmatch(r"[A-Za-z0-9]{1,255}", logical_id), logical_id
    primary = workspaces.split(",", maxsplit=1)[0]
    assert r.condition(f"IsAdditionalWorkspace{primary}") is False


# ---------------------------------------------------------------- the functions


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_is_told_the_workspaces_and_their_budgets(function: str) -> None:
    r = resolver("produs,prodeu", WorkspaceRateLimits="prodeu=50", WorkspaceAppRateLimits="prodeu=5")
    env = function_environment(r, function)
    assert {name: env[name] for name in ENV_VARS} == {
        "CUSTOMERIO_WORKSPACES": "produs,prodeu",
        "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": PREFIX,
        "CUSTOMERIO_WORKSPACE_RATE_LIMITS": "prodeu=50",
        "CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS": "prodeu=5",
    }


@pytest.mark.parametrize("workspaces", ["default", "produs,prodeu", "eu,us-east-1,brand-a-staging"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_functions_look_for_the_secrets_the_template_creates(function: str, workspaces: str) -> None:
    r = resolver(workspaces)
    found = workspaces_from_env(function_environment(r, function))
    assert found.names == tuple(workspaces.split(","))
    created = {
        r.properties(lid, "Name")["Name"]
        for lid, spec in r.resources().items()
        if spec["Type"] == "AWS::SecretsManager::Secret"
    }
    for workspace in found:
        for kind in SECRET_KINDS:
            secret_id = workspace.secret_id(kind)
            if workspace.primary:
                # The primary's are the original secrets, for the functions that are given them.
                assert secret_id is None or secret_name(secret_id) == f"{PREFIX}{kind}"
            else:
                assert secret_id is not None and secret_name(secret_id) in created


# ---------------------------------------------------------------- least privilege


def _statements(r: Resolver, logical_id: str) -> list[dict[str, Any]]:
    spec = r.template["Resources"][logical_id]
    if spec["Type"] == "AWS::IAM::ManagedPolicy":
        documents = [r.properties(logical_id, "PolicyDocument")["PolicyDocument"]]
    else:
        documents = [p["PolicyDocument"] for p in r.properties(logical_id, "Policies")["Policies"]]
    return [s for d in documents for s in d["Statement"]]


def allowed(r: Resolver, principal: str, action: str, resource: str) -> bool:
    """Whether an Allow statement of the role or policy grants ``action`` on ``resource`` (IAM
    wildcards: ``*`` any run of characters, ``?`` one character)."""
    for statement in _statements(r, principal):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if (
            statement["Effect"] == "Allow"
            and any(fnmatch.fnmatchcase(action, a) for a in actions)
            and any(fnmatch.fnmatchcase(resource, str(pattern)) for pattern in resources)
        ):
            return True
    return False


def workspace_arn(name: str, kind: SecretKind, *, staged: bool = False, stack: str = STACK) -> str:
    return arn(workspace_secret_name(f"{stack}/customerio/", name, kind) + ("/staged" if staged else ""))


READS = {
    "GdprDeletionFunctionRole": {"track-credentials", "app-api-key"},
    "WebhookFunctionRole": {"webhook-signing-key"},
    "ErasureVerificationFunctionRole": {"app-api-key"},
    "RotationFunctionRole": {"track-credentials", "webhook-signing-key", "app-api-key"},
}


@pytest.mark.parametrize(("role", "kinds"), READS.items())
def test_each_role_reads_exactly_its_kinds_of_every_other_workspace(role: str, kinds: set[str]) -> None:
    r = resolver("produs,prodeu,staging")
    for workspace in ("prodeu", "staging", "addedlater"):
        for kind in SECRET_KINDS:
            assert allowed(r, role, "secretsmanager:GetSecretValue", workspace_arn(workspace, kind)) is (
                kind in kinds
            ), (role, workspace, kind)
            # Staging secrets hold the next credential: only the rotation reads them.
            assert allowed(
                r, role, "secretsmanager:GetSecretValue", workspace_arn(workspace, kind, staged=True)
            ) is (role == "RotationFunctionRole"), (role, workspace, kind)
        # Another stack's workspaces are not this stack's.
        for kind in SECRET_KINDS:
            other = workspace_arn(workspace, kind, stack="someone-else")
            assert not allowed(r, role, "secretsmanager:GetSecretValue", other)


@pytest.mark.parametrize("role", READS)
def test_each_role_keeps_its_primary_secrets(role: str) -> None:
    r = resolver("produs,prodeu")
    for kind in READS[role]:
        assert allowed(r, role, "secretsmanager:GetSecretValue", r.refs[PRIMARY_SECRETS[kind]]), (role, kind)


def test_the_rotation_role_rotates_every_workspaces_secrets_and_resets_their_stage() -> None:
    r = resolver("produs,prodeu")
    role = "RotationFunctionRole"
    for kind in SECRET_KINDS:
        for action in ("DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"):
            assert allowed(r, role, f"secretsmanager:{action}", workspace_arn("prodeu", kind))
        for action in ("GetSecretValue", "PutSecretValue"):
            assert allowed(r, role, f"secretsmanager:{action}", workspace_arn("prodeu", kind, staged=True))
        assert not allowed(
            r, role, "secretsmanager:UpdateSecretVersionStage", workspace_arn("prodeu", kind, staged=True)
        )


def test_the_operator_stages_and_rotates_every_workspaces_secrets() -> None:
    r = resolver("produs,prodeu")
    for kind in SECRET_KINDS:
        assert allowed(
            r, "OperatorPolicy", "secretsmanager:PutSecretValue", workspace_arn("prodeu", kind, staged=True)
        )
        assert allowed(r, "OperatorPolicy", "secretsmanager:RotateSecret", workspace_arn("prodeu", kind))
        # Writing a live secret directly would skip the rotation's test: never.
        assert not allowed(
            r, "OperatorPolicy", "secretsmanager:PutSecretValue", workspace_arn("prodeu", kind)
        )


def test_a_failed_rotation_of_any_workspace_reaches_the_alarm_topic() -> None:
    r = resolver("produs,prodeu", AlarmTopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms")
    secret_ids = r.properties("RotationFailedRule", "EventPattern")["EventPattern"]["detail"][
        "additionalEventData"
    ]["SecretId"]
    prefixes = [s["prefix"] for s in secret_ids if isinstance(s, dict)]
    assert workspace_arn("prodeu", "track-credentials").startswith(prefixes[0])
    assert not workspace_arn("prodeu", "track-credentials", stack="someone-else").startswith(prefixes[0])


def test_the_outputs_name_the_workspaces_and_the_prefix_of_their_secrets() -> None:
    r = resolver("produs,prodeu")
    outputs = r.outputs()
    assert r.resolve(outputs["WorkspaceNames"]["Value"]) == "produs,prodeu"
    assert r.resolve(outputs["WorkspaceSecretPrefix"]["Value"]) == PREFIX
    # The primary's outputs are unchanged.
    for name in ("TrackCredentialsSecretArn", "SigningKeySecretArn", "AppApiKeySecretArn"):
        assert name in outputs
