"""Batch models (``inference: batch``): the fraud-batch example's pipeline ends in a batch transform
workflow (``BatchTransformWorkflow``) instead of endpoint deployments; the workflow scores the input
prefix with a transform job, from the package the release trained or, on its schedule, the newest
Approved one, and records the release like a production deploy. Plus ``TransformJobTask`` on its own."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template

from cdk_mlops.config import parse_model_config
from cdk_mlops.constructs.sagemaker_tasks import TransformJobTask
from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
from cdk_mlops_testing import (
    ACCOUNT,
    BUCKET_ARN,
    BUCKET_NAME,
    KEY,
    KEY_ARN,
    REGION,
    assert_matches,
    construct_resource,
    definition,
    example_config_data,
    happy_path,
    only_resource,
    render,
    resources,
    role_statements,
    state_machine,
    state_machine_role_id,
)

STACK = "Mlops-fraud-batch-Pipeline"
ARN = "arn:${AWS::Partition}:sagemaker:eu-west-1:${AWS::AccountId}"
ARTIFACTS = "${Import(Mlops-Platform:ExportsOutputFnGetAttArtifacts82DD59A1Arn3B515032)}"
SAGEMAKER_ROLE = "MlPipelineTrainingSageMakerRole7CA84B02"
PACKAGE = "$.package.ModelPackageArn"


@pytest.fixture(scope="module")
def template(example_app) -> dict[str, Any]:
    return example_app.json[STACK]


@pytest.fixture(scope="module")
def batch(template) -> dict[str, Any]:
    return definition(template, "MlPipelineBatchTransform")


@pytest.fixture(scope="module")
def states(batch) -> dict[str, Any]:
    return batch["States"]


def pipeline_of(template: dict[str, Any]) -> dict[str, Any]:
    return only_resource(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]


# ---- the pipeline and the stacks of a batch model ----------------------------------------------------------


def test_batch_model_pipeline_ends_with_an_approval_and_the_batch_transform(template) -> None:
    stages = pipeline_of(template)["Stages"]

    assert [
        (
            stage["Name"],
            [(a["Name"], a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for a in stage["Actions"]],
        )
        for stage in stages
    ] == [
        ("Source", [("Source", "Source", "CodeStarSourceConnection")]),
        ("BuildAndTest", [("TestAndPackage", "Build", "CodeBuild")]),
        ("Train", [("TrainEvaluateRegister", "Invoke", "StepFunctions")]),
        ("ManualApproval", [("ApproveBatchTransform", "Approval", "Manual")]),
        ("BatchTransform", [("RunBatchTransform", "Invoke", "StepFunctions")]),
    ]
    approval = stages[3]["Actions"][0]["Configuration"]
    assert approval["CustomData"] == (
        "Model fraud-batch passed its quality gate. Approve to score new data with it in a batch transform."
    )


def test_batch_transform_action_starts_the_workflow_with_the_training_execution(template) -> None:
    [stage] = [s for s in pipeline_of(template)["Stages"] if s["Name"] == "BatchTransform"]
    configuration = stage["Actions"][0]["Configuration"]
    workflow_id, _ = construct_resource(template, "AWS::StepFunctions::StateMachine", "MlPipelineBatchTransform")

    assert configuration["StateMachineArn"] == {"Ref": workflow_id}
    assert_matches(
        configuration["Input"], Match.serialized_json({"TrainingExecutionArn": "#{TrainVariables.ExecutionArn}"})
    )


def test_batch_model_has_training_and_batch_transform_workflows_and_no_endpoint_workflows(template, batch) -> None:
    machines = sorted(resources(template, "AWS::StepFunctions::StateMachine"))

    assert [machine[:-8] for machine in machines] == ["MlPipelineBatchTransform", "MlPipelineTraining"]
    assert batch["Comment"] == "Scores new data with model fraud-batch in a batch transform job"
    assert batch["TimeoutSeconds"] == 24 * 60 * 60
    assert state_machine(template, "MlPipelineBatchTransform")["TracingConfiguration"] == {"Enabled": True}


def test_dashboard_counts_batch_transforms_as_releases_and_shows_both_workflows(template) -> None:
    _, dashboard = only_resource(template, "AWS::CloudWatch::Dashboard")
    widgets = {
        w["properties"].get("title"): w["properties"]
        for w in json.loads(render(dashboard["Properties"]["DashboardBody"]))["widgets"]
    }
    batch_id, _ = construct_resource(template, "AWS::StepFunctions::StateMachine", "MlPipelineBatchTransform")
    training_id, _ = construct_resource(template, "AWS::StepFunctions::StateMachine", "MlPipelineTraining")

    assert widgets["fraud-batch: pipeline executions"]["metrics"][0][:4] == [
        "AWS/States",
        "ExecutionsSucceeded",
        "StateMachineArn",
        f"${{{batch_id}}}",
    ]
    assert [m[3] for m in widgets["Training executions"]["metrics"]] == [f"${{{training_id}}}"] * 2
    assert [m[3] for m in widgets["Batch transform executions"]["metrics"]] == [f"${{{batch_id}}}"] * 2
    assert "Deploy production executions" not in widgets
    # no endpoint, so no rollback alarms: only the training-failure alarm
    assert len(widgets["Alarms"]["alarms"]) == 1


# ---- the workflow's paths -------------------------------------------------------------------------------------


def test_a_pipeline_run_scores_with_the_trained_package_then_records_the_release(batch) -> None:
    assert happy_path(
        batch, {"TrainedByPipeline?": "ResolveModelPackage", "RecordPromotion?": "ApproveModelPackage"}
    ) == [
        "Initialize",
        "TrainedByPipeline?",
        "ResolveModelPackage",
        "UseTrainedPackage",
        "CreateModel",
        "Transform",
        "RecordPromotion?",
        "ApproveModelPackage",
        "TagRelease",
        "DeleteModel",
        "NotifySucceeded",
        "BatchTransformed",
    ]


def test_a_scheduled_run_scores_with_the_newest_approved_package_and_records_nothing(batch) -> None:
    assert happy_path(
        batch,
        {
            "TrainedByPipeline?": "FindApprovedPackage",
            "ApprovedPackageFound?": "UseApprovedPackage",
            "RecordPromotion?": "DeleteModel",
        },
    ) == [
        "Initialize",
        "TrainedByPipeline?",
        "FindApprovedPackage",
        "ApprovedPackageFound?",
        "UseApprovedPackage",
        "CreateModel",
        "Transform",
        "RecordPromotion?",
        "DeleteModel",
        "NotifySucceeded",
        "BatchTransformed",
    ]


def test_the_pipeline_path_is_chosen_by_the_presence_of_the_training_execution(states) -> None:
    for choice, when_present, otherwise in (
        ("TrainedByPipeline?", "ResolveModelPackage", "FindApprovedPackage"),
        ("RecordPromotion?", "ApproveModelPackage", "DeleteModel"),
    ):
        assert states[choice]["Choices"] == [
            {"Variable": "$.TrainingExecutionArn", "IsPresent": True, "Next": when_present}
        ]
        assert states[choice]["Default"] == otherwise


def test_the_trained_package_is_resolved_from_the_training_execution_as_the_deploy_workflows_do(
    example_app, states
) -> None:
    churn_deploy = definition(example_app.json["Mlops-churn-xgb-Pipeline"], "MlPipelineDeployProduction")
    resolve = states["ResolveModelPackage"]

    assert resolve["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sfn:describeExecution"
    assert {key: resolve[key] for key in ("Parameters", "ResultSelector", "ResultPath")} == {
        key: churn_deploy["States"]["ResolveModelPackage"][key]
        for key in ("Parameters", "ResultSelector", "ResultPath")
    }
    assert states["UseTrainedPackage"]["Parameters"] == {
        "ModelPackageArn.$": "$.training.output.ModelPackageArn",
        "PipelineExecutionId.$": "$.training.output.PipelineExecutionId",
    }
    assert states["UseTrainedPackage"]["ResultPath"] == "$.package"


def test_the_newest_approved_package_of_the_group_is_listed(states) -> None:
    find = states["FindApprovedPackage"]

    assert find["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sagemaker:listModelPackages"
    assert find["Parameters"] == {
        "ModelPackageGroupName": "fraud-batch",
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 1,
    }
    assert find["ResultSelector"] == {"packages.$": "$.ModelPackageSummaryList"}
    assert states["ApprovedPackageFound?"]["Choices"] == [
        {"Variable": "$.approved.packages[0]", "IsPresent": True, "Next": "UseApprovedPackage"}
    ]
    assert states["UseApprovedPackage"]["Parameters"] == {"ModelPackageArn.$": "$.approved.packages[0].ModelPackageArn"}


def test_no_approved_package_notifies_and_fails_with_its_own_error(states) -> None:
    assert states["ApprovedPackageFound?"]["Default"] == "NotifyNoApprovedPackage"
    notify = states["NotifyNoApprovedPackage"]
    assert notify["Parameters"]["Message.$"].startswith(
        "States.Format('fraud-batch batch transform failed at ApprovedPackageFound?: "
        "no Approved package in model package group fraud-batch{}Execution: "
    )
    assert notify["Next"] == "NoApprovedPackage"
    assert states["NoApprovedPackage"] == {
        "Type": "Fail",
        "Error": "NoApprovedPackage",
        "Cause": "model package group fraud-batch has no Approved package",
    }


def test_names_and_the_output_path_derive_from_the_execution_name_and_the_input_from_its_start_date(
    states,
) -> None:
    assert states["Initialize"]["Parameters"] == {
        "name.$": "States.Format('fraud-batch-{}-batch', States.Hash($$.Execution.Name, 'MD5'))",
        "output_path.$": f"States.Format('s3://{BUCKET_NAME}/fraud-batch/batch/output/{{}}/', $$.Execution.Name)",
        # date_partition: true in fraud-batch: the UTC date part of the ISO-8601 start time
        "input_uri.$": f"States.Format('s3://{BUCKET_NAME}/fraud-batch/batch/input/{{}}/', "
        "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0))",
    }
    assert states["Initialize"]["ResultPath"] == "$.run"


def test_the_model_is_created_from_the_package_and_runs_as_the_sagemaker_role(states) -> None:
    create = states["CreateModel"]

    assert create["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sagemaker:createModel"
    assert create["Parameters"] == {
        "ModelName.$": "$.run.name",
        "Containers": [{"ModelPackageName.$": PACKAGE}],
        "ExecutionRoleArn": f"${{{SAGEMAKER_ROLE}.Arn}}",
    }
    assert states["DeleteModel"]["Parameters"] == {"ModelName.$": "$.run.name"}
    assert states["DeleteModelAfterFailure"]["Parameters"] == {"ModelName.$": "$.run.name"}


def test_transform_job_parameters_come_from_the_batch_section(states) -> None:
    transform = states["Transform"]

    assert transform["Resource"] == "arn:${AWS::Partition}:states:::sagemaker:createTransformJob.sync"
    assert transform["Parameters"] == {
        "TransformJobName.$": "$.run.name",
        "ModelName.$": "$.run.name",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": "$.run.input_uri"}},
            "SplitType": "Line",
            "ContentType": "text/csv",
        },
        "TransformOutput": {
            "S3OutputPath.$": "$.run.output_path",
            "AssembleWith": "Line",
            "Accept": "text/csv",
            "KmsKeyId": KEY,
        },
        "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeKmsKeyId": KEY},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
        "MaxConcurrentTransforms": 4,
    }
    assert transform["ResultPath"] == "$.transform"


def test_promotion_record_approves_and_tags_the_package_as_a_production_deploy_does(example_app, states) -> None:
    deploy = definition(example_app.json["Mlops-churn-xgb-Pipeline"], "MlPipelineDeployProduction")["States"]

    assert states["ApproveModelPackage"]["Parameters"] == {
        "ModelPackageArn.$": PACKAGE,
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription.$": "States.Format('Scored new data in batch by {}', $$.Execution.Id)",
    }
    assert states["TagRelease"]["Parameters"] == {
        "ResourceArn.$": PACKAGE,
        "Tags": [
            {"Key": "cdk-mlops:pipeline-execution", "Value.$": "$.package.PipelineExecutionId"},
            {"Key": "cdk-mlops:deployed-by", "Value.$": "$$.Execution.Name"},
        ],
    }
    for name in ("ApproveModelPackage", "TagRelease"):
        assert states[name]["Resource"] == deploy[name]["Resource"]
        assert states[name]["Retry"] == deploy[name]["Retry"]
        assert states[name]["ResultPath"] is None
    assert [tag["Key"] for tag in deploy["TagRelease"]["Parameters"]["Tags"]] == [
        "cdk-mlops:pipeline-execution",
        "cdk-mlops:deployed-by",
    ]


def test_every_task_retries_and_errors_after_the_model_exists_delete_it_before_notifying(states) -> None:
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task" and not name.startswith("Notify")}
    catch_targets = {name: [c["Next"] for c in state["Catch"]] for name, state in tasks.items()}

    assert all(state["Retry"] for state in tasks.values())
    assert catch_targets == {
        "ResolveModelPackage": ["DescribeFailure"],
        "FindApprovedPackage": ["DescribeFailure"],
        "CreateModel": ["DescribeFailure"],
        "Transform": ["DeleteModelAfterFailure"],
        "ApproveModelPackage": ["DeleteModelAfterFailure"],
        "TagRelease": ["DeleteModelAfterFailure"],
        "DeleteModel": ["DescribeFailure"],
        "DeleteModelAfterFailure": ["DescribeFailure"],
    }
    # each catch names its state for the notification; the clean-up keeps the failed state's name
    for name, state in tasks.items():
        assigned = state["Catch"][0].get("Assign")
        assert assigned == (None if name == "DeleteModelAfterFailure" else {"failedState": name}), name
    # a failed clean-up keeps the first error for the notification
    assert states["DeleteModelAfterFailure"]["Catch"][0]["ResultPath"] == "$.cleanupError"
    assert states["DeleteModelAfterFailure"]["Next"] == "DescribeFailure"
    assert states["Transform"]["Retry"][1]["ErrorEquals"] == ["SageMaker.ResourceLimitExceededException"]
    assert states["NotifyFailure"]["Next"] == "BatchTransformFailed"
    assert states["BatchTransformFailed"] == {
        "Type": "Fail",
        "Error": "BatchTransformFailed",
        "CausePath": "$.error.Cause",
    }


def test_success_is_notified_with_the_output_path_and_the_package(states) -> None:
    message = states["NotifySucceeded"]["Parameters"]["Message.$"]

    assert message == (
        "States.Format('Batch transform of model fraud-batch ({}) wrote its results to {} (model package {})', "
        "$$.Execution.Name, $.run.output_path, $.package.ModelPackageArn)"
    )


# ---- IAM ------------------------------------------------------------------------------------------------------


def test_workflow_role_is_scoped_to_the_model_names_and_its_package_group(template) -> None:
    role = state_machine_role_id(template, "MlPipelineBatchTransform")
    granted: dict[str, list[str]] = {}
    for statement in role_statements(template, role):
        for action in statement.actions:
            if action.split(":")[0] in ("sagemaker", "states"):
                granted[action] = [render(resource) for resource in statement.resources]

    assert granted == {
        "sagemaker:CreateTransformJob": [f"{ARN}:transform-job/fraud-batch-*"],
        "sagemaker:DescribeTransformJob": [f"{ARN}:transform-job/fraud-batch-*"],
        "sagemaker:StopTransformJob": [f"{ARN}:transform-job/fraud-batch-*"],
        "sagemaker:AddTags": [f"{ARN}:transform-job/fraud-batch-*"],
        "sagemaker:createModel": [f"{ARN}:model/fraud-batch-*"],
        "sagemaker:deleteModel": [f"{ARN}:model/fraud-batch-*"],
        "sagemaker:DescribeModelPackage": [f"{ARN}:model-package/fraud-batch/*"],
        "sagemaker:updateModelPackage": [f"{ARN}:model-package/fraud-batch/*"],
        "sagemaker:addTags": [f"{ARN}:model-package/fraud-batch/*"],
        "sagemaker:ListModelPackages": ["*"],  # no resource-level permissions
        "states:DescribeExecution": [
            "arn:${AWS::Partition}:states:eu-west-1:${AWS::AccountId}:execution:"
            "${Select(6,Split(:,MlPipelineTrainingE4186D57))}:*"
        ],
    }


def test_workflow_passes_only_the_sagemaker_role_and_only_to_sagemaker(template) -> None:
    role = state_machine_role_id(template, "MlPipelineBatchTransform")
    passes = [s for s in role_statements(template, role) if s.allows("iam:PassRole")]

    assert [(render(s.body["Resource"]), s.body["Condition"]) for s in passes] == [
        (f"${{{SAGEMAKER_ROLE}.Arn}}", {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})
    ]


def test_sagemaker_role_lists_and_reads_the_input_prefix_and_writes_the_output_prefix(template) -> None:
    statements = role_statements(template, SAGEMAKER_ROLE)
    reads = {render(r) for s in statements if s.allows("s3:GetObject") for r in s.resources}
    writes = {render(r) for s in statements if s.allows("s3:PutObject") for r in s.resources}
    listed = [s.body["Condition"]["StringLike"]["s3:prefix"] for s in statements if s.allows("s3:ListBucket")]

    assert f"{ARTIFACTS}/fraud-batch/batch/input/*" in reads
    assert f"{ARTIFACTS}/fraud-batch/batch/input/*" not in writes
    assert f"{ARTIFACTS}/fraud-batch/batch/output/*" in writes
    assert ["fraud-batch/batch/input/*"] in listed


def test_schedule_starts_the_workflow_nightly_with_empty_input(template) -> None:
    _, schedule = only_resource(template, "AWS::Scheduler::Schedule")
    workflow_id, _ = construct_resource(template, "AWS::StepFunctions::StateMachine", "MlPipelineBatchTransform")
    properties = schedule["Properties"]

    assert properties["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert properties["Target"]["Arn"] == {"Ref": workflow_id}
    assert properties["Target"]["Input"] == "{}"
    role_id = properties["Target"]["RoleArn"]["Fn::GetAtt"][0]
    [statement] = role_statements(template, role_id)
    assert statement.actions == ["states:StartExecution"]
    assert statement.resources == [{"Ref": workflow_id}]
    trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert all(s["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"} for s in trust)


# ---- other batch sections -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def landing_zone() -> dict[str, Any]:
    """fraud-batch reading its input from a data bucket of its own, with no schedule and defaults elsewhere."""
    data = example_config_data("fraud-batch")
    data["data"]["bucket"] = "fraud-landing-zone"
    data["batch"] = {"input_prefix": "daily/", "output_prefix": "scores/", "split_type": "None"}
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = ModelPipelineStack(
        app,
        "FraudLandingZone",
        model=parse_model_config(data, "models/fraud-batch/model.yaml"),
        artifact_bucket_arn=BUCKET_ARN,
        encryption_key_arn=KEY_ARN,
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )
    return Template.from_stack(stack).to_json()


def test_without_a_schedule_there_is_no_schedule(landing_zone) -> None:
    assert resources(landing_zone, "AWS::Scheduler::Schedule") == {}
    assert len(resources(landing_zone, "AWS::StepFunctions::StateMachine")) == 2


def test_input_comes_from_the_data_bucket_and_results_go_to_the_artifact_bucket(landing_zone) -> None:
    states = definition(landing_zone, "MlPipelineBatchTransform")["States"]
    parameters = states["Transform"]["Parameters"]

    assert parameters["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://fraud-landing-zone/daily/"
    assert "input_uri.$" not in states["Initialize"]["Parameters"]  # no date_partition: the whole prefix
    assert parameters["TransformInput"]["SplitType"] == "None"
    assert "MaxConcurrentTransforms" not in parameters  # SageMaker's choice by default
    assert parameters["TransformResources"]["InstanceType"] == "ml.m5.large"
    assert states["Initialize"]["Parameters"]["output_path.$"] == (
        "States.Format('s3://mlops-artifacts/scores/{}/', $$.Execution.Name)"
    )
    statements = role_statements(landing_zone, SAGEMAKER_ROLE)
    reads = {render(r) for s in statements if s.allows("s3:GetObject") for r in s.resources}
    writes = {render(r) for s in statements if s.allows("s3:PutObject") for r in s.resources}
    assert "arn:${AWS::Partition}:s3:::fraud-landing-zone/daily/*" in reads
    assert "arn:aws:s3:::mlops-artifacts/scores/*" in writes
    assert not any("fraud-landing-zone" in resource for resource in writes)


# ---- TransformJobTask -----------------------------------------------------------------------------------------


def test_transform_job_task_renders_literals_and_leaves_out_what_is_not_given() -> None:
    stack = cdk.Stack(cdk.App(), "Tasks", env=cdk.Environment(account=ACCOUNT, region=REGION))
    task = TransformJobTask(
        stack,
        "Score",
        job_name="nightly-scores",
        job_name_prefix="nightly-",
        model_name="$.model",
        input_s3_uri="s3://in/",
        output_s3_uri="$.out",
        environment={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
    )

    state = task.to_state_json()
    assert state["Parameters"] == {
        "TransformJobName": "nightly-scores",
        "ModelName.$": "$.model",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://in/"}},
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath.$": "$.out", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
        "Environment": {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
    }
    assert state["ResultPath"] == "$.transform"
    actions = [action for statement in task.task_policies for action in statement.to_statement_json()["Action"]]
    assert "iam:PassRole" not in actions  # a transform job runs as its model's role
    assert "sagemaker:CreateTransformJob" in actions


def test_transform_job_task_encrypts_output_and_volume_with_the_given_key() -> None:
    stack = cdk.Stack(cdk.App(), "Tasks", env=cdk.Environment(account=ACCOUNT, region=REGION))
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    task = TransformJobTask(
        stack,
        "Score",
        job_name="$.name",
        job_name_prefix="nightly-",
        model_name="nightly-model",
        input_s3_uri="$.in",
        output_s3_uri="s3://out/",
        encryption_key=key,
        max_concurrent_transforms=2,
    )
    sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(task))

    parameters = task.to_state_json()["Parameters"]
    assert parameters["TransformOutput"]["KmsKeyId"] == KEY_ARN
    assert parameters["TransformResources"]["VolumeKmsKeyId"] == KEY_ARN
    assert parameters["MaxConcurrentTransforms"] == 2
    assert parameters["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.in"


def test_an_endpoint_model_still_needs_the_names_of_its_endpoint_stacks() -> None:
    data = example_config_data("churn-xgb")
    app = cdk.App(builtin_cloud_formation_validation=False)

    with pytest.raises(ValueError, match="staging_stack_name and production_stack_name are required"):
        ModelPipelineStack(
            app,
            "ChurnWithoutEndpoints",
            model=parse_model_config(data, "models/churn-xgb/model.yaml"),
            artifact_bucket_arn=BUCKET_ARN,
            encryption_key_arn=KEY_ARN,
            env=cdk.Environment(account=ACCOUNT, region=REGION),
        )
