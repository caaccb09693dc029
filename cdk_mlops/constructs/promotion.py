"""Model package states the deploy and batch transform workflows share: which package a training
execution registered, and the promotion record of a release (the package ``Approved`` and tagged with
the release that built it and the workflow execution that released it)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_mlops.constructs.compliance import Justification
from cdk_mlops.constructs.error_names import aws_sdk
from cdk_mlops.constructs.failure_notice import catch_failure

PIPELINE_EXECUTION_TAG = "cdk-mlops:pipeline-execution"
DEPLOYED_BY_TAG = "cdk-mlops:deployed-by"


def model_package_arns(scope: Construct, group_name: str) -> str:
    """Every version of the packages in model package group ``group_name``."""
    return Stack.of(scope).format_arn(service="sagemaker", resource="model-package", resource_name=f"{group_name}/*")


def model_package_justification(group_name: str) -> Justification:
    """Why ``model_package_arns(group_name)`` ends in a wildcard (for ``justify_wildcards``)."""
    return Justification(
        f"Resource::arn:<AWS::Partition>:sagemaker:*:*:model-package/{group_name}/*",
        "Model package versions are numbered by SageMaker inside the model's own group.",
    )


def training_execution_arns(state_machine: sfn.IStateMachine) -> str:
    """Every execution of ``state_machine`` (execution names are generated per pipeline run)."""
    stack = Stack.of(state_machine)
    name = stack.split_arn(state_machine.state_machine_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name
    return stack.format_arn(
        service="states",
        resource="execution",
        resource_name=f"{name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def resolve_model_package(scope: Construct, training_state_machine: sfn.IStateMachine) -> tasks.CallAwsService:
    """``ResolveModelPackage``: DescribeExecution of the training execution ``$.TrainingExecutionArn``;
    its output (``ModelPackageArn``, ``PipelineExecutionId``, ...) lands in ``$.training.output``.
    Add retries and a catch to it."""
    return tasks.CallAwsService(
        scope,
        "ResolveModelPackage",
        service="sfn",
        action="describeExecution",
        parameters={"ExecutionArn.$": "$.TrainingExecutionArn"},
        iam_resources=[training_execution_arns(training_state_machine)],
        iam_action="states:DescribeExecution",
        result_selector={"output.$": "States.StringToJson($.Output)"},
        result_path="$.training",
    )


def retry_sagemaker(task: tasks.CallAwsService) -> None:
    """Backoff retries of an ``aws-sdk:sagemaker`` task's throttling (``SageMaker.SageMakerException``:
    SageMaker's ``ThrottlingException`` is not a declared error, see :mod:`cdk_mlops.constructs.error_names`)."""
    task.add_retry(
        errors=list(aws_sdk("sagemaker").retryable),
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=4,
    )


def promotion_record(
    scope: Construct,
    *,
    package_arns: Sequence[str],
    package_path: str,
    pipeline_execution_path: str,
    approval_description: str,
    on_error: sfn.IChainable,
) -> sfn.Chain:
    """``ApproveModelPackage`` (UpdateModelPackage: ``Approved``, ``ApprovalDescription`` the
    ``approval_description`` with its ``{}`` replaced by this execution's id) → ``TagRelease``
    (AddTags ``cdk-mlops:pipeline-execution`` = the value at ``pipeline_execution_path``,
    ``cdk-mlops:deployed-by`` = this execution's name) of the package at ``package_path``. Both retry
    SageMaker throttling, send any other error to ``on_error`` (at ``$.error``) and leave the state's
    data unchanged; IAM is limited to ``package_arns``."""
    approve = tasks.CallAwsService(
        scope,
        "ApproveModelPackage",
        service="sagemaker",
        action="updateModelPackage",
        parameters={
            "ModelPackageArn.$": package_path,
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription.$": f"States.Format('{approval_description}', $$.Execution.Id)",
        },
        iam_resources=list(package_arns),
        result_path=sfn.JsonPath.DISCARD,
    )
    tag = tasks.CallAwsService(
        scope,
        "TagRelease",
        service="sagemaker",
        action="addTags",
        parameters={
            "ResourceArn.$": package_path,
            "Tags": [
                {"Key": PIPELINE_EXECUTION_TAG, "Value.$": pipeline_execution_path},
                {"Key": DEPLOYED_BY_TAG, "Value.$": "$$.Execution.Name"},
            ],
        },
        iam_resources=list(package_arns),
        result_path=sfn.JsonPath.DISCARD,
    )
    for task in (approve, tag):
        retry_sagemaker(task)
        catch_failure(task, on_error)
    return approve.next(tag)
