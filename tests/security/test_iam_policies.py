"""Every IAM policy of the synthesized example app: no wildcard action anywhere, and ``Resource: "*"``
only for actions that AWS offers no resource-level permissions for.

Walks ``AWS::IAM::Policy`` and ``AWS::IAM::ManagedPolicy`` documents and the inline ``Policies`` of
``AWS::IAM::Role``/``User``/``Group``. aws-cdk-lib's own artifact-store grants (``s3:GetObject*``,
``kms:GenerateDataKey*``, ...) are made explicit by ``cdk_mlops.constructs.explicit_actions``; there
are no known exceptions left (``KNOWN_WILDCARD_ACTIONS`` is empty and must stay justified if not).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

#: Actions that may use ``Resource: "*"`` because AWS has no resource-level permissions for them.
SERVICE_WIDE_ACTIONS = frozenset(
    {
        # X-Ray tracing of state machines and the smoke-test function: no resource types.
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        # CloudWatch Logs vended log delivery (Step Functions logging): these APIs take no log-group ARN.
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
        "logs:UpdateLogDelivery",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        # SageMaker jobs and endpoints pulling framework images: the token call has no resource.
        "ecr:GetAuthorizationToken",
        # SageMaker containers publishing metrics: no resource types (scope with a namespace condition).
        "cloudwatch:PutMetricData",
        # A batch model's scheduled transform finding the newest Approved package: no resource types.
        "sagemaker:ListModelPackages",
        # SageMaker jobs in a VPC: network-interface management and describes have no resource scoping
        # at creation / describe time.
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    }
)

#: (stack, policy logical id, action) → why a wildcard action cannot be avoided. Empty: none remain.
KNOWN_WILDCARD_ACTIONS: dict[tuple[str, str, str], str] = {}

IAM_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, (str, dict)) else list(value or [])


def policy_statements(templates: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stack, logical id, statement) for every statement of every IAM policy in ``templates``."""
    for stack, template in sorted(templates.items()):
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") not in IAM_TYPES:
                continue
            properties = resource.get("Properties", {})
            documents = [properties["PolicyDocument"]] if "PolicyDocument" in properties else []
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
            for document in documents:
                for statement in _as_list(document.get("Statement")):
                    yield stack, logical_id, statement


@pytest.fixture(scope="module")
def statements(example_app) -> list[tuple[str, str, dict[str, Any]]]:
    found = list(policy_statements(example_app.json))
    assert len(found) > 50, "expected the example app's policies"
    return found


def test_policies_of_every_kind_are_walked(example_app) -> None:
    inline = {
        "Resources": {
            "R": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
                        }
                    ]
                },
            },
            "M": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"PolicyDocument": {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}},
            },
        }
    }
    walked = [(lid, s["Action"]) for _, lid, s in policy_statements({"S": inline})]
    assert walked == [("R", "s3:*"), ("M", "*")]


def test_no_action_contains_a_wildcard(statements) -> None:
    wildcards = sorted(
        (stack, logical_id, action)
        for stack, logical_id, statement in statements
        for key in ("Action", "NotAction")
        for action in _as_list(statement.get(key))
        if isinstance(action, str) and "*" in action
    )
    unexpected = [entry for entry in wildcards if entry not in KNOWN_WILDCARD_ACTIONS]
    assert unexpected == []
    # A justified exception that no longer occurs must be removed from the list.
    assert sorted(set(KNOWN_WILDCARD_ACTIONS) - set(wildcards)) == []


def test_no_not_action_or_not_resource(statements) -> None:
    assert [(s, lid) for s, lid, st in statements if "NotAction" in st or "NotResource" in st] == []


def test_resource_star_only_for_actions_without_resource_level_permissions(statements) -> None:
    offending = sorted(
        (stack, logical_id, action)
        for stack, logical_id, statement in statements
        if statement.get("Effect") == "Allow" and "*" in _as_list(statement.get("Resource"))
        for action in _as_list(statement.get("Action"))
        if action not in SERVICE_WIDE_ACTIONS
    )
    assert offending == []


def test_resource_star_statements_exist_only_where_expected(statements) -> None:
    # The allow-list is used (X-Ray, log delivery, ECR token, metrics); this guards the test itself.
    used = {
        action
        for _, _, statement in statements
        if "*" in _as_list(statement.get("Resource"))
        for action in _as_list(statement.get("Action"))
    }
    assert {"xray:PutTraceSegments", "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"} <= used
    assert used <= SERVICE_WIDE_ACTIONS


def test_explicit_actions_expand_cdk_wildcards_and_keep_other_actions() -> None:
    from cdk_mlops.constructs.explicit_actions import explicit_document

    document = {"Statement": [{"Action": ["s3:GetObject*", "s3:GetObject", "kms:ReEncrypt*"]}, {"Action": "s3:List*"}]}

    assert explicit_document(document) == {
        "Statement": [
            {"Action": ["s3:GetObject", "s3:GetObjectVersion", "kms:ReEncryptFrom", "kms:ReEncryptTo"]},
            {"Action": "s3:ListBucket"},
        ]
    }
