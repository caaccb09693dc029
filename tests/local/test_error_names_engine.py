"""The local engine reports a throttled call under the name the error table gives for its integration,
so the workflows' retries (derived from the same table) match it, locally as on AWS.

The names follow the Step Functions developer guide: "AWS SDK service integrations" (an AWS SDK
integration's error is ``<ServiceName>.<ErrorName>`` with the ``Exception`` suffix; a code the service's
API model does not declare, such as a throttle, is the service's base exception) and "Handling errors in
Step Functions workflows" (optimized integrations); see :mod:`cdk_mlops.constructs.error_names`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.models import CloudFormationBackend
from moto.core.exceptions import AWSError
from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response
from moto.stepfunctions.models import StepFunctionBackend

from cdk_mlops.constructs.error_names import AWS_SDK, OPTIMIZED
from cdk_mlops.constructs.sagemaker_tasks import THROTTLING_ERRORS
from cdk_mlops.local.engine import LocalEngine

BUCKET = "error-names"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def retried_task(resource: str, parameters: dict[str, Any], errors: list[str]) -> str:
    """One Task retrying ``errors`` twice (intervals are recorded, not slept)."""
    return json.dumps(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": resource,
                    "Parameters": parameters,
                    "Retry": [{"ErrorEquals": errors, "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 2}],
                    "ResultPath": None,
                    "End": True,
                }
            },
        }
    )


@contextmanager
def fails_first(owner: type, method: str, error: Exception, when: Callable[..., bool]) -> Iterator[None]:
    """The first call of ``owner.method`` (a moto backend's or response's) for which ``when(*args)``
    holds raises ``error``."""
    original = getattr(owner, method)
    raised: list[bool] = []

    def patched(backend: Any, *args: Any, **kwargs: Any) -> Any:
        if not raised and when(*args, **kwargs):
            raised.append(True)
            raise error
        return original(backend, *args, **kwargs)

    with mock.patch.object(owner, method, patched):
        yield


class SfnThrottlingError(AWSError):
    """Step Functions' throttle (JSON protocol), a code its API model does not declare."""

    TYPE = "ThrottlingException"
    STATUS = 400


def task_failures(result: Any) -> list[str]:
    return [event["taskFailedEventDetails"]["error"] for event in result.events("TaskFailed")]


def test_optimized_sagemaker_throttle_is_reported_as_the_generic_sagemaker_error_and_retried(
    engine: LocalEngine,
) -> None:
    engine.sagemaker.throttle("CreateModel", times=1)
    definition = retried_task(
        "arn:aws:states:::sagemaker:createModel",
        {"ModelName": "churn-1", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "xgboost:1.7-1"}},
        list(THROTTLING_ERRORS),
    )

    result = engine.run(definition)

    assert result.succeeded, result.cause
    assert task_failures(result) == list(OPTIMIZED["sagemaker"].throttling)
    assert engine.sagemaker.call_count("CreateModel") == 2


def test_aws_sdk_sagemaker_throttle_is_reported_as_sagemaker_exception_and_retried(engine: LocalEngine) -> None:
    engine.client("sagemaker").create_model_package_group(ModelPackageGroupName="churn")
    engine.sagemaker.throttle("DescribeModelPackageGroup", times=1)
    definition = retried_task(
        "arn:aws:states:::aws-sdk:sagemaker:describeModelPackageGroup",
        {"ModelPackageGroupName": "churn"},
        list(AWS_SDK["sagemaker"].retryable),
    )

    result = engine.run(definition)

    assert result.succeeded, result.cause
    assert task_failures(result) == ["SageMaker.SageMakerException"]


def test_s3_slow_down_is_reported_as_s3_exception_and_retried(engine: LocalEngine) -> None:
    engine.s3_put_json(BUCKET, "report.json", {"auc": 0.9})
    slow_down = S3ClientError("SlowDown", "Please reduce your request rate.")
    definition = retried_task(
        "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": BUCKET, "Key": "report.json"}, list(AWS_SDK["s3"].retryable)
    )

    with fails_first(S3Response, "get_object", slow_down, lambda *args, **kwargs: True):
        result = engine.run(definition)

    assert result.succeeded, result.cause
    assert task_failures(result) == ["S3.S3Exception"]


def test_an_s3_error_the_api_model_declares_keeps_its_name(engine: LocalEngine) -> None:
    engine.s3_put_json(BUCKET, "other.json", {})
    definition = retried_task(
        "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": BUCKET, "Key": "absent.json"}, list(AWS_SDK["s3"].retryable)
    )

    result = engine.run(definition)

    assert result.error == "S3.NoSuchKeyException"
    assert result.error in AWS_SDK["s3"].declared
    assert task_failures(result) == ["S3.NoSuchKeyException"], "a declared error is not retried as a throttle"


def test_cloudformation_throttling_is_reported_as_cloudformation_exception_and_retried(engine: LocalEngine) -> None:
    cloudformation = engine.client("cloudformation")
    cloudformation.create_stack(StackName="Mlops-churn-Staging", TemplateBody=json.dumps({"Resources": {}}))
    throttling = CloudFormationError("Throttling", "Rate exceeded")
    definition = retried_task(
        "arn:aws:states:::aws-sdk:cloudformation:describeStacks",
        {"StackName": "Mlops-churn-Staging"},
        list(AWS_SDK["cloudformation"].retryable),
    )

    with fails_first(CloudFormationBackend, "describe_stacks", throttling, lambda *args, **kwargs: True):
        result = engine.run(definition)

    assert result.succeeded, result.cause
    assert task_failures(result) == ["CloudFormation.CloudFormationException"]


def test_step_functions_throttling_is_reported_as_sfn_exception_and_retried(engine: LocalEngine) -> None:
    trained = engine.run(json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))
    throttling = SfnThrottlingError("Rate exceeded")
    definition = retried_task(
        "arn:aws:states:::aws-sdk:sfn:describeExecution",
        {"ExecutionArn": trained.execution_arn},
        list(AWS_SDK["sfn"].retryable),
    )

    def describes_the_trained_execution(*args: Any, **kwargs: Any) -> bool:
        return trained.execution_arn in (*args, *kwargs.values())

    with fails_first(StepFunctionBackend, "describe_execution", throttling, describes_the_trained_execution):
        result = engine.run(definition)

    assert result.succeeded, result.cause
    assert task_failures(result) == ["Sfn.SfnException"]


def test_a_name_outside_the_table_is_never_retried(engine: LocalEngine) -> None:
    """``S3.ThrottlingException`` (the old retry) does not match S3's throttle: the state fails at once."""
    engine.s3_put_json(BUCKET, "report.json", {"auc": 0.9})
    slow_down = S3ClientError("SlowDown", "Please reduce your request rate.")
    definition = retried_task(
        "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": BUCKET, "Key": "report.json"}, ["S3.ThrottlingException"]
    )

    with fails_first(S3Response, "get_object", slow_down, lambda *args, **kwargs: True):
        result = engine.run(definition)

    assert result.status == "FAILED"
    assert result.error == "S3.S3Exception"
