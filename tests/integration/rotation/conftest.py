"""The rotation function against moto (Secrets Manager) and the Customer.io sandbox (over HTTP).

moto cannot invoke the function, so tests call the handler once per step, as Secrets Manager
does. Starting a rotation is modelled on real Secrets Manager, not on moto's RotateSecret (DESIGN
5's testing note):

- ``begin`` is RotateSecret: it labels a new version id AWSPENDING *without a value*, so reading
  it answers ResourceNotFoundException until createSecret writes it; and it refuses to start
  while AWSPENDING is on a version other than AWSCURRENT ("A previous rotation isn't complete",
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html), which
  moto's RotateSecret gets backwards;
- ``configuration_test`` is what creating a RotationSchedule without rotating at once does: an
  AWSPENDING version (empty, or a copy of the current value: AWS does not say which), testSecret,
  then the version's removal ("The test creates an AWSPENDING version of the secret and then
  removes it", API_RotateSecret, RotateImmediately);
- rotation is enabled as the template's RotationSchedule does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from cio_security.customerio.retry import DEFAULT
from cio_security.customerio.track import TrackClient
from cio_security.rotation.kinds import forget_known_identities
from cio_security.secrets.models import TrackCredentials
from ciosec.sandbox import CredentialSet, Sandbox
from fixtures.aws import REGION
from fixtures.functions import FakeLambdaContext, load_function
from fixtures.logs import sensitive
from fixtures.sandbox import SANDBOX_CREDENTIALS, SANDBOX_ENVIRONMENT_ID

TRACK_SECRET = "cio-security/customerio/track-credentials"
SIGNING_SECRET = "cio-security/customerio/webhook-signing-key"
PEPPER_SECRET = "cio-security/pepper"
SECRETS = {"track": TRACK_SECRET, "signing_key": SIGNING_SECRET}

WORKSPACE = SANDBOX_ENVIRONMENT_ID
CURRENT = SANDBOX_CREDENTIALS  # the shared sandbox fixture's credential set: the current one
PENDING = CredentialSet(
    site_id="site-pending", api_key="new-key-8e1d5c0a9f7b24c3", environment_id=WORKSPACE, region="us"
)
OTHER_WORKSPACE = CredentialSet(
    site_id="site-other", api_key="oth-key-5a6b7c8d9e0f1a2b", environment_id=200002, region="us"
)
OTHER_REGION = CredentialSet(
    site_id="site-eu", api_key="eu-key-0f9e8d7c6b5a4f3e", environment_id=300003, region="eu"
)
EXTRA_SETS = (PENDING, OTHER_WORKSPACE, OTHER_REGION)
CREDENTIAL_SETS = (CURRENT, *EXTRA_SETS)
SIGNING_CURRENT = "sk-current-0123456789abcdefghijklmnopqrstuv"
TRACK_PLACEHOLDER = '{"site_id":"","api_key":"","region":"us"}'  # template.yaml's initial values
SIGNING_PLACEHOLDER = '{"signing_key":""}'
PLACEHOLDERS = {"track": TRACK_PLACEHOLDER, "signing_key": SIGNING_PLACEHOLDER}
PREVIOUS_ROTATION_INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted."
SIGNING_NEW = "sk-next-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"
PEPPER = "test-pepper-0123456789abcdefghijklmnopqrstuvwxyz"
ONE_ATTEMPT = DEFAULT.with_changes(max_attempts=1)
SECRET_VALUES = (*(c.api_key for c in CREDENTIAL_SETS), SIGNING_CURRENT, SIGNING_NEW, PEPPER)


def track_json(credentials: CredentialSet, **overrides: Any) -> str:
    data = {"site_id": credentials.site_id, "api_key": credentials.api_key, "region": credentials.region}
    data.update(overrides)
    return json.dumps(data)


def signing_json(key: str) -> str:
    return json.dumps({"signing_key": key})


def assert_no_secret_values(text: str) -> None:
    """No credential, key or pepper of the suite appears in ``text``."""
    leaked = [value for value in SECRET_VALUES if value in text]
    assert not leaked, "a secret value appears in the text"


class FlakySecretsManager:
    """Wraps a boto3 client; the next ``times`` calls of an operation raise a ClientError."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failures: dict[str, list[int]] = {}
        self.codes: dict[str, tuple[str, int]] = {}
        self.calls: list[str] = []

    def fail(
        self,
        operation: str,
        *,
        times: int = 1,
        after: int = 0,
        code: str = "InternalServiceError",
        status: int = 500,
    ) -> None:
        """Fail ``times`` calls of ``operation`` after letting ``after`` of them through, with the
        error ``code`` and HTTP ``status`` Secrets Manager would answer."""
        self.failures[operation] = [after, times]
        self.codes[operation] = (code, status)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name in {"exceptions", "meta"}:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            plan = self.failures.get(name)
            if plan is not None:
                if plan[0] > 0:
                    plan[0] -= 1
                elif plan[1] > 0:
                    plan[1] -= 1
                    code, status = self.codes[name]
                    raise ClientError(
                        {
                            "Error": {"Code": code, "Message": "injected"},
                            "ResponseMetadata": {"HTTPStatusCode": status},
                        },
                        name,
                    )
            return attribute(*args, **kwargs)

        return call


@dataclass
class RotationStack:
    app: ModuleType
    sm: Any
    sandbox: Sandbox
    arns: dict[str, str]
    context: FakeLambdaContext = field(default_factory=FakeLambdaContext)

    # -- Secrets Manager's part ------------------------------------------------------------------

    def _moto_secret(self, kind: str) -> Any:
        return secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[SECRETS[kind]]

    def set_rotation_enabled(self, kind: str, enabled: bool) -> None:
        """What the template's RotationSchedule configures (moto shows it once "requested")."""
        secret = self._moto_secret(kind)
        secret.rotation_requested = True
        secret.rotation_enabled = enabled
        secret.rotation_lambda_arn = (
            f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:cio-security-rotation"
        )
        secret.auto_rotate_after_days = 90
        secret.last_rotation_date = 1_795_000_000

    def begin(self, kind: str, token: str | None = None) -> str:
        """What RotateSecret does in real Secrets Manager: refused while a previous rotation left
        AWSPENDING on a version that is not AWSCURRENT; otherwise a new version id labelled
        AWSPENDING that holds no value yet."""
        secret = self._moto_secret(kind)
        for version in secret.versions.values():
            stages = version["version_stages"]
            if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
                raise ClientError(
                    {
                        "Error": {"Code": "InvalidRequestException", "Message": PREVIOUS_ROTATION_INCOMPLETE},
                        "ResponseMetadata": {"HTTPStatusCode": 400},
                    },
                    "RotateSecret",
                )
        return self._pending_version(kind, token)

    def _pending_version(self, kind: str, token: str | None = None, value: str | None = None) -> str:
        token = token or str(uuid.uuid4())
        secret = self._moto_secret(kind)
        secret.remove_version_stages_from_old_versions(["AWSPENDING"])
        version: dict[str, Any] = {
            "createdate": 1_795_000_000,
            "version_id": token,
            "version_stages": ["AWSPENDING"],
        }
        if value is not None:
            version["secret_string"] = value
        secret.versions[token] = version
        return token

    def configuration_test(self, kind: str, *, pending: str) -> dict[str, Any]:
        """What creating a RotationSchedule with RotateImmediatelyOnUpdate false does: an
        AWSPENDING version, ``empty`` or a ``copy`` of the current value (AWS documents neither),
        testSecret on it, then the version's removal by Secrets Manager. Returns testSecret's
        result (it raises when the test fails, which would roll the stack back)."""
        assert pending in {"empty", "copy"}
        token = self._pending_version(kind, value=self.value(kind) if pending == "copy" else None)
        try:
            return self.invoke(kind, token, "testSecret")
        finally:
            secret = self._moto_secret(kind)
            if "AWSPENDING" in secret.versions[token]["version_stages"]:
                secret.versions[token]["version_stages"].remove("AWSPENDING")

    def event(self, kind: str, token: str, step: str, *, secret_id: str | None = None) -> dict[str, Any]:
        return {"SecretId": secret_id or self.arns[kind], "ClientRequestToken": token, "Step": step}

    def invoke(self, kind: str, token: str, step: str, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.app.handler(self.event(kind, token, step, **kwargs), self.context)
        return result

    def run(self, kind: str, token: str, steps: tuple[str, ...] = ()) -> None:
        for step in steps or ("createSecret", "setSecret", "testSecret", "finishSecret"):
            self.invoke(kind, token, step)

    def use_client(self, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make the handler use ``client`` (a fault-injecting wrapper) for Secrets Manager."""
        monkeypatch.setattr(self.app, "secretsmanager", lambda: client)

    # -- the operator's part ---------------------------------------------------------------------

    def stage(self, kind: str, value: str) -> None:
        self.sm.put_secret_value(SecretId=SECRETS[kind] + "/staged", SecretString=value)

    # -- observations ----------------------------------------------------------------------------

    def value(self, kind: str, stage: str = "AWSCURRENT") -> str:
        return str(self.sm.get_secret_value(SecretId=SECRETS[kind], VersionStage=stage)["SecretString"])

    def staged(self, kind: str) -> str:
        return str(
            self.sm.get_secret_value(SecretId=SECRETS[kind] + "/staged", VersionStage="AWSCURRENT")[
                "SecretString"
            ]
        )

    def stages(self, kind: str) -> dict[str, list[str]]:
        versions = self.sm.describe_secret(SecretId=SECRETS[kind])["VersionIdsToStages"]
        return {v: sorted(s) for v, s in versions.items() if s}

    def version_with(self, kind: str, stage: str) -> str | None:
        return next((v for v, s in self.stages(kind).items() if stage in s), None)

    def pending_left(self, kind: str) -> list[str]:
        """Versions a rotation left labelled AWSPENDING but not AWSCURRENT: while there is one,
        Secrets Manager refuses every RotateSecret."""
        return [v for v, s in self.stages(kind).items() if "AWSPENDING" in s and "AWSCURRENT" not in s]

    def current_track(self) -> TrackCredentials:
        return TrackCredentials.model_validate_json(self.value("track"))

    def current_works(self) -> bool:
        """The AWSCURRENT Track credentials answer 200 in the sandbox."""
        with TrackClient(self.current_track(), base_url=self.sandbox.url, retry=ONE_ATTEMPT) as client:
            return client.region().environment_id == WORKSPACE


def create_secrets(sm: Any, *, track: str | None = None, signing: str | None = None) -> dict[str, str]:
    """The template's secrets (names as a stack called cio-security gets them); returns their ARNs."""
    arns = {
        "track": sm.create_secret(Name=TRACK_SECRET, SecretString=track or track_json(CURRENT))["ARN"],
        "signing_key": sm.create_secret(
            Name=SIGNING_SECRET, SecretString=signing or signing_json(SIGNING_CURRENT)
        )["ARN"],
    }
    sm.create_secret(Name=TRACK_SECRET + "/staged", SecretString="{}")
    sm.create_secret(Name=SIGNING_SECRET + "/staged", SecretString="{}")
    sm.create_secret(Name=PEPPER_SECRET, SecretString=json.dumps({"pepper": PEPPER}))
    return arns


@pytest.fixture(autouse=True)
def _no_known_identities() -> Iterator[None]:
    """Each test starts with the rotation's in-memory cache of credential identities empty."""
    forget_known_identities()
    yield
    forget_known_identities()


@pytest.fixture
def rotation_sandbox(sandbox: Sandbox) -> Sandbox:
    """The sandbox with the current and next credential sets of one workspace, one set of another
    workspace and one of a workspace in the EU."""
    for credentials in EXTRA_SETS:
        sandbox.add_credentials(credentials)
    return sandbox


@pytest.fixture
def rotation(monkeypatch: pytest.MonkeyPatch, rotation_sandbox: Sandbox) -> Iterator[RotationStack]:
    """The stack with working current values (set up by an earlier rotation)."""
    yield from _stack(monkeypatch, rotation_sandbox)


@pytest.fixture
def fresh_stack(monkeypatch: pytest.MonkeyPatch, rotation_sandbox: Sandbox) -> Iterator[RotationStack]:
    """The stack as the template deploys it: both rotated secrets hold the placeholders."""
    yield from _stack(monkeypatch, rotation_sandbox, track=TRACK_PLACEHOLDER, signing=SIGNING_PLACEHOLDER)


def _stack(
    monkeypatch: pytest.MonkeyPatch,
    rotation_sandbox: Sandbox,
    *,
    track: str | None = None,
    signing: str | None = None,
) -> Iterator[RotationStack]:
    sensitive(*SECRET_VALUES)
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=REGION)
        arns = create_secrets(sm, track=track, signing=signing)
        # As the template configures it: the track secret by ARN (!Ref), the signing key by name.
        monkeypatch.setenv("TRACK_CREDENTIALS_SECRET_ID", arns["track"])
        monkeypatch.setenv("SIGNING_KEY_SECRET_ID", SIGNING_SECRET)
        monkeypatch.setenv("CUSTOMERIO_TRACK_URL", rotation_sandbox.url)
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cio-security-rotation")
        stack = RotationStack(app=load_function("rotation"), sm=sm, sandbox=rotation_sandbox, arns=arns)
        stack.set_rotation_enabled("track", True)
        stack.set_rotation_enabled("signing_key", True)
        yield stack
