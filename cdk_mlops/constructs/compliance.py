"""Least-privilege grants with explicit actions, and exact, justified acknowledgements of the
cdk-nag ``AwsSolutions-IAM5`` (wildcard) findings a construct knowingly produces.

cdk-nag names each wildcard finding after the rendered action or resource, tokens included (for
example ``Resource::Mlops-Platform:ExportsOutput...Arn.../churn-xgb/*``); those names exist only once
cross-stack references are resolved. ``justify_wildcards`` therefore registers a validation that runs
after references are resolved, renders each wildcard of the construct's own policies the way cdk-nag
does, and acknowledges exactly those findings that match a justification, with its reason. A
wildcard nobody justified stays a finding and fails synthesis.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct, IValidation

NAG_NAMESPACE = "AwsSolutions::AwsSolutions-IAM5"

SERVICE_WIDE_REASON = (
    "X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs vended "
    "log delivery (logs:*LogDelivery*, PutResourcePolicy, Describe*) have no resource-level permissions."
)


@dataclasses.dataclass(frozen=True)
class Justification:
    """Why a wildcard is needed. ``finding`` is a glob over cdk-nag's finding name, e.g.
    ``Resource::*/churn-xgb/runs/*`` or ``Action::s3:List*``."""

    finding: str
    reason: str


def render_token(value: Any) -> str:
    """Renders a resolved CloudFormation value as cdk-nag names it in a finding."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "Ref":
            return f"<{inner}>"
        if key == "Fn::GetAtt":
            return f"<{inner[0]}.{inner[1]}>"
        if key == "Fn::ImportValue" and isinstance(inner, str):
            return inner
        if key == "Fn::Join":
            separator, parts = inner
            return separator.join(render_token(part) for part in parts)
    return json.dumps(value, separators=(",", ":"))


def wildcard_findings(document: Any) -> Iterator[str]:
    """The IAM5 finding names of a resolved policy document: wildcard actions and resources."""
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if "*" in action:
                yield f"Action::{action}"
        resources = statement.get("Resource", [])
        for resource in [resources] if isinstance(resources, (str, dict)) else resources:
            rendered = render_token(resource)
            if "*" in rendered:
                yield f"Resource::{rendered}"


def _escape_glob(text: str) -> str:
    return "".join(f"[{char}]" if char in "*?[]" else char for char in text)


@jsii.implements(IValidation)
class _AcknowledgeJustifiedWildcards:
    def __init__(self, scope: Construct, justifications: Sequence[Justification], values: Mapping[str, str]) -> None:
        self.scope = scope
        self.justifications = list(justifications)
        self.values = dict(values)

    def validate(self) -> list[str]:
        stack = Stack.of(self.scope)
        rendered = {name: _escape_glob(render_token(stack.resolve(value))) for name, value in self.values.items()}
        patterns = [(j.finding.format(**rendered), j.reason) for j in self.justifications]
        for node in self.scope.node.find_all():
            if not isinstance(node, iam.CfnPolicy):
                continue
            document = Stack.of(node).resolve(node.policy_document)
            acknowledged: dict[str, str] = {}
            for finding in wildcard_findings(document):
                for pattern, reason in patterns:
                    if fnmatch.fnmatchcase(finding, pattern):
                        acknowledged[finding] = reason
                        break
            for finding, reason in acknowledged.items():
                Validations.of(node).acknowledge(Acknowledgment(id=f"{NAG_NAMESPACE}[{finding}]", reason=reason))
        return []


def justify_wildcards(
    scope: Construct, justifications: Sequence[Justification], values: Mapping[str, str] | None = None
) -> None:
    """Acknowledges, for every IAM policy under ``scope``, exactly the wildcard findings that match
    one of ``justifications``. A ``{name}`` in a pattern stands for ``values[name]`` (a token such as
    a bucket ARN) rendered as cdk-nag renders it."""
    scope.node.add_validation(_AcknowledgeJustifiedWildcards(scope, justifications, values or {}))


def acknowledged_findings(root: IConstruct) -> dict[str, list[str]]:
    """Every acknowledgement under ``root``: construct path → finding ids (for reports and tests)."""
    found: dict[str, list[str]] = {}
    for node in root.node.find_all():
        for entry in node.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY and entry.data:
                found.setdefault(node.node.path, []).extend(entry.data.keys())
    return found


KEY_DECRYPT = ("kms:Decrypt",)
KEY_ENCRYPT_DECRYPT = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")


def allow_key(grantee: iam.IGrantable, key: kms.IKey, actions: Sequence[str] = KEY_ENCRYPT_DECRYPT) -> iam.Grant:
    """Use of ``key`` with the listed actions only (no ``kms:ReEncrypt*``/``GenerateDataKey*``)."""
    return iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[key.key_arn])


def allow_publish(grantee: iam.IGrantable, topic: Any, key: kms.IKey) -> None:
    """``sns:Publish`` on ``topic`` and the KMS use SNS needs to encrypt the message with ``key``."""
    iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[topic.topic_arn])
    allow_key(grantee, key, ("kms:Decrypt", "kms:GenerateDataKey"))


def allow_objects(
    grantee: iam.IGrantable, bucket: s3.IBucket, prefix: str, *, write: bool = False, list_prefix: bool = False
) -> None:
    """``s3:GetObject`` (and ``s3:PutObject`` when ``write``) on ``prefix*`` of ``bucket``, plus
    ``s3:ListBucket`` limited to that prefix when ``list_prefix``."""
    actions = ["s3:GetObject", "s3:PutObject"] if write else ["s3:GetObject"]
    iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[bucket.arn_for_objects(f"{prefix}*")])
    if list_prefix:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
