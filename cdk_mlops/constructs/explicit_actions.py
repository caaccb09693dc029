"""Rewrites the wildcard actions aws-cdk-lib's own grants produce into explicit action lists.

``codepipeline.Pipeline`` grants its role and its action roles read/write on the artifact bucket and
key with ``bucket.grant_read_write``/``key.grant_encrypt_decrypt``: ``s3:GetObject*``, ``s3:List*``,
``kms:GenerateDataKey*`` and so on. Those grants are made inside aws-cdk-lib, so ``ExplicitActions``
(an aspect) wraps the policy document of every ``AWS::IAM::Policy`` under a scope and replaces each
wildcard action listed in ``EXPLICIT_ACTIONS`` with the explicit actions the artifact store needs.
The wrapping is lazy: tokens (cross-stack references included) resolve exactly as before, and
anything that reads the resolved document (cdk-nag, ``compliance.justify_wildcards``) sees the
rewritten actions. A wildcard not listed here is left as is (and fails ``tests/security``).
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import IAspect, IResolvable, IResolveContext
from aws_cdk import aws_iam as iam
from constructs import IConstruct

EXPLICIT_ACTIONS: dict[str, tuple[str, ...]] = {
    # Reading artifacts: CodePipeline and CodeBuild fetch objects, by version when versioned.
    "s3:GetObject*": ("s3:GetObject", "s3:GetObjectVersion"),
    # CodePipeline checks the artifact bucket's region and versioning.
    "s3:GetBucket*": ("s3:GetBucketLocation", "s3:GetBucketVersioning"),
    "s3:List*": ("s3:ListBucket",),
    "s3:DeleteObject*": ("s3:DeleteObject",),
    # Multipart uploads of large artifacts.
    "s3:Abort*": ("s3:AbortMultipartUpload",),
    # The complete expansion of the KMS wildcards (SSE-KMS uses GenerateDataKey; re-encryption both ways).
    "kms:ReEncrypt*": ("kms:ReEncryptFrom", "kms:ReEncryptTo"),
    "kms:GenerateDataKey*": ("kms:GenerateDataKey",),
}


def explicit_statement_actions(actions: Any) -> Any:
    """``actions`` (a string or a list) with every mapped wildcard replaced, order kept, no duplicates."""
    if isinstance(actions, str):
        expanded = explicit_statement_actions([actions])
        return expanded[0] if len(expanded) == 1 else expanded
    result: list[Any] = []
    for action in actions:
        for explicit in EXPLICIT_ACTIONS.get(action, (action,)) if isinstance(action, str) else (action,):
            if explicit not in result:
                result.append(explicit)
    return result


def explicit_document(document: Any) -> Any:
    """A resolved policy document with the mapped wildcard actions made explicit."""
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
        return document
    statements = []
    for statement in document["Statement"]:
        if isinstance(statement, dict) and "Action" in statement:
            statement = {**statement, "Action": explicit_statement_actions(statement["Action"])}
        statements.append(statement)
    return {**document, "Statement": statements}


@jsii.implements(IResolvable)
class _ExplicitDocument:
    def __init__(self, original: Any) -> None:
        self.original = original
        self.creation_stack: list[str] = []
        self.type_hint = None

    def resolve(self, context: IResolveContext) -> Any:
        return explicit_document(context.resolve(self.original))

    def to_string(self) -> str:
        return "ExplicitPolicyDocument"


@jsii.implements(IAspect)
class ExplicitActions:
    """Apply with ``Aspects.of(scope).add(ExplicitActions())``."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.CfnPolicy) and not isinstance(node.policy_document, _ExplicitDocument):
            node.policy_document = _ExplicitDocument(node.policy_document)


def make_actions_explicit(*scopes: IConstruct) -> None:
    """Wraps, once and now, the policy document of every ``AWS::IAM::Policy`` under ``scopes``.

    Cheaper than the ``ExplicitActions`` aspect (which calls back into Python for every construct of the
    tree at synthesis); policies created under ``scopes`` after this call are not covered.
    """
    for scope in scopes:
        for node in scope.node.find_all():
            if isinstance(node, iam.CfnPolicy) and not isinstance(node.policy_document, _ExplicitDocument):
                node.policy_document = _ExplicitDocument(node.policy_document)
