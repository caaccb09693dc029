"""Specification of the local Step Functions engine (moto 5.2.5 interpreter plus our patches).

Every test runs a small hand-written ASL definition offline; nothing reaches AWS.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

import moto
import pytest

from cdk_mlops.local import moto_patches
from cdk_mlops.local.engine import (
    ExecutionTimeoutError,
    InvalidDefinitionError,
    LambdaContext,
    LocalEngine,
    LocalEngineError,
    summarize_event,
)
from cdk_mlops.local.scenario import JobKind, JobOutcome

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "local-engine-artifacts"


# -- definition builders -------------------------------------------------------------------------


def machine(start: str, states: dict[str, Any]) -> str:
    return json.dumps({"StartAt": start, "States": states})


def task(resource: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "Parameters": parameters}
    state.update(fields)
    if "Next" not in state:
        state["End"] = True
    return state


def training_parameters() -> dict[str, Any]:
    return {
        "TrainingJobName.$": "$.jobName",
        "AlgorithmSpecification": {"TrainingImage": "xgboost:1.7-1", "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {"num_round": "10"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def processing_parameters() -> dict[str, Any]:
    return {
        "ProcessingJobName.$": "$.jobName",
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": "sklearn:1.2-1", "ContainerEntrypoint": ["python3", "evaluate.py"]},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def transform_parameters() -> dict[str, Any]:
    return {
        "TransformJobName.$": "$.jobName",
        "ModelName": "churn-model",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in/"}}},
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/out/"},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"},
    }


TRAIN_SYNC = "arn:aws:states:::sagemaker:createTrainingJob.sync"
#: The optimized SageMaker integration reports a throttle as its generic error (cdk_mlops.constructs.error_names).
THROTTLE_RETRY = {
    "ErrorEquals": ["SageMaker.AmazonSageMakerException"],
    "IntervalSeconds": 5,
    "BackoffRate": 2,
    "MaxAttempts": 3,
}


def training_machine(**task_fields: Any) -> str:
    return machine(
        "Train",
        {
            "Train": task(TRAIN_SYNC, training_parameters(), ResultPath="$.Training", Next="Done", **task_fields),
            "Done": {"Type": "Succeed"},
            "TrainingFailed": {"Type": "Pass", "Result": "handled", "ResultPath": "$.handled", "End": True},
        },
    )


# -- SageMaker .sync -----------------------------------------------------------------------------


def test_completed_training_job_sync_outputs_describe_response_with_final_metrics(engine: LocalEngine) -> None:
    engine.sagemaker.script_training_job(JobOutcome.completed({"validation:auc": 0.91, "train:auc": 0.95}))

    result = engine.run(training_machine(), input={"jobName": "churn-train-1"})

    assert result.status == "SUCCEEDED", result.cause
    training = result.output["Training"]
    assert training["TrainingJobStatus"] == "Completed"
    assert training["TrainingJobName"] == "churn-train-1"
    assert {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]} == {
        "validation:auc": 0.91,
        "train:auc": 0.95,
    }
    assert training["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/models/churn-train-1/output/model.tar.gz"
    assert isinstance(training["CreationTime"], int), "timestamps are epoch milliseconds, as on AWS"
    assert result.states_entered == ["Train", "Done"]


def test_metric_is_picked_from_final_metric_data_list_with_a_jsonpath_filter(engine: LocalEngine) -> None:
    engine.sagemaker.script_training_job(
        JobOutcome.completed({"train:auc": 0.97, "validation:auc": 0.88}, model_artifacts="s3://models/m.tar.gz")
    )
    auc_expression = "States.ArrayGetItem($.Training.FinalMetricDataList[?(@.MetricName == 'validation:auc')].Value, 0)"
    definition = machine(
        "Train",
        {
            "Train": task(TRAIN_SYNC, training_parameters(), ResultPath="$.Training", Next="Metric"),
            "Metric": {
                "Type": "Pass",
                "Parameters": {"auc.$": auc_expression, "model.$": "$.Training.ModelArtifacts.S3ModelArtifacts"},
                "End": True,
            },
        },
    )

    result = engine.run(definition, input={"jobName": "churn-train-2"})

    assert result.output == {"auc": 0.88, "model": "s3://models/m.tar.gz"}


def test_failed_training_job_runs_catch_with_failure_reason_in_cause(engine: LocalEngine) -> None:
    engine.sagemaker.script_training_job(JobOutcome.failed("AlgorithmError: out of memory"))
    catch = [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "TrainingFailed"}]

    result = engine.run(training_machine(Catch=catch), input={"jobName": "churn-train-3"})

    assert result.status == "SUCCEEDED"
    assert result.states_entered == ["Train", "TrainingFailed"]
    assert result.output["error"]["Error"] == "States.TaskFailed"
    cause = json.loads(result.output["error"]["Cause"])
    assert cause["FailureReason"] == "AlgorithmError: out of memory"
    assert cause["TrainingJobStatus"] == "Failed"
    assert "ModelArtifacts" not in cause


def test_stopped_training_job_without_catch_fails_the_execution_with_task_failed(engine: LocalEngine) -> None:
    engine.sagemaker.script_training_job(JobOutcome.stopped())

    result = engine.run(training_machine(), input={"jobName": "churn-train-4"})

    assert result.status == "FAILED"
    assert result.error == "States.TaskFailed"
    assert result.cause_json()["TrainingJobStatus"] == "Stopped"


def test_unscripted_training_job_completes_with_no_metrics(engine: LocalEngine) -> None:
    result = engine.run(training_machine(), input={"jobName": "churn-train-5"})

    assert result.output["Training"]["TrainingJobStatus"] == "Completed"
    assert result.output["Training"]["FinalMetricDataList"] == []
    assert engine.sagemaker.jobs[0].scripted is False


def test_sync_task_polls_describe_until_the_job_leaves_in_progress(engine: LocalEngine) -> None:
    engine.sagemaker.script_training_job(JobOutcome.completed({"validation:auc": 0.8}, polls_in_progress=3))

    result = engine.run(training_machine(), input={"jobName": "churn-train-6"})

    assert result.output["Training"]["TrainingJobStatus"] == "Completed"
    assert engine.sagemaker.call_count("DescribeTrainingJob") == 4


def test_throttled_create_is_retried_with_backoff_until_it_succeeds(engine: LocalEngine) -> None:
    engine.sagemaker.throttle("CreateTrainingJob", times=2)

    result = engine.run(training_machine(Retry=[THROTTLE_RETRY]), input={"jobName": "churn-train-7"})

    assert result.status == "SUCCEEDED", result.cause
    assert engine.sagemaker.call_count("CreateTrainingJob") == 3
    assert [(w.kind, w.seconds, w.state_name) for w in result.waits] == [
        ("retry", 5.0, "Train"),
        ("retry", 10.0, "Train"),
    ]
    failures = result.events("TaskFailed")
    assert [event["taskFailedEventDetails"]["error"] for event in failures] == [
        "SageMaker.AmazonSageMakerException"
    ] * 2


def test_throttling_beyond_max_attempts_fails_with_the_generic_sagemaker_error(engine: LocalEngine) -> None:
    engine.sagemaker.throttle("CreateTrainingJob", times=5)

    result = engine.run(training_machine(Retry=[THROTTLE_RETRY]), input={"jobName": "churn-train-8"})

    assert result.status == "FAILED"
    assert result.error == "SageMaker.AmazonSageMakerException"
    assert "Error Code: ThrottlingException" in (result.cause or "")
    assert engine.sagemaker.call_count("CreateTrainingJob") == 4


def test_sagemaker_api_errors_surface_with_aws_error_names(engine: LocalEngine) -> None:
    engine.sagemaker.fail_call("CreateTrainingJob", "ResourceLimitExceeded", "ml.m5.large limit is 0")
    engine.sagemaker.fail_call("CreateTrainingJob", "ValidationException", "bad image")
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "TrainingFailed"}]

    limited = engine.run(training_machine(Catch=catch), input={"jobName": "churn-train-9"})
    invalid = engine.run(training_machine(Catch=catch), input={"jobName": "churn-train-10"})

    assert limited.output["error"]["Error"] == "SageMaker.ResourceLimitExceededException"
    assert invalid.output["error"]["Error"] == "SageMaker.AmazonSageMakerException"
    assert "Error Code: ValidationException" in invalid.output["error"]["Cause"]


def test_processing_job_sync_fails_only_the_job_whose_name_matches(engine: LocalEngine) -> None:
    engine.sagemaker.script_processing_job(JobOutcome.failed("ClientError: script exited 1"), name_contains="eval")
    definition = machine(
        "Process",
        {
            "Process": task(
                "arn:aws:states:::sagemaker:createProcessingJob.sync",
                processing_parameters(),
                ResultPath="$.Processing",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
            ),
            "Handled": {"Type": "Pass", "End": True},
        },
    )

    preprocess = engine.run(definition, input={"jobName": "churn-preprocess-1"})
    evaluate = engine.run(definition, input={"jobName": "churn-eval-1"})

    assert preprocess.output["Processing"]["ProcessingJobStatus"] == "Completed"
    assert evaluate.states_entered == ["Process", "Handled"]
    assert json.loads(evaluate.output["error"]["Cause"])["FailureReason"] == "ClientError: script exited 1"
    assert [(job.kind, job.name, job.outcome.status) for job in engine.sagemaker.jobs] == [
        (JobKind.PROCESSING, "churn-preprocess-1", "Completed"),
        (JobKind.PROCESSING, "churn-eval-1", "Failed"),
    ]


def test_transform_job_sync_outputs_describe_transform_job(engine: LocalEngine) -> None:
    engine.sagemaker.script_transform_job(JobOutcome.completed(polls_in_progress=1), times=1)
    definition = machine(
        "Transform",
        {"Transform": task("arn:aws:states:::sagemaker:createTransformJob.sync", transform_parameters())},
    )

    result = engine.run(definition, input={"jobName": "churn-batch-1"})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["TransformJobStatus"] == "Completed"
    assert result.output["TransformOutput"]["S3OutputPath"] == f"s3://{BUCKET}/out/"
    assert engine.sagemaker_state()["transform_jobs"]["churn-batch-1"]["TransformJobStatus"] == "Completed"


def test_request_response_create_training_job_returns_only_the_arn(engine: LocalEngine) -> None:
    definition = machine(
        "Train", {"Train": task("arn:aws:states:::sagemaker:createTrainingJob", training_parameters())}
    )

    result = engine.run(definition, input={"jobName": "churn-train-11"})

    assert result.output == {"TrainingJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:training-job/churn-train-11"}


def test_sync_on_an_action_without_local_sync_support_is_rejected_at_creation(engine: LocalEngine) -> None:
    # CreateLabelingJob has a .sync pattern on AWS (Step Functions Developer Guide, "Create and manage
    # Amazon SageMaker AI jobs with Step Functions"), which the local engine does not run.
    definition = machine("Label", {"Label": task("arn:aws:states:::sagemaker:createLabelingJob.sync", {})})

    with pytest.raises(InvalidDefinitionError, match=r"runs \.sync only for createTrainingJob"):
        engine.run(definition)


def test_transition_to_a_missing_state_is_rejected_before_running(engine: LocalEngine) -> None:
    definition = {
        "StartAt": "Branch",
        "States": {
            "Branch": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Missing"}],
                "End": True,
            }
        },
    }

    with pytest.raises(InvalidDefinitionError) as raised:
        engine.run(definition)

    assert str(raised.value) == (
        "Branch.Catch[0].Next names a missing state 'Missing'; Branch.Branches[0].A.Next names a missing state 'Gone'"
    )


# -- endpoints -----------------------------------------------------------------------------------


def _create_endpoint(engine: LocalEngine, *configs: str) -> None:
    sm = engine.client("sagemaker")
    sm.create_model(ModelName="churn-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "xgboost:1.7-1"})
    for config in configs:
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "churn-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    sm.create_endpoint(EndpointName="churn", EndpointConfigName=configs[0])


UPDATE_ENDPOINT = machine(
    "Update",
    {
        "Update": task(
            "arn:aws:states:::sagemaker:updateEndpoint",
            {"EndpointName.$": "$.endpoint", "EndpointConfigName.$": "$.config"},
            Catch=[{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "ResultPath": "$.error", "Next": "Nope"}],
        ),
        "Nope": {"Type": "Pass", "End": True},
    },
)


def test_update_endpoint_swaps_the_endpoint_config(engine: LocalEngine) -> None:
    _create_endpoint(engine, "churn-config-v1", "churn-config-v2")

    result = engine.run(UPDATE_ENDPOINT, input={"endpoint": "churn", "config": "churn-config-v2"})

    assert result.output == {"EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/churn"}
    endpoint = engine.sagemaker_state()["endpoints"]["churn"]
    assert endpoint["EndpointConfigName"] == "churn-config-v2"
    assert endpoint["EndpointStatus"] == "InService"


def test_update_endpoint_of_a_missing_endpoint_fails_with_amazon_sagemaker_exception(engine: LocalEngine) -> None:
    _create_endpoint(engine, "churn-config-v1")

    result = engine.run(UPDATE_ENDPOINT, input={"endpoint": "ghost", "config": "churn-config-v1"})

    assert result.states_entered == ["Update", "Nope"]
    assert result.output["error"]["Error"] == "SageMaker.AmazonSageMakerException"
    assert "Could not find endpoint" in result.output["error"]["Cause"]


# -- Lambda --------------------------------------------------------------------------------------


def test_lambda_invoke_runs_the_registered_handler_and_wraps_its_result(engine: LocalEngine) -> None:
    seen: list[tuple[Any, LambdaContext]] = []

    def smoke_test(event: Any, context: LambdaContext) -> dict[str, Any]:
        seen.append((event, context))
        return {"passed": True, "endpointName": event["EndpointName"]}

    engine.register_lambda("smoke-test", smoke_test)
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:smoke-test"
    definition = machine(
        "Smoke",
        {
            "Smoke": task(
                "arn:aws:states:::lambda:invoke",
                {"FunctionName": arn, "Payload": {"EndpointName.$": "$.endpoint"}},
                ResultSelector={"passed.$": "$.Payload.passed", "status.$": "$.StatusCode"},
            )
        },
    )

    result = engine.run(definition, input={"endpoint": "churn"})

    assert result.output == {"passed": True, "status": 200}
    assert seen[0][0] == {"EndpointName": "churn"}
    assert seen[0][1].function_name == "smoke-test"
    assert engine.lambda_invocations[0].state_name == "Smoke"


def test_lambda_function_arn_resource_returns_the_handler_result_directly(engine: LocalEngine) -> None:
    engine.register_lambda("double", lambda event, context: {"value": event["value"] * 2})
    definition = machine(
        "Double",
        {"Double": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:double", "End": True}},
    )

    result = engine.run(definition, input={"value": 21})

    assert result.output == {"value": 42}


def test_lambda_handler_exception_is_a_task_error_named_after_the_exception_class(engine: LocalEngine) -> None:
    def broken(event: Any, context: LambdaContext) -> None:
        raise ValueError("no endpoint given")

    engine.register_lambda("broken", broken)
    definition = machine(
        "Call",
        {
            "Call": task(
                "arn:aws:states:::lambda:invoke",
                {"FunctionName": "broken", "Payload.$": "$"},
                Catch=[{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Caught"}],
            ),
            "Caught": {"Type": "Pass", "End": True},
        },
    )

    result = engine.run(definition, input={})

    assert result.states_entered == ["Call", "Caught"]
    assert result.output["error"]["Error"] == "ValueError"
    assert json.loads(result.output["error"]["Cause"])["errorMessage"] == "no endpoint given"
    assert engine.lambda_invocations[0].error_type == "ValueError"


def test_lambda_without_registered_handler_fails_with_resource_not_found(engine: LocalEngine) -> None:
    definition = machine(
        "Call", {"Call": task("arn:aws:states:::lambda:invoke", {"FunctionName": "unknown-fn", "Payload": {}})}
    )

    result = engine.run(definition)

    assert result.error == "Lambda.ResourceNotFoundException"
    assert "register_lambda('unknown-fn'" in (result.cause or "")


# -- SNS, S3, model registry, other SDK integrations ---------------------------------------------


def test_sns_publish_messages_are_captured(engine: LocalEngine) -> None:
    topic = "arn:aws:sns:eu-west-1:123456789012:mlops-notifications"
    definition = machine(
        "Notify",
        {
            "Notify": task(
                "arn:aws:states:::sns:publish",
                {
                    "TopicArn": topic,
                    "Subject": "Training finished",
                    "Message.$": "States.Format('Model {} reached AUC {}', $.model, $.auc)",
                },
                ResultPath=None,
                Next="NotifyJson",
            ),
            "NotifyJson": task(
                "arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"auc.$": "$.auc"}}, ResultPath=None
            ),
        },
    )

    result = engine.run(definition, input={"model": "churn", "auc": 0.91})

    assert result.status == "SUCCEEDED", result.cause
    first, second = engine.notifications
    assert (first.topic_arn, first.subject, first.message) == (
        topic,
        "Training finished",
        "Model churn reached AUC 0.91",
    )
    assert first.state_name == "Notify"
    assert second.json() == {"auc": 0.91}


def test_sns_publish_to_unknown_topic_fails_when_topics_are_required() -> None:
    definition = machine(
        "Notify",
        {
            "Notify": task(
                "arn:aws:states:::sns:publish", {"TopicArn": "arn:aws:sns:eu-west-1:123456789012:nope", "Message": "hi"}
            )
        },
    )
    with LocalEngine(sns_require_topics=True) as strict:
        result = strict.run(definition)

        assert result.error == "SNS.NotFoundException"
        assert strict.notifications[0].message == "hi"


def test_s3_get_object_body_is_a_string_that_string_to_json_parses(engine: LocalEngine) -> None:
    engine.s3_put_json(BUCKET, "runs/r1/evaluation.json", {"metrics": {"auc": 0.93}, "passed": True})
    definition = machine(
        "Read",
        {
            "Read": task(
                "arn:aws:states:::aws-sdk:s3:getObject",
                {"Bucket": BUCKET, "Key.$": "States.Format('runs/{}/evaluation.json', $.runId)"},
                ResultSelector={"report.$": "States.StringToJson($.Body)"},
                ResultPath="$.evaluation",
                Next="Summarise",
            ),
            "Summarise": {
                "Type": "Pass",
                "Parameters": {
                    "auc.$": "$.evaluation.report.metrics.auc",
                    "report.$": "States.JsonToString($.evaluation.report.metrics)",
                },
                "End": True,
            },
        },
    )

    result = engine.run(definition, input={"runId": "r1"})

    assert result.output == {"auc": 0.93, "report": '{"auc":0.93}'}


def test_s3_get_object_of_a_missing_key_fails_with_s3_no_such_key(engine: LocalEngine) -> None:
    engine.s3_put_json(BUCKET, "present.json", {})
    definition = machine(
        "Read", {"Read": task("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": BUCKET, "Key": "absent.json"})}
    )

    result = engine.run(definition)

    assert result.error == "S3.NoSuchKeyException"


def test_model_package_is_created_described_and_approved_through_aws_sdk(engine: LocalEngine) -> None:
    engine.client("sagemaker").create_model_package_group(ModelPackageGroupName="churn")
    sdk = "arn:aws:states:::aws-sdk:sagemaker:"
    definition = machine(
        "Register",
        {
            "Register": task(
                sdk + "createModelPackage",
                {
                    "ModelPackageGroupName": "churn",
                    "ModelApprovalStatus": "PendingManualApproval",
                    "ModelPackageDescription.$": "States.Format('Trained by execution {}', $$.Execution.Name)",
                    "InferenceSpecification": {
                        "Containers": [{"Image": "xgboost:1.7-1", "ModelDataUrl.$": "$.modelData"}],
                        "SupportedContentTypes": ["text/csv"],
                        "SupportedResponseMIMETypes": ["text/csv"],
                    },
                },
                ResultPath="$.package",
                Next="Describe",
            ),
            "Describe": task(
                sdk + "describeModelPackage",
                {"ModelPackageName.$": "$.package.ModelPackageArn"},
                ResultSelector={"status.$": "$.ModelApprovalStatus", "created.$": "$.CreationTime"},
                ResultPath="$.described",
                Next="Approve",
            ),
            "Approve": task(
                sdk + "updateModelPackage",
                {"ModelPackageArn.$": "$.package.ModelPackageArn", "ModelApprovalStatus": "Approved"},
                ResultPath=None,
            ),
        },
    )

    result = engine.run(definition, input={"modelData": f"s3://{BUCKET}/m.tar.gz"}, name="register-1")

    assert result.status == "SUCCEEDED", result.cause
    arn = result.output["package"]["ModelPackageArn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/1"
    assert result.output["described"]["status"] == "PendingManualApproval"
    assert result.output["described"]["created"].endswith("Z"), "aws-sdk timestamps are ISO-8601 strings"
    package = engine.sagemaker_state()["model_packages"][arn]
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ModelPackageDescription"] == "Trained by execution register-1"


def test_aws_sdk_sagemaker_errors_use_sagemaker_error_names_and_retry(engine: LocalEngine) -> None:
    engine.client("sagemaker").create_model_package_group(ModelPackageGroupName="churn")
    engine.sagemaker.throttle("DescribeModelPackageGroup", times=1)
    definition = machine(
        "Group",
        {
            "Group": task(
                "arn:aws:states:::aws-sdk:sagemaker:describeModelPackageGroup",
                {"ModelPackageGroupName.$": "$.group"},
                Retry=[{"ErrorEquals": ["SageMaker.SageMakerException"], "IntervalSeconds": 2}],
                ResultSelector={"name.$": "$.ModelPackageGroupName"},
                Next="Missing",
            ),
            "Missing": task(
                "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage", {"ModelPackageName": "churn/99"}
            ),
        },
    )

    result = engine.run(definition, input={"group": "churn"})

    assert engine.sagemaker.call_count("DescribeModelPackageGroup") == 2
    assert [w.seconds for w in result.waits] == [2.0]
    assert result.states_entered == ["Group", "Missing"]
    assert result.error == "SageMaker.SageMakerException"


def test_sfn_describe_execution_takes_and_returns_pascal_case_members(engine: LocalEngine) -> None:
    definition = machine(
        "Self",
        {
            "Self": task(
                "arn:aws:states:::aws-sdk:sfn:describeExecution",
                {"ExecutionArn.$": "$$.Execution.Id"},
                ResultSelector={"status.$": "$.Status", "name.$": "$.Name", "started.$": "$.StartDate"},
            )
        },
    )

    result = engine.run(definition, name="introspect-1")

    assert result.output["status"] == "RUNNING"
    assert result.output["name"] == "introspect-1"
    assert isinstance(result.output["started"], str)


def test_cloudformation_update_stack_and_describe_stacks_through_aws_sdk(engine: LocalEngine) -> None:
    template = {
        "Parameters": {"ModelData": {"Type": "String"}},
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/churn/model-data", "Type": "String", "Value": {"Ref": "ModelData"}},
            }
        },
        "Outputs": {"ModelData": {"Value": {"Ref": "ModelData"}}},
    }
    engine.client("cloudformation").create_stack(
        StackName="churn-endpoint",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "ModelData", "ParameterValue": "s3://old"}],
    )
    sdk = "arn:aws:states:::aws-sdk:cloudformation:"
    definition = machine(
        "Update",
        {
            "Update": task(
                sdk + "updateStack",
                {
                    "StackName": "churn-endpoint",
                    "UsePreviousTemplate": True,
                    "Parameters": [{"ParameterKey": "ModelData", "ParameterValue.$": "$.modelData"}],
                },
                ResultPath="$.update",
                Next="Describe",
            ),
            "Describe": task(
                sdk + "describeStacks",
                {"StackName": "churn-endpoint"},
                ResultSelector={
                    "status.$": "$.Stacks[0].StackStatus",
                    "modelData.$": "$.Stacks[0].Outputs[0].OutputValue",
                },
            ),
        },
    )

    result = engine.run(definition, input={"modelData": "s3://new"})

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"status": "UPDATE_COMPLETE", "modelData": "s3://new"}


# -- flow control --------------------------------------------------------------------------------

QUALITY_GATE = machine(
    "Gate",
    {
        "Gate": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.auc", "IsPresent": True},
                        {"Variable": "$.auc", "NumericGreaterThanEquals": 0.8},
                        {"Not": {"Variable": "$.blocked", "IsPresent": True}},
                    ],
                    "Next": "Approve",
                }
            ],
            "Default": "Reject",
        },
        "Approve": {"Type": "Succeed"},
        "Reject": {"Type": "Fail", "Error": "QualityGateFailed", "Cause": "AUC below 0.8 or missing"},
    },
)


def test_choice_guarded_by_is_present_takes_default_when_the_metric_is_missing(engine: LocalEngine) -> None:
    missing = engine.run(QUALITY_GATE, input={})
    passing = engine.run(QUALITY_GATE, input={"auc": 0.85})
    low = engine.run(QUALITY_GATE, input={"auc": 0.79})

    assert (missing.status, missing.error, missing.cause) == ("FAILED", "QualityGateFailed", "AUC below 0.8 or missing")
    assert missing.states_entered == ["Gate", "Reject"]
    assert passing.states_entered == ["Gate", "Approve"]
    assert passing.status == "SUCCEEDED"
    assert low.error == "QualityGateFailed"


def test_unguarded_choice_on_a_missing_path_fails_with_states_runtime_as_on_aws(engine: LocalEngine) -> None:
    definition = machine(
        "Gate",
        {
            "Gate": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.auc", "NumericGreaterThanEquals": 0.8, "Next": "Approve"}],
                "Default": "Approve",
            },
            "Approve": {"Type": "Succeed"},
        },
    )

    result = engine.run(definition, input={})

    assert result.error == "States.Runtime"
    assert "Invalid path '$.auc'" in (result.cause or "")


def test_wait_states_are_recorded_and_do_not_sleep(engine: LocalEngine) -> None:
    definition = machine(
        "Cooldown",
        {
            "Cooldown": {"Type": "Wait", "Seconds": 600, "Next": "Bake"},
            "Bake": {"Type": "Wait", "SecondsPath": "$.bakeSeconds", "End": True},
        },
    )

    result = engine.run(definition, input={"bakeSeconds": 1800})

    assert result.status == "SUCCEEDED"
    assert [(w.kind, w.seconds, w.state_name) for w in result.waits] == [
        ("wait", 600.0, "Cooldown"),
        ("wait", 1800.0, "Bake"),
    ]


def test_time_scale_makes_waits_real_and_a_stuck_execution_times_out() -> None:
    definition = machine("Bake", {"Bake": {"Type": "Wait", "Seconds": 30, "End": True}})

    with LocalEngine(time_scale=1.0, execution_timeout_seconds=0.3) as slow:
        with pytest.raises(ExecutionTimeoutError, match=r"still running after 0\.3 s; states entered: \['Bake'\]"):
            slow.run(definition)

        assert [(w.kind, w.seconds) for w in slow.waits] == [("wait", 30.0)]


def test_on_event_receives_every_history_event_in_order(engine: LocalEngine) -> None:
    events: list[dict[str, Any]] = []
    definition = machine("A", {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}})

    result = engine.run(definition, on_event=events.append)

    assert [event["id"] for event in events] == [event["id"] for event in result.history]
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == "ExecutionSucceeded"
    assert summarize_event(events[1]) == "#2 PassStateEntered A"


# -- engine behaviour ----------------------------------------------------------------------------


def test_engine_uses_fake_credentials_and_restores_the_environment() -> None:
    with mock.patch.dict(os.environ, {"AWS_PROFILE": "production", "AWS_ACCESS_KEY_ID": "AKIAREAL"}):
        with LocalEngine(region="eu-central-1") as local:
            assert "AWS_PROFILE" not in os.environ
            assert os.environ["AWS_DEFAULT_REGION"] == "eu-central-1"
            assert local.client("sts").get_caller_identity()["Account"] == "123456789012"
        assert os.environ["AWS_PROFILE"] == "production"
        assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREAL"


def test_only_one_engine_runs_at_a_time(engine: LocalEngine) -> None:
    with pytest.raises(LocalEngineError, match="another LocalEngine is running"):
        LocalEngine().start()
    assert engine.running


def test_engine_methods_need_a_running_engine() -> None:
    with pytest.raises(LocalEngineError, match="not running"):
        LocalEngine().run(machine("A", {"A": {"Type": "Succeed"}}))


def test_scripting_an_unknown_sagemaker_action_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a SageMaker API action"):
        LocalEngine().sagemaker.throttle("CreateTrainingJobs")


def test_patches_refuse_a_moto_version_they_were_not_written_for() -> None:
    spec = importlib.util.spec_from_file_location("moto_patches_copy", Path(moto_patches.__file__))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with (
        mock.patch.object(moto, "__version__", "5.3.0"),
        pytest.raises(RuntimeError, match=r"supports moto 5\.2\.5 only; moto 5\.3\.0 is installed"),
    ):
        spec.loader.exec_module(module)
