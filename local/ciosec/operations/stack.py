"""Where the stack's resources are: a deployed CloudFormation stack's outputs, or the local stack.

``--stack NAME`` reads the outputs of a deployed stack with the usual boto3 credentials;
``--local`` reads ``.local-stack/stack.json`` written by ``make local`` and points boto3 at the
local moto server through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from cio_security.workspaces import DEFAULT_WORKSPACE, Workspaces, workspaces_from_env

if TYPE_CHECKING:
    from cio_security.secrets.models import Region

LOCAL_STATE = Path(".local-stack") / "stack.json"


@dataclass(frozen=True)
class StackInfo:
    """Names and addresses of the stack's resources (CloudFormation output keys in comments)."""

    deletion_queue_url: str = ""  # DeletionQueueUrl
    deletion_dlq_url: str = ""  # DeletionDeadLetterQueueUrl
    audit_table: str = ""  # AuditTableName
    idempotency_table: str = ""  # IdempotencyTableName
    webhook_bucket: str = ""  # WebhookBucketName
    event_bus_name: str = ""  # EventBusName
    track_credentials_secret_id: str = ""  # TrackCredentialsSecretArn
    signing_key_secret_id: str = ""  # SigningKeySecretArn
    pepper_secret_id: str = ""  # PepperSecretArn
    app_api_key_secret_id: str = ""  # AppApiKeySecretArn
    webhook_url: str = ""  # WebhookUrl
    rotation_function: str = ""  # RotationFunctionArn ("" locally: the CLI drives the steps itself)
    endpoint_url: str = ""  # the local moto server, "" for AWS
    sandbox_url: str = ""  # the local Customer.io sandbox of the primary workspace, "" for AWS
    region: str = ""
    workspaces: str = ""  # WorkspaceNames: comma-separated, primary first ("" before workspaces)
    workspace_secret_prefix: str = ""  # WorkspaceSecretPrefix: <stack>/customerio/
    sandbox_url_us: str = ""  # the local stack's US sandbox, "" for AWS
    sandbox_url_eu: str = ""  # the local stack's EU sandbox, "" for AWS
    verification_queue_url: str = ""  # VerificationQueueUrl
    verification_dlq_url: str = ""  # VerificationDeadLetterQueueUrl

    def workspace_names(self) -> tuple[str, ...]:
        """The stack's workspaces, primary first (a stack from before workspaces: ``default``)."""
        return tuple(n.strip() for n in self.workspaces.split(",") if n.strip()) or (DEFAULT_WORKSPACE,)

    def workspace_set(self) -> Workspaces:
        """The stack's workspaces with their secrets, as the functions see them: the primary's
        secrets from the outputs, every other one's named by the convention."""
        return workspaces_from_env(
            {
                "CUSTOMERIO_WORKSPACES": ",".join(self.workspace_names()),
                "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": self.workspace_secret_prefix,
                "TRACK_CREDENTIALS_SECRET_ID": self.track_credentials_secret_id,
                "SIGNING_KEY_SECRET_ID": self.signing_key_secret_id,
                "APP_API_KEY_SECRET_ID": self.app_api_key_secret_id,
            }
        )

    def sandbox_urls(self) -> dict[Region, str]:
        """The local stack's sandbox per region (empty for AWS); a state file from before the
        per-region sandboxes has one sandbox, for the US."""
        urls: dict[Region, str] = {}
        if self.sandbox_url_us or self.sandbox_url:
            urls["us"] = self.sandbox_url_us or self.sandbox_url
        if self.sandbox_url_eu:
            urls["eu"] = self.sandbox_url_eu
        return urls

    def save(self, path: Path = LOCAL_STATE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load_local(cls, path: Path = LOCAL_STATE) -> StackInfo:
        if not path.exists():
            raise SystemExit(f"no local stack found ({path}): start one with `make local`")
        data = json.loads(path.read_text())
        info = cls(**{f.name: data.get(f.name, "") for f in fields(cls)})
        if info.endpoint_url:
            os.environ["AWS_ENDPOINT_URL"] = info.endpoint_url
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        if info.region:
            os.environ.setdefault("AWS_DEFAULT_REGION", info.region)
        return info

    @classmethod
    def from_cloudformation(cls, stack_name: str) -> StackInfo:
        outputs: dict[str, Any] = {}
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        for output in stacks[0].get("Outputs", []):
            outputs[output["OutputKey"]] = output["OutputValue"]
        mapping = {
            "deletion_queue_url": "DeletionQueueUrl",
            "deletion_dlq_url": "DeletionDeadLetterQueueUrl",
            "audit_table": "AuditTableName",
            "idempotency_table": "IdempotencyTableName",
            "webhook_bucket": "WebhookBucketName",
            "event_bus_name": "EventBusName",
            "track_credentials_secret_id": "TrackCredentialsSecretArn",
            "signing_key_secret_id": "SigningKeySecretArn",
            "pepper_secret_id": "PepperSecretArn",
            "app_api_key_secret_id": "AppApiKeySecretArn",
            "workspaces": "WorkspaceNames",
            "workspace_secret_prefix": "WorkspaceSecretPrefix",
            "webhook_url": "WebhookUrl",
            "rotation_function": "RotationFunctionArn",
            "verification_queue_url": "VerificationQueueUrl",
            "verification_dlq_url": "VerificationDeadLetterQueueUrl",
        }
        return cls(**{name: outputs.get(key, "") for name, key in mapping.items()})


def resolve(args: Any) -> StackInfo:
    """The stack named by the CLI's global options (``--local`` is the default)."""
    if getattr(args, "stack", None):
        return StackInfo.from_cloudformation(args.stack)
    return StackInfo.load_local(Path(getattr(args, "state", LOCAL_STATE)))
