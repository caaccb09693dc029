"""The training workflow (``TrainingWorkflow`` with the default steps of ``MlPipeline``), read from the
synthesized example app: churn-xgb (built-in XGBoost, managed spot, gate on training metrics) and
iris-sklearn (script mode, preprocessing and evaluation jobs, ``IrisPipeline``'s extra gate)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_mlops.config import parse_model_config
from cdk_mlops.constructs import error_names
from cdk_mlops.constructs.ml_pipeline import MlPipeline
from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
from cdk_mlops_testing import (
    ACCOUNT,
    BUCKET_ARN,
    BUCKET_NAME,
    KEY,
    KEY_ARN,
    KEY_EXPORT,
    REGION,
    construct_resource,
    definition,
    example_config_data,
    happy_path,
    render,
    role_statements,
    state_machine,
)

XGBOOST_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SNS_PUBLISH = "arn:${AWS::Partition}:states:::sns:publish"
TOPIC = "${MlPipelineNotificationsEE626885}"


@pytest.fixture(scope="module")
def churn_template(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-churn-xgb-Pipeline"]


@pytest.fixture(scope="module")
def iris_template(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-iris-sklearn-Pipeline"]


@pytest.fixture(scope="module")
def churn(churn_template) -> dict[str, Any]:
    """The churn-xgb training workflow definition."""
    return definition(churn_template, "MlPipelineTraining")


@pytest.fixture(scope="module")
def iris(iris_template) -> dict[str, Any]:
    """The iris-sklearn training workflow definition."""
    return definition(iris_template, "MlPipelineTraining")


def task_states(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in workflow["States"].items() if state["Type"] == "Task"}


def gates(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The quality-gate Choice states, in the order a passing execution visits them."""
    return [(name, workflow["States"][name]) for name in happy_path(workflow) if name.startswith("QualityGate ")]


# ---- states and order ------------------------------------------------------------------------------


def test_churn_workflow_validates_initializes_trains_gates_and_registers_in_order(churn) -> None:
    assert happy_path(churn) == [
        "ValidateInput",
        "Initialize",
        "Train",
        "ExtractTrainingMetrics",
        "QualityGate validation_auc",
        "RegisterModel",
        "Result",
        "Registered",
    ]


def test_iris_workflow_preprocesses_before_training_and_evaluates_with_a_processing_job(iris) -> None:
    assert happy_path(iris) == [
        "ValidateInput",
        "Initialize",
        "Preprocess",
        "Train",
        "Evaluate",
        "ReadEvaluationReport",
        "ParseEvaluationReport",
        "QualityGate metrics_accuracy",
        "QualityGate metrics_macro_f1",
        "QualityGate metrics_min_class_recall",
        "RegisterModel",
        "Result",
        "Registered",
    ]


def test_workflow_without_pipeline_execution_id_fails_as_invalid_input(churn) -> None:
    assert churn["StartAt"] == "ValidateInput"
    assert churn["States"]["ValidateInput"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.PipelineExecutionId", "IsPresent": True, "Next": "Initialize"}],
        "Default": "InvalidInput",
    }
    assert churn["States"]["InvalidInput"]["Type"] == "Fail"
    assert churn["States"]["InvalidInput"]["Error"] == "InvalidInput"


def test_churn_workflow_has_no_preprocessing_or_evaluation_job(churn) -> None:
    assert set(task_states(churn)) == {
        "Train",
        "RegisterModel",
        "NotifyFailure",
        "NotifyRejected0",
        "NotifyMetricMissing0",
    }


# ---- SageMaker jobs --------------------------------------------------------------------------------


def test_sagemaker_jobs_use_the_sync_integrations_so_the_workflow_waits_for_them(churn, iris) -> None:
    assert churn["States"]["Train"]["Resource"] == "arn:${AWS::Partition}:states:::sagemaker:createTrainingJob.sync"
    assert iris["States"]["Train"]["Resource"] == "arn:${AWS::Partition}:states:::sagemaker:createTrainingJob.sync"
    assert iris["States"]["Preprocess"]["Resource"] == (
        "arn:${AWS::Partition}:states:::sagemaker:createProcessingJob.sync"
    )
    assert iris["States"]["Evaluate"]["Resource"] == (
        "arn:${AWS::Partition}:states:::sagemaker:createProcessingJob.sync"
    )


def test_training_uses_managed_spot_when_enabled(churn) -> None:
    parameters = churn["States"]["Train"]["Parameters"]

    assert parameters["EnableManagedSpotTraining"] is True
    # max_wait_minutes defaults to twice max_runtime_minutes (60).
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert parameters["CheckpointConfig"] == {"S3Uri.$": "$.run.checkpoints"}
    assert churn["States"]["Initialize"]["Parameters"]["checkpoints.$"] == (
        f"States.Format('s3://{BUCKET_NAME}/churn-xgb/runs/{{}}/checkpoints/', $$.Execution.Name)"
    )


def test_training_runs_on_demand_when_spot_is_off(iris) -> None:
    parameters = iris["States"]["Train"]["Parameters"]

    assert "EnableManagedSpotTraining" not in parameters
    assert "CheckpointConfig" not in parameters
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}


def test_training_job_resources_come_from_the_config_and_are_encrypted_with_the_platform_key(churn) -> None:
    parameters = churn["States"]["Train"]["Parameters"]

    assert parameters["ResourceConfig"] == {
        "InstanceCount": 1,
        "InstanceType": "ml.m5.xlarge",
        "VolumeSizeInGB": 30,
        "VolumeKmsKeyId": KEY,
    }
    assert parameters["OutputDataConfig"] == {"S3OutputPath.$": "$.run.model_output", "KmsKeyId": KEY}
    assert parameters["AlgorithmSpecification"] == {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"}
    assert parameters["RoleArn"] == "${MlPipelineTrainingSageMakerRole7CA84B02.Arn}"


def test_training_reads_the_raw_data_channels_when_there_is_no_preprocessing(churn) -> None:
    channels = churn["States"]["Train"]["Parameters"]["InputDataConfig"]

    assert [(channel["ChannelName"], channel["DataSource"]["S3DataSource"]["S3Uri"]) for channel in channels] == [
        ("train", f"s3://{BUCKET_NAME}/churn-xgb/data/train/"),
        ("validation", f"s3://{BUCKET_NAME}/churn-xgb/data/validation/"),
    ]
    assert {channel["ContentType"] for channel in channels} == {"text/csv"}


def test_training_reads_the_preprocessing_output_when_there_is_preprocessing(iris) -> None:
    channels = iris["States"]["Train"]["Parameters"]["InputDataConfig"]
    outputs = iris["States"]["Preprocess"]["Parameters"]["ProcessingOutputConfig"]["Outputs"]

    assert [channel["DataSource"]["S3DataSource"]["S3Uri.$"] for channel in channels] == [
        "States.Format('{}train/', $.run.processed_prefix)",
        "States.Format('{}validation/', $.run.processed_prefix)",
    ]
    assert [output["S3Output"]["S3Uri.$"] for output in outputs] == [
        "States.Format('{}train/', $.run.processed_prefix)",
        "States.Format('{}validation/', $.run.processed_prefix)",
    ]


def test_builtin_algorithm_hyperparameters_are_passed_as_plain_strings(churn) -> None:
    assert churn["States"]["Train"]["Parameters"]["HyperParameters"] == {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "num_round": "200",
        "max_depth": "5",
        "eta": "0.2",
    }


def test_script_mode_hyperparameters_are_json_encoded_with_entry_point_and_code(iris) -> None:
    assert iris["States"]["Train"]["Parameters"]["HyperParameters"] == {
        "n_estimators": "100",
        "max_depth": "4",
        "sagemaker_program": '"train.py"',
        "sagemaker_region": '"eu-west-1"',
        "sagemaker_submit_directory.$": "States.JsonToString($.run.source_dir)",
    }


def test_processing_jobs_run_the_model_scripts_from_the_packaged_code(iris) -> None:
    preprocess = iris["States"]["Preprocess"]["Parameters"]
    evaluate = iris["States"]["Evaluate"]["Parameters"]

    assert preprocess["AppSpecification"] == {
        "ImageUri": SKLEARN_IMAGE,
        "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
    }
    assert evaluate["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/evaluate.py",
    ]
    assert [
        (item["InputName"], item["S3Input"].get("S3Uri.$", item["S3Input"].get("S3Uri")))
        for item in evaluate["ProcessingInputs"]
    ] == [
        ("code", "$.run.code_prefix"),
        ("model", "$.training.ModelArtifacts.S3ModelArtifacts"),
        ("test", "States.Format('{}validation/', $.run.processed_prefix)"),
    ]
    assert preprocess["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
    assert evaluate["ProcessingOutputConfig"]["KmsKeyId"] == KEY


def test_job_names_derive_from_the_execution_name(churn, iris) -> None:
    churn_run = churn["States"]["Initialize"]["Parameters"]
    iris_run = iris["States"]["Initialize"]["Parameters"]

    assert churn["States"]["Initialize"]["ResultPath"] == "$.run"
    assert churn_run["id.$"] == "$$.Execution.Name"
    # the MD5 of the execution name keeps every name within SageMaker's 63 characters (run_names)
    assert churn_run["training_job.$"] == "States.Format('churn-xgb-{}-train', States.Hash($$.Execution.Name, 'MD5'))"
    assert churn["States"]["Train"]["Parameters"]["TrainingJobName.$"] == "$.run.training_job"
    assert (
        iris_run["preprocessing_job.$"]
        == "States.Format('iris-sklearn-{}-prep', States.Hash($$.Execution.Name, 'MD5'))"
    )
    assert (
        iris_run["evaluation_job.$"] == "States.Format('iris-sklearn-{}-eval', States.Hash($$.Execution.Name, 'MD5'))"
    )
    assert iris["States"]["Preprocess"]["Parameters"]["ProcessingJobName.$"] == "$.run.preprocessing_job"
    assert iris["States"]["Evaluate"]["Parameters"]["ProcessingJobName.$"] == "$.run.evaluation_job"


def test_packaged_code_is_read_from_the_build_of_the_pipeline_execution(iris) -> None:
    run = iris["States"]["Initialize"]["Parameters"]

    assert run["source_dir.$"] == (
        f"States.Format('s3://{BUCKET_NAME}/iris-sklearn/source/{{}}/sourcedir.tar.gz', $.PipelineExecutionId)"
    )
    assert run["code_prefix.$"] == (
        f"States.Format('s3://{BUCKET_NAME}/iris-sklearn/source/{{}}/src/', $.PipelineExecutionId)"
    )


# ---- quality gate ----------------------------------------------------------------------------------


def test_churn_gate_requires_validation_auc_of_at_least_0_8_from_the_training_metrics(churn) -> None:
    assert churn["States"]["ExtractTrainingMetrics"]["Parameters"] == {
        "source": "training_metrics",
        "metrics": {"validation_auc.$": "$.training.FinalMetricDataList[?(@.MetricName == 'validation:auc')].Value"},
    }
    assert churn["States"]["QualityGate validation_auc"] == {
        "Type": "Choice",
        "Choices": [
            {
                "Not": {"Variable": "$.evaluation.metrics.validation_auc[0]", "IsPresent": True},
                "Next": "NotifyMetricMissing0",
            },
            {
                "Variable": "$.evaluation.metrics.validation_auc[0]",
                "NumericGreaterThanEquals": 0.8,
                "Next": "RegisterModel",
            },
        ],
        "Default": "NotifyRejected0",
    }


def test_iris_gate_checks_three_metrics_including_the_subclass_min_class_recall(iris) -> None:
    assert [
        (name, state["Choices"][1]["Variable"], state["Choices"][1]["NumericGreaterThanEquals"])
        for name, state in gates(iris)
    ] == [
        ("QualityGate metrics_accuracy", "$.evaluation.metrics.metrics.accuracy", 0.9),
        ("QualityGate metrics_macro_f1", "$.evaluation.metrics.metrics.macro_f1", 0.85),
        ("QualityGate metrics_min_class_recall", "$.evaluation.metrics.metrics.min_class_recall", 0.8),
    ]


def test_every_gate_choice_checks_that_its_metric_is_present_first(churn, iris) -> None:
    checked = []
    for workflow in (churn, iris):
        for index, (_, state) in enumerate(gates(workflow)):
            metric = state["Choices"][1]["Variable"]
            assert len(state["Choices"]) == 2
            assert state["Choices"][0] == {
                "Not": {"Variable": metric, "IsPresent": True},
                "Next": f"NotifyMetricMissing{index}",
            }
            assert state["Default"] == f"NotifyRejected{index}"
            checked.append(metric)
    assert len(checked) == 4


def test_a_metric_below_its_threshold_notifies_and_fails_without_registering(churn) -> None:
    states = churn["States"]

    assert states["NotifyRejected0"]["Resource"] == SNS_PUBLISH
    assert states["NotifyRejected0"]["Parameters"] == {
        "TopicArn": TOPIC,
        "Message.$": "States.Format('churn-xgb training workflow stopped at QualityGate validation_auc: "
        "validation:auc = {} does not meet >= 0.8; nothing was registered{}Execution: "
        "https://{}.console.aws.amazon.com/states/home?region={}#/v2/executions/details/{}', "
        "$.evaluation.metrics.validation_auc[0], States.Base64Decode('Cg=='), "
        "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 3), "
        "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 3), $$.Execution.Id)",
        "Subject": "cdk-mlops: churn-xgb",
    }
    assert states["NotifyRejected0"]["Next"] == "Rejected0"
    assert states["Rejected0"] == {
        "Type": "Fail",
        "Error": "QualityGateRejected",
        "Cause": "validation:auc does not meet >= 0.8",
    }


def test_a_missing_metric_notifies_and_fails_as_metric_missing(churn) -> None:
    states = churn["States"]

    assert states["NotifyMetricMissing0"]["Next"] == "MetricMissing0"
    assert states["MetricMissing0"] == {
        "Type": "Fail",
        "Error": "MetricMissing",
        "Cause": "metric validation:auc is missing from the evaluation",
    }


# ---- retries and failure handling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected_tasks"),
    [
        ("churn", {"Train", "RegisterModel"}),
        ("iris", {"Preprocess", "Train", "Evaluate", "ReadEvaluationReport", "RegisterModel"}),
    ],
)
def test_every_task_retries_throttling_with_backoff_and_catches_into_notify_failure(
    request, model: str, expected_tasks: set[str]
) -> None:
    workflow = request.getfixturevalue(model)
    tasks = {name: state for name, state in task_states(workflow).items() if not name.startswith("Notify")}

    assert set(tasks) == expected_tasks
    for name, state in tasks.items():
        throttling = [
            rule
            for rule in state["Retry"]
            if set(error_names.for_resource(state["Resource"]).throttling) <= set(rule["ErrorEquals"])
        ]
        assert len(throttling) == 1, name
        assert throttling[0]["BackoffRate"] == 2, name
        assert throttling[0]["MaxAttempts"] == 4, name
        assert state["Catch"] == [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.error",
                "Assign": {"failedState": name},
                "Next": "DescribeFailure",
            }
        ]


def test_sagemaker_jobs_also_retry_when_the_account_is_out_of_capacity(iris) -> None:
    for name in ("Preprocess", "Train", "Evaluate"):
        assert {
            "ErrorEquals": ["SageMaker.ResourceLimitExceededException"],
            "IntervalSeconds": 60,
            "MaxAttempts": 3,
            "BackoffRate": 2,
        } in iris["States"][name]["Retry"], name


def test_notification_tasks_neither_retry_nor_catch(churn, iris) -> None:
    notifications = [
        state
        for workflow in (churn, iris)
        for name, state in task_states(workflow).items()
        if name.startswith("Notify")
    ]

    # One failure handler per workflow, and a rejected and a missing notification per gate (churn 1, iris 3).
    assert len(notifications) == (1 + 2 * 1) + (1 + 2 * 3)
    for state in notifications:
        assert state["Resource"] == SNS_PUBLISH
        assert state["Parameters"]["TopicArn"] == TOPIC
        assert "Catch" not in state
        assert state["ResultPath"] is None


def test_failures_are_notified_with_the_state_reason_and_execution_then_fail(churn) -> None:
    states = churn["States"]

    region = "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 3)"
    assert states["NotifyFailure"]["Parameters"]["Message.$"] == (
        "States.Format('churn-xgb training workflow failed at {}: {}{}Execution: "
        "https://{}.console.aws.amazon.com/states/home?region={}#/v2/executions/details/{}{}{}Error: {}', "
        f"$failedState, $.failure.reason, States.Base64Decode('Cg=='), {region}, {region}, $$.Execution.Id, "
        "$.failure.logs, States.Base64Decode('Cg=='), $.error.Error)"
    )
    # a failed training job's notification names its log group and stream prefix (failure_notice.FailurePath)
    assert states["ReadTrainingJobFailure"]["Parameters"]["logs.$"] == (
        "States.Format('{}Logs: CloudWatch log group /aws/sagemaker/TrainingJobs, log streams {}/*', "
        "States.Base64Decode('Cg=='), $.failure.cause.TrainingJobName)"
    )
    assert states["NotifyFailure"]["Next"] == "WorkflowFailed"
    assert states["WorkflowFailed"] == {"Type": "Fail", "Error": "TrainingWorkflowFailed", "CausePath": "$.error.Cause"}


# ---- registration ----------------------------------------------------------------------------------


def test_register_model_creates_a_pending_package_once_per_execution(churn) -> None:
    register = churn["States"]["RegisterModel"]

    assert register["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sagemaker:createModelPackage"
    assert register["Parameters"]["ModelPackageGroupName"] == "churn-xgb"
    assert register["Parameters"]["ModelApprovalStatus"] == "PendingManualApproval"
    # at most 36 characters of [a-zA-Z0-9-] (CreateModelPackage): the MD5 of group and execution name
    assert register["Parameters"]["ClientToken.$"] == (
        "States.Hash(States.Format('churn-xgb/{}', $$.Execution.Name), 'MD5')"
    )
    assert register["Parameters"]["CustomerMetadataProperties"] == {
        "validation:auc.$": "States.JsonToString($.evaluation.metrics.validation_auc[0])"
    }
    assert register["Parameters"]["InferenceSpecification"]["Containers"] == [
        {"Image": XGBOOST_IMAGE, "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts"}
    ]
    assert register["ResultSelector"] == {"ModelPackageArn.$": "$.ModelPackageArn"}
    assert register["ResultPath"] == "$.registration"


def test_script_mode_package_serves_the_entry_point_and_records_the_evaluation_report(iris) -> None:
    parameters = iris["States"]["RegisterModel"]["Parameters"]

    assert parameters["InferenceSpecification"]["Containers"] == [
        {
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts",
            "Environment": {"SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY.$": "$.run.source_dir"},
        }
    ]
    assert parameters["ModelMetrics"] == {
        "ModelQuality": {
            "Statistics": {
                "ContentType": "application/json",
                "S3Uri.$": f"States.Format('s3://{BUCKET_NAME}/{{}}', $.run.evaluation_key)",
            }
        }
    }


def test_workflow_outputs_the_registered_package_for_the_deploy_stages(churn) -> None:
    assert churn["States"]["Result"]["Parameters"] == {
        "ModelPackageArn.$": "$.registration.ModelPackageArn",
        "TrainingJobName.$": "$.training.TrainingJobName",
        "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts",
        "Metrics.$": "$.evaluation.metrics",
        "PipelineExecutionId.$": "$.PipelineExecutionId",
    }
    assert churn["States"]["Result"]["Next"] == "Registered"
    assert churn["States"]["Registered"] == {"Type": "Succeed"}


# ---- the state machine resource -----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["Mlops-churn-xgb-Pipeline", "Mlops-iris-sklearn-Pipeline"])
def test_state_machine_traces_logs_everything_and_is_encrypted_with_the_platform_key(example_app, stack) -> None:
    template = example_app.json[stack]
    properties = state_machine(template, "MlPipelineTraining")
    log_group_id, log_group = construct_resource(template, "AWS::Logs::LogGroup", "MlPipelineTrainingLogs")

    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"] == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}],
        "IncludeExecutionData": True,
        "Level": "ALL",
    }
    assert properties["EncryptionConfiguration"] == {
        "Type": "CUSTOMER_MANAGED_KMS_KEY",
        "KmsKeyId": {"Fn::ImportValue": KEY_EXPORT},
        "KmsDataKeyReusePeriodSeconds": 300,
    }
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::ImportValue": KEY_EXPORT}
    assert log_group["Properties"]["RetentionInDays"] == 365
    assert log_group["DeletionPolicy"] == "Retain"


def test_workflow_timeout_covers_every_job_plus_an_hour(churn, iris) -> None:
    # churn: spot wait 2 x 60 min + 60 min; iris: 30 min training + 2 x 60 min processing + 60 min.
    assert churn["TimeoutSeconds"] == (120 + 60) * 60
    assert iris["TimeoutSeconds"] == (30 + 60 + 60 + 60) * 60


# ---- variants: inference images, own processing images, data location, network isolation ----------

OWN_PREPROCESSING_IMAGE = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/iris-preprocessing:3"
OWN_EVALUATION_IMAGE = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/iris-evaluation:7"
DATA_BUCKET = "churn-training-data"
ARTIFACT_BUCKET_NAME = BUCKET_ARN.removeprefix("arn:aws:s3:::")


@pytest.fixture(scope="module")
def variants() -> dict[str, dict[str, Any]]:
    """Pipeline templates, in one app of their own, of a PyTorch script-mode model (``torch``), of
    iris-sklearn with its own preprocessing and evaluation images (``own_images``), of churn-xgb
    reading its data from another bucket (``data_bucket``) or another prefix (``data_prefix``), and of
    iris-sklearn training with network isolation (``isolated``)."""
    torch = example_config_data("iris-sklearn")
    torch.update(
        name="torch-demo",
        framework={"name": "pytorch", "version": "2.1", "py_version": "py310"},
        pipeline_class=None,
    )
    torch["source"]["path"] = "models/torch-demo"
    own_images = example_config_data("iris-sklearn")
    own_images["pipeline_class"] = None
    own_images["preprocessing"]["image_uri"] = OWN_PREPROCESSING_IMAGE
    own_images["evaluation"]["job"]["image_uri"] = OWN_EVALUATION_IMAGE
    data_bucket = example_config_data("churn-xgb")
    data_bucket["data"] = {"bucket": DATA_BUCKET}
    data_prefix = example_config_data("churn-xgb")
    data_prefix["data"] = {"prefix": "datasets/churn"}
    isolated = example_config_data("iris-sklearn")
    isolated["pipeline_class"] = None
    isolated["training"]["network_isolation"] = True
    app = cdk.App(builtin_cloud_formation_validation=False)
    stacks = {
        name: ModelPipelineStack(
            app,
            f"Variant-{name.replace('_', '-')}",
            model=parse_model_config(data, f"models/{data['name']}/model.yaml"),
            artifact_bucket_arn=BUCKET_ARN,
            encryption_key_arn=KEY_ARN,
            staging_stack_name=f"{data['name']}-Staging",
            production_stack_name=f"{data['name']}-Production",
            pipeline_class=MlPipeline,
            env=cdk.Environment(account=ACCOUNT, region=REGION),
        )
        for name, data in (
            ("torch", torch),
            ("own_images", own_images),
            ("data_bucket", data_bucket),
            ("data_prefix", data_prefix),
            ("isolated", isolated),
        )
    }
    return {name: Template.from_stack(stack).to_json() for name, stack in stacks.items()}


@pytest.fixture(scope="module")
def pytorch_workflow(variants) -> dict[str, Any]:
    return definition(variants["torch"], "MlPipelineTraining")


def test_pytorch_model_trains_with_the_training_image(pytorch_workflow) -> None:
    assert pytorch_workflow["States"]["Train"]["Parameters"]["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
    )


def test_pytorch_model_package_is_served_by_the_inference_image(pytorch_workflow) -> None:
    containers = pytorch_workflow["States"]["RegisterModel"]["Parameters"]["InferenceSpecification"]["Containers"]

    assert [container["Image"] for container in containers] == [
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
    ]


def test_processing_jobs_run_their_own_images_when_configured(variants) -> None:
    workflow = definition(variants["own_images"], "MlPipelineTraining")

    assert workflow["States"]["Preprocess"]["Parameters"]["AppSpecification"]["ImageUri"] == OWN_PREPROCESSING_IMAGE
    assert workflow["States"]["Evaluate"]["Parameters"]["AppSpecification"]["ImageUri"] == OWN_EVALUATION_IMAGE
    assert workflow["States"]["Train"]["Parameters"]["AlgorithmSpecification"]["TrainingImage"] == SKLEARN_IMAGE


def test_sagemaker_role_may_pull_every_image_its_jobs_run(variants) -> None:
    template = variants["own_images"]
    role_id, _ = construct_resource(template, "AWS::IAM::Role", "MlPipelineTrainingSageMakerRole")
    pulls = [s for s in role_statements(template, role_id) if s.allows("ecr:BatchGetImage")]

    assert sorted(render(resource) for s in pulls for resource in s.resources) == [
        f"arn:${{AWS::Partition}}:ecr:eu-west-1:{ACCOUNT}:repository/iris-evaluation",
        f"arn:${{AWS::Partition}}:ecr:eu-west-1:{ACCOUNT}:repository/iris-preprocessing",
        "arn:${AWS::Partition}:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn",
    ]


def test_training_reads_the_data_bucket_named_in_the_config(variants) -> None:
    workflow = definition(variants["data_bucket"], "MlPipelineTraining")
    channels = workflow["States"]["Train"]["Parameters"]["InputDataConfig"]

    assert [channel["DataSource"]["S3DataSource"]["S3Uri"] for channel in channels] == [
        f"s3://{DATA_BUCKET}/churn-xgb/data/train/",
        f"s3://{DATA_BUCKET}/churn-xgb/data/validation/",
    ]


def test_sagemaker_role_may_read_the_data_bucket_named_in_the_config(variants) -> None:
    template = variants["data_bucket"]
    role_id, _ = construct_resource(template, "AWS::IAM::Role", "MlPipelineTrainingSageMakerRole")
    reads = {
        render(resource)
        for s in role_statements(template, role_id)
        if s.allows("s3:GetObject")
        for resource in s.resources
    }

    # The bucket's ARN may be literal (arn:aws:...) or partition-aware (arn:${AWS::Partition}:...).
    assert [read for read in sorted(reads) if read.endswith(f":s3:::{DATA_BUCKET}/churn-xgb/data/*")] != []


def test_data_prefix_without_trailing_slash_still_holds_the_channels(variants) -> None:
    workflow = definition(variants["data_prefix"], "MlPipelineTraining")
    channels = workflow["States"]["Train"]["Parameters"]["InputDataConfig"]

    assert [channel["DataSource"]["S3DataSource"]["S3Uri"] for channel in channels] == [
        f"s3://{ARTIFACT_BUCKET_NAME}/datasets/churn/train/",
        f"s3://{ARTIFACT_BUCKET_NAME}/datasets/churn/validation/",
    ]


def test_isolated_script_mode_training_gets_its_code_as_an_input_channel(variants) -> None:
    """A network-isolated container cannot download ``sourcedir.tar.gz`` from S3 itself; the SageMaker
    SDK passes the code as the ``code`` channel and points ``sagemaker_submit_directory`` at it."""
    train = definition(variants["isolated"], "MlPipelineTraining")["States"]["Train"]["Parameters"]
    channels = {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"].get("S3Uri.$")
        for channel in train["InputDataConfig"]
    }

    assert train["EnableNetworkIsolation"] is True
    assert channels.get("code") == "$.run.source_dir"
    assert train["HyperParameters"].get("sagemaker_submit_directory") == '"/opt/ml/input/data/code/sourcedir.tar.gz"'


# ---- jobs in a VPC ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vpc_template() -> dict[str, Any]:
    """churn-xgb's ``MlPipeline`` with its SageMaker jobs placed in the isolated subnets of a VPC."""
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3

    from cdk_mlops.config import load_model_config
    from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig
    from cdk_mlops_testing import MODELS_DIR

    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "VpcJobs", env=cdk.Environment(account=ACCOUNT, region=REGION))
    vpc = ec2.Vpc(
        stack,
        "Network",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="jobs", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    group = ec2.SecurityGroup(stack, "JobsGroup", vpc=vpc)
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    bucket = s3.Bucket.from_bucket_attributes(stack, "Bucket", bucket_arn=BUCKET_ARN, encryption_key=key)
    MlPipeline(
        stack,
        "MlPipeline",
        model=load_model_config(MODELS_DIR / "churn-xgb" / "model.yaml"),
        artifact_bucket=bucket,
        encryption_key=key,
        staging_stack_name="Mlops-churn-xgb-Staging",
        production_stack_name="Mlops-churn-xgb-Production",
        network=JobNetworkConfig(
            vpc=vpc,
            subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[group],
        ),
    )
    return Template.from_stack(stack).to_json()


def test_training_job_runs_in_the_configured_subnets_and_security_groups(vpc_template) -> None:
    workflow = definition(vpc_template, "MlPipelineTraining")
    subnets = sorted(
        key for key, resource in vpc_template["Resources"].items() if resource["Type"] == "AWS::EC2::Subnet"
    )
    group_id, _ = construct_resource(vpc_template, "AWS::EC2::SecurityGroup", "JobsGroup")

    assert len(subnets) == 2
    assert workflow["States"]["Train"]["Parameters"]["VpcConfig"] == {
        "Subnets": [f"${{{subnet}}}" for subnet in subnets],
        "SecurityGroupIds": [f"${{{group_id}.GroupId}}"],
    }


def test_sagemaker_role_may_create_the_network_interfaces_of_jobs_in_a_vpc(vpc_template) -> None:
    role_id, _ = construct_resource(vpc_template, "AWS::IAM::Role", "MlPipelineTrainingSageMakerRole")
    actions = {action for statement in role_statements(vpc_template, role_id) for action in statement.actions}

    # What SageMaker needs to attach a training or processing job to a VPC.
    assert {
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    } <= actions
