"""What every cdk-mlops state machine shares: an encrypted, fully logged and traced Standard state
machine, notification states that publish a formatted message to the model's topic, and roles for
the services (EventBridge, EventBridge Scheduler) that start workflows and pipelines."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
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
    (construct id ``Logs``). Its role may use the key for this state machine's data and its logs only
    (:func:`encrypt_state_machine`)."""
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
        comment=comment,
    )
    encrypt_state_machine(scope, state_machine, encryption_key)
    return state_machine, log_group


#: The encryption context Step Functions sets on every KMS call for a state machine's definition and
#: its executions' data (Step Functions developer guide, "Data at rest encryption":
#: https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
STATE_MACHINE_CONTEXT = "kms:EncryptionContext:aws:states:stateMachineArn"
DATA_KEY_REUSE_SECONDS = 300


def encrypt_state_machine(scope: Construct, state_machine: sfn.StateMachine, key: kms.IKey) -> iam.Policy:
    """Encrypts ``state_machine`` with the customer managed ``key`` (data keys reused 300 s) and lets its
    role use the key for that state machine's executions and its log delivery only.

    aws-cdk-lib's ``CustomerManagedEncryptionConfiguration`` conditions its grant on
    ``arn:...:stateMachine:<name>``, and without a physical name (we set none, as CDK advises) the name
    is empty, so the statement never matches; a separate, unconditioned grant of the same key was what
    made executions work. (Upstream, aws-cdk-lib's StateMachine builds that condition from
    ``props.stateMachineName`` because its own ARN would be a dependency cycle through the role's default
    policy; the feature came with aws/aws-cdk pull request 30959. No issue for the empty name was found
    in the stored issue threads.) Here the configuration is set on the ``CfnStateMachine`` and the grant
    is a separate ``iam.Policy`` (construct id ``ExecutionDataKey``) naming the machine's own ARN: the
    state machine does not depend on that policy, so there is no cycle. The log-delivery grant is
    aws-cdk-lib's (``kms:GenerateDataKey`` for this account's CloudWatch Logs).
    """
    cfn = state_machine.node.default_child
    assert isinstance(cfn, sfn.CfnStateMachine)
    cfn.encryption_configuration = sfn.CfnStateMachine.EncryptionConfigurationProperty(
        type="CUSTOMER_MANAGED_KMS_KEY",
        kms_key_id=key.key_arn,
        kms_data_key_reuse_period_seconds=DATA_KEY_REUSE_SECONDS,
    )
    stack = Stack.of(scope)
    state_machine.add_to_role_policy(
        iam.PolicyStatement(
            actions=["kms:GenerateDataKey"],
            resources=[key.key_arn],
            conditions={
                "StringEquals": {
                    "kms:EncryptionContext:SourceArn": stack.format_arn(
                        service="logs", resource="*", arn_format=ArnFormat.NO_RESOURCE_NAME
                    )
                }
            },
        )
    )
    return iam.Policy(
        scope,
        "ExecutionDataKey",
        roles=[state_machine.role],
        statements=[
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {STATE_MACHINE_CONTEXT: state_machine.state_machine_arn}},
            )
        ],
    )


def allow_key_via(grantee: sfn.IStateMachine, key: kms.IKey, service: str, actions: Sequence[str]) -> None:
    """Use of ``key`` with ``actions`` only through ``service`` in the state machine's region
    (``kms:ViaService`` ``<service>.<region>.amazonaws.com``): for example ``kms:Decrypt`` through ``s3``
    to read SSE-KMS objects, or ``kms:Decrypt``/``kms:GenerateDataKey`` through ``sns`` to publish to an
    encrypted topic."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(actions),
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"{service}.{Stack.of(grantee).region}.amazonaws.com"}},
        )
    )


def allow_execution_data(grantee: sfn.IStateMachine, key: kms.IKey, state_machine: sfn.IStateMachine) -> None:
    """``kms:Decrypt`` of ``state_machine``'s execution data (what ``DescribeExecution`` of one of its
    executions needs from the caller when the machine is encrypted with ``key``), and nothing else."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt"],
            resources=[key.key_arn],
            conditions={"StringEquals": {STATE_MACHINE_CONTEXT: state_machine.state_machine_arn}},
        )
    )


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
