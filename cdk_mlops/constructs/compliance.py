"""Least-privilege grants with explicit actions, and exact, justified acknowledgements of the
cdk-nag ``AwsSolutions-IAM5`` (wildcard) findings a construct knowingly produces.

cdk-nag names each wildcard finding after the rendered action or resource, tokens included (for
example ``Resource::Mlops-Platform:ExportsOutput...Arn.../churn-xgb/*``); those names exist only once
cross-stack references are resolved. ``justify_wildcards`` therefore registers a validation that runs
after references are resolved, renders each wildcard of the construct's own policies the way cdk-nag
does, and acknowledges exactly those findings that match a justification, with its reason. A
wildcard nobody justified stays a finding and fails synthesis.

That work only matters when cdk-nag runs, so it happens only then: ``enable_compliance_checks(app)``
(``cdk_mlops.app_builder``) sets the context flag ``WILDCARD_ACKS_CONTEXT`` on the app, and
``justify_wildcards`` registers nothing in a stack that does not see it. Call it before creating the
stacks (it also covers stacks that already exist when it is called); an app that adds cdk-nag some
other way sets the flag itself (``app.node.set_context(WILDCARD_ACKS_CONTEXT, True)`` before creating
stacks, or ``cdk synth -c cdk-mlops:acknowledge-wildcards=true``). Each stack gets one validation
that handles every justification registered in it: one ``resolve`` for all their values and policy
documents, and one ``acknowledge`` call per policy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import json
import re
import weakref
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


#: A literal partition at the start of an ARN, as ``@aws-cdk/core:enablePartitionLiterals`` renders it.
_PARTITION_LITERAL = re.compile(r"(?<=arn:)aws(?:-[a-z]+)*(?=:)")


def partition_agnostic(finding: str) -> str:
    """``finding`` with each literal ARN partition (``arn:aws:``, ``arn:aws-cn:``) written as the
    ``<AWS::Partition>`` token, so that one justification covers apps with and without the
    ``@aws-cdk/core:enablePartitionLiterals`` feature flag (which renders the partition of a stack in a
    known region as a literal)."""
    return _PARTITION_LITERAL.sub("<AWS::Partition>", finding)


def escape_glob(text: str) -> str:
    """``text`` matched literally by ``fnmatch`` in a justification pattern (``*?[]`` escaped)."""
    return "".join(f"[{char}]" if char in "*?[]" else char for char in text)


WILDCARD_ACKS_CONTEXT = "cdk-mlops:acknowledge-wildcards"
"""Context flag: when true, ``justify_wildcards`` acknowledges the justified cdk-nag findings."""

_STACK_ATTRIBUTE = "_cdk_mlops_wildcard_justifications"


def _ref(obj: Any) -> str:
    """The jsii object id: the same construct can come back as different Python proxies."""
    return str(obj.__jsii_ref__.ref)


def _flag_set(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes", "on")


@jsii.implements(IValidation)
class _AcknowledgeJustifiedWildcards:
    """One per stack: every ``justify_wildcards`` call made in the stack, acknowledged in one pass."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.entries: list[tuple[Construct, list[Justification], dict[str, str]]] = []
        self.registered = False

    def register(self) -> None:
        if not self.registered:
            self.stack.node.add_validation(self)
            self.registered = True

    def validate(self) -> list[str]:
        if not self.entries:
            return []
        # In tree order (parents first), as one validation per construct ran, so each policy's
        # acknowledgements are recorded in the same order.
        position = {_ref(node): index for index, node in enumerate(self.stack.node.find_all())}
        entries = sorted(self.entries, key=lambda entry: position.get(_ref(entry[0]), len(position)))
        # One resolve for every entry's values and every policy document under every entry's scope.
        tokens: list[Any] = []
        scoped: list[tuple[list[Justification], list[str], list[iam.CfnPolicy]]] = []
        for scope, justifications, values in entries:
            policies = [node for node in scope.node.find_all() if isinstance(node, iam.CfnPolicy)]
            names = list(values)
            tokens.extend(values[name] for name in names)
            tokens.extend(policy.policy_document for policy in policies)
            scoped.append((justifications, names, policies))
        resolved = iter(self.stack.resolve(tokens))
        acknowledgements: dict[str, tuple[iam.CfnPolicy, list[Acknowledgment]]] = {}
        for justifications, names, policies in scoped:
            rendered = {name: escape_glob(render_token(next(resolved))) for name in names}
            patterns = [(j.finding.format(**rendered), j.reason) for j in justifications]
            for policy in policies:
                document = next(resolved)
                acknowledged: dict[str, str] = {}
                for finding in wildcard_findings(document):
                    named = {finding, partition_agnostic(finding)}
                    for pattern, reason in patterns:
                        if any(fnmatch.fnmatchcase(name, pattern) for name in named):
                            acknowledged[finding] = reason
                            break
                if acknowledged:
                    _, acks = acknowledgements.setdefault(_ref(policy), (policy, []))
                    acks.extend(
                        Acknowledgment(id=f"{NAG_NAMESPACE}[{finding}]", reason=reason)
                        for finding, reason in acknowledged.items()
                    )
        for policy, acks in acknowledgements.values():
            Validations.of(policy).acknowledge(*acks)
        return []


def _stack_justifications(stack: Stack) -> _AcknowledgeJustifiedWildcards:
    registry: _AcknowledgeJustifiedWildcards | None = getattr(stack, _STACK_ATTRIBUTE, None)
    if registry is None:
        registry = _AcknowledgeJustifiedWildcards(stack)
        setattr(stack, _STACK_ATTRIBUTE, registry)
        if _flag_set(stack.node.try_get_context(WILDCARD_ACKS_CONTEXT)):
            registry.register()
    return registry


def justify_wildcards(
    scope: Construct, justifications: Sequence[Justification], values: Mapping[str, str] | None = None
) -> None:
    """Acknowledges, for every IAM policy under ``scope``, exactly the wildcard findings that match
    one of ``justifications``. A ``{name}`` in a pattern stands for ``values[name]`` (a token such as
    a bucket ARN) rendered as cdk-nag renders it.

    The acknowledgements are made at synthesis only when cdk-nag is on (the context flag
    ``WILDCARD_ACKS_CONTEXT``, which ``enable_compliance_checks`` sets); otherwise this registers
    nothing."""
    _stack_justifications(Stack.of(scope)).entries.append((scope, list(justifications), dict(values or {})))


def acknowledge_wildcards_in(root: IConstruct) -> None:
    """Registers the acknowledgements of every stack under ``root`` that already has justifications
    (for ``enable_compliance_checks`` called after stacks were created)."""
    for node in root.node.find_all():
        registry = getattr(node, _STACK_ATTRIBUTE, None) if isinstance(node, Stack) else None
        if registry is not None:
            registry.register()


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


_ARNS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _arn(resource: Any, attribute: str) -> str:
    """``resource.<attribute>`` (an ARN token), read through jsii once per resource object."""
    try:
        return _ARNS[resource]
    except (KeyError, TypeError):
        pass
    value: str = getattr(resource, attribute)
    with contextlib.suppress(TypeError):  # not weakly referenceable: not cached
        _ARNS[resource] = value
    return value


def allow_key(grantee: iam.IGrantable, key: kms.IKey, actions: Sequence[str] = KEY_ENCRYPT_DECRYPT) -> iam.Grant:
    """Use of ``key`` with the listed actions only (no ``kms:ReEncrypt*``/``GenerateDataKey*``)."""
    return iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[_arn(key, "key_arn")])


def allow_publish(grantee: iam.IGrantable, topic: Any, key: kms.IKey) -> None:
    """``sns:Publish`` on ``topic`` and the KMS use SNS needs to encrypt the message with ``key``:
    ``kms:GenerateDataKey`` and ``kms:Decrypt`` (no ``kms:Encrypt``), through SNS only (``kms:ViaService``
    ``sns.<region>.amazonaws.com``, the topic's region; SNS developer guide, "Encryption at rest")."""
    iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[_arn(topic, "topic_arn")])
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[_arn(key, "key_arn")],
            conditions={"StringEquals": {"kms:ViaService": f"sns.{Stack.of(topic).region}.amazonaws.com"}},
        )
    )


def allow_objects(
    grantee: iam.IGrantable, bucket: s3.IBucket, prefix: str, *, write: bool = False, list_prefix: bool = False
) -> None:
    """``s3:GetObject`` (and ``s3:PutObject`` when ``write``) on ``prefix*`` of ``bucket``, plus
    ``s3:ListBucket`` limited to that prefix when ``list_prefix``."""
    actions = ["s3:GetObject", "s3:PutObject"] if write else ["s3:GetObject"]
    bucket_arn = _arn(bucket, "bucket_arn")
    # What bucket.arn_for_objects(f"{prefix}*") returns, without the round trip.
    iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[f"{bucket_arn}/{prefix}*"])
    if list_prefix:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
