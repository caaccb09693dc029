"""What every cdk-mlops state machine shares: an encrypted, fully logged and traced Standard state
machine, notification states that publish a formatted message to the model's topic, and roles for
the services (EventBridge, EventBridge Scheduler) that start workflows and pipelines."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_mlops.constructs.error_names import aws_sdk


def logged_state_machine(
    scope: Construct,
    *,
    definition: sfn.IChainable,
    encryption_key: kms.IKey,
    timeout: Duration,
    comment: str,
    log_retention: logs.RetentionDays,
) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """A Standard state machine (construct id ``Resource``) encrypted with ``encryption_key``, X-Ray
    tracing on, every event with execution data logged to a KMS-encrypted, retained log group
    (construct id ``Logs``)."""
    log_group = logs.LogGroup(
        scope, "Logs", encryption_key=encryption_key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
    )
    state_machine = sfn.StateMachine(
        scope,
        "Resource",
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        tracing_enabled=True,
        timeout=timeout,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(encryption_key),
        comment=comment,
    )
    return state_machine, log_group


def notification(
    scope: Construct, id: str, *, topic: sns.ITopic, subject: str, template: str, paths: Sequence[str] = ()
) -> tasks.SnsPublish:
    """An SNS publish whose message is ``States.Format(template, *paths)``; its result is discarded so
    the state's data flows through unchanged."""
    message = sfn.JsonPath.format(template, *(sfn.JsonPath.string_at(path) for path in paths)) if paths else template
    return tasks.SnsPublish(
        scope,
        id,
        topic=topic,
        subject=subject,
        message=sfn.TaskInput.from_text(message),
        result_path=sfn.JsonPath.DISCARD,
    )


def service_role(scope: Construct, id: str, *, service: str, description: str) -> iam.Role:
    """A role only ``service`` (e.g. ``scheduler.amazonaws.com``) of the stack's own account may assume
    (``aws:SourceAccount``), with no permissions: the target it is given to grants it one action."""
    return iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal(
            service, conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}}
        ),
        description=description,
    )


def retry_throttling(task: sfn.CustomState | sfn.TaskStateBase, service: str) -> None:
    """Adds a backoff retry (2 s, x2, 4 attempts) for the errors a throttled call of AWS SDK integration
    ``service`` (``"S3"``, ``"SageMaker"``...) fails with, from :mod:`cdk_mlops.constructs.error_names`
    (``S3.S3Exception``: S3's ``SlowDown`` is not a declared error)."""
    task.add_retry(
        errors=list(aws_sdk(service).retryable),
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=4,
    )
