"""The Lambda functions cdk-mlops deploys from ``lambda_src/``, all set up the same way."""

from __future__ import annotations

import dataclasses

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_mlops.lambda_code import lambda_code_dir


@dataclasses.dataclass(frozen=True)
class HandlerFunction:
    """A function created by ``handler_function``, its own role and its log group."""

    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def handler_function(
    scope: Construct,
    *,
    handler: str,
    description: str,
    role_description: str,
    timeout: Duration,
    encryption_key: kms.IKey,
    log_retention: logs.RetentionDays,
) -> HandlerFunction:
    """``lambda_src/<handler>`` as a Python 3.14 function (construct id ``Function``, 256 MB, X-Ray
    tracing) with a role of its own (``FunctionRole``: only writing its logs, until the caller grants
    more) and a KMS-encrypted log group kept ``log_retention`` and retained (``FunctionLogs``)."""
    log_group = logs.LogGroup(
        scope,
        "FunctionLogs",
        retention=log_retention,
        encryption_key=encryption_key,
        removal_policy=RemovalPolicy.RETAIN,
    )
    role = iam.Role(
        scope,
        "FunctionRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
    )
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        "Function",
        role=role,
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="handler.handler",
        code=lambda_.Code.from_asset(str(lambda_code_dir(handler))),
        timeout=timeout,
        memory_size=256,
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        description=description,
    )
    return HandlerFunction(function, role, log_group)
