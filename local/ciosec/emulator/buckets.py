"""Create the template's S3 buckets (the webhook bucket) in an AWS endpoint (the local moto
server, or moto in tests) as template.yaml declares them: name, public access block and lifecycle
expiry are read from the template. Default encryption names the project's KMS key, which the
local stack does not create, so it is not resolved (moto enforces no KMS anyway)."""

from __future__ import annotations

import re
from typing import Any

from ciosec.emulator.template import Resolver

__all__ = ["bucket_name", "create_buckets"]

_INVALID = re.compile(r"[^a-z0-9-]+")


def bucket_name(resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    """The bucket's BucketName, else a name shaped like CloudFormation's (lower case, at most 63)."""
    name = props.get("BucketName")
    if name:
        return str(name)
    generated = _INVALID.sub("-", f"{resolver.stack_name}-{logical_id}".lower()).strip("-")
    return generated[:63]


def create_buckets(resolver: Resolver, ids: list[str], s3: Any, *, region: str) -> dict[str, str]:
    """Create each bucket; record its name (``Ref``) and ARN for the resolver; returns logical id
    -> bucket name."""
    created: dict[str, str] = {}
    for logical_id in ids:
        props = resolver.properties(
            logical_id, "BucketName", "PublicAccessBlockConfiguration", "LifecycleConfiguration"
        )
        name = bucket_name(resolver, logical_id, props)
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
        lifecycle = props.get("LifecycleConfiguration")
        if lifecycle:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_rule(r) for r in lifecycle.get("Rules", [])]}
            )
        resolver.refs[logical_id] = name
        resolver.attributes.update({(logical_id, "Arn"): f"arn:aws:s3:::{name}"})
        created[logical_id] = name
    return created


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape (the parts the template uses)."""
    converted: dict[str, Any] = {
        "ID": rule.get("Id", "rule"),
        "Status": rule.get("Status", "Enabled"),
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        days = int(abort["DaysAfterInitiation"])
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return converted
