"""The release pipeline ``MlPipeline`` creates (``AWS::CodePipeline::Pipeline``): stages, trigger,
encryption and the variables passed between actions; and the source variants of ``bind_source``."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from cdk_mlops.config import parse_model_config
from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
from cdk_mlops_testing import (
    ACCOUNT,
    BUCKET_ARN,
    KEY_ARN,
    KEY_EXPORT,
    REGION,
    assert_matches,
    construct_resource,
    example_config_data,
    only_resource,
    role_statements,
)

STAGES = ["Source", "BuildAndTest", "Train", "DeployStaging", "SmokeTest", "ManualApproval", "DeployProduction"]


@pytest.fixture(scope="module")
def churn(example_app) -> Template:
    return example_app.templates["Mlops-churn-xgb-Pipeline"]


@pytest.fixture(scope="module")
def pipeline(example_app) -> dict[str, Any]:
    """The churn-xgb pipeline's properties."""
    return only_resource(example_app.json["Mlops-churn-xgb-Pipeline"], "AWS::CodePipeline::Pipeline")[1]["Properties"]


def action(pipeline: dict[str, Any], stage: str) -> dict[str, Any]:
    (found,) = [s for s in pipeline["Stages"] if s["Name"] == stage]
    (only,) = found["Actions"]
    return only


def test_pipeline_is_v2_and_queues_executions_so_releases_never_overlap(churn: Template) -> None:
    churn.resource_count_is("AWS::CodePipeline::Pipeline", 1)
    churn.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {"PipelineType": "V2", "ExecutionMode": "QUEUED", "RestartExecutionOnUpdate": False},
    )


def test_pipeline_stages_run_in_release_order(pipeline) -> None:
    assert [stage["Name"] for stage in pipeline["Stages"]] == STAGES


def test_each_stage_runs_one_action_of_the_expected_kind(pipeline) -> None:
    assert [
        (
            stage["Name"],
            [(a["Name"], a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for a in stage["Actions"]],
        )
        for stage in pipeline["Stages"]
    ] == [
        ("Source", [("Source", "Source", "CodeStarSourceConnection")]),
        ("BuildAndTest", [("TestAndPackage", "Build", "CodeBuild")]),
        ("Train", [("TrainEvaluateRegister", "Invoke", "StepFunctions")]),
        ("DeployStaging", [("DeployStagingEndpoint", "Invoke", "StepFunctions")]),
        ("SmokeTest", [("SmokeTestStaging", "Invoke", "StepFunctions")]),
        ("ManualApproval", [("ApproveProduction", "Approval", "Manual")]),
        ("DeployProduction", [("DeployProductionEndpoint", "Invoke", "StepFunctions")]),
    ]


def test_a_push_to_main_touching_the_model_folder_triggers_the_pipeline(churn: Template) -> None:
    churn.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "Triggers": [
                {
                    "ProviderType": "CodeStarSourceConnection",
                    "GitConfiguration": {
                        "SourceActionName": "Source",
                        "Push": [
                            {
                                "Branches": {"Includes": ["main"]},
                                "FilePaths": {"Includes": Match.array_with(["models/churn-xgb/**"])},
                            }
                        ],
                    },
                }
            ]
        },
    )


def test_source_action_reads_the_configured_repository_without_its_own_change_detection(pipeline) -> None:
    source = action(pipeline, "Source")

    assert source["Configuration"] == {
        "ConnectionArn": "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000",
        "FullRepositoryId": "example-org/ml-models",
        "BranchName": "main",
        "DetectChanges": False,
    }
    assert source["Namespace"] == "SourceVariables"
    assert source["OutputArtifacts"] == [{"Name": "SourceCode"}]


def test_artifact_store_is_encrypted_with_the_platform_key(churn: Template) -> None:
    churn.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "ArtifactStore": {
                "Type": "S3",
                "EncryptionKey": {"Type": "KMS", "Id": {"Fn::ImportValue": KEY_EXPORT}},
                "Location": Match.any_value(),
            }
        },
    )


def test_build_action_tells_codebuild_the_pipeline_execution_id(pipeline) -> None:
    build = action(pipeline, "BuildAndTest")

    assert build["InputArtifacts"] == [{"Name": "SourceCode"}]
    assert_matches(
        build["Configuration"]["EnvironmentVariables"],
        Match.serialized_json(
            [{"name": "PIPELINE_EXECUTION_ID", "type": "PLAINTEXT", "value": "#{codepipeline.PipelineExecutionId}"}]
        ),
    )


def test_train_action_passes_the_pipeline_execution_id_and_exports_its_variables(churn: Template, pipeline) -> None:
    train = action(pipeline, "Train")

    assert train["Namespace"] == "TrainVariables"
    assert train["Configuration"]["InputType"] == "Literal"
    assert train["Configuration"]["StateMachineArn"]["Ref"].startswith("MlPipelineTraining")
    churn.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "Stages": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Name": "Train",
                            "Actions": [
                                Match.object_like(
                                    {
                                        "Configuration": Match.object_like(
                                            {
                                                "Input": Match.serialized_json(
                                                    {
                                                        "PipelineExecutionId": "#{codepipeline.PipelineExecutionId}",
                                                        "SourceRevision": "#{SourceVariables.CommitId}",
                                                    }
                                                )
                                            }
                                        )
                                    }
                                )
                            ],
                        }
                    )
                ]
            )
        },
    )


@pytest.mark.parametrize(
    ("stage", "workflow"),
    [("DeployStaging", "MlPipelineDeployStaging"), ("DeployProduction", "MlPipelineDeployProduction")],
)
def test_deploy_actions_pass_the_training_execution_arn(example_app, pipeline, stage: str, workflow: str) -> None:
    deploy = action(pipeline, stage)
    template = example_app.json["Mlops-churn-xgb-Pipeline"]
    workflow_id, _ = construct_resource(template, "AWS::StepFunctions::StateMachine", workflow)

    assert deploy["Configuration"]["StateMachineArn"] == {"Ref": workflow_id}
    assert_matches(
        deploy["Configuration"]["Input"],
        Match.serialized_json({"TrainingExecutionArn": "#{TrainVariables.ExecutionArn}"}),
    )


def test_smoke_test_action_runs_the_smoke_test_workflow(example_app, pipeline) -> None:
    smoke = action(pipeline, "SmokeTest")
    workflow_id, _ = construct_resource(
        example_app.json["Mlops-churn-xgb-Pipeline"], "AWS::StepFunctions::StateMachine", "MlPipelineSmokeTest"
    )

    assert smoke["Configuration"]["StateMachineArn"] == {"Ref": workflow_id}
    assert smoke["Configuration"]["Input"] == '{"PipelineExecutionId":"#{codepipeline.PipelineExecutionId}"}'


def test_manual_approval_notifies_the_model_topic(example_app, pipeline) -> None:
    topic_id, _ = only_resource(example_app.json["Mlops-churn-xgb-Pipeline"], "AWS::SNS::Topic")

    assert action(pipeline, "ManualApproval")["Configuration"] == {
        "NotificationArn": {"Ref": topic_id},
        "CustomData": "Model churn-xgb passed its quality gate and the staging smoke test. "
        "Approve to roll it out to production.",
    }


def test_notification_topic_is_encrypted_and_mails_the_configured_address(churn: Template) -> None:
    churn.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::ImportValue": KEY_EXPORT}, "DisplayName": "cdk-mlops churn-xgb"}
    )
    churn.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml-team@example.com"})
    churn.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_model_without_notification_email_gets_no_subscription(example_app) -> None:
    example_app.templates["Mlops-iris-sklearn-Pipeline"].resource_count_is("AWS::SNS::Subscription", 0)
    example_app.templates["Mlops-iris-sklearn-Pipeline"].resource_count_is("AWS::SNS::Topic", 1)


def test_model_package_group_is_named_after_the_model(churn: Template) -> None:
    churn.has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup",
        {
            "ModelPackageGroupName": "churn-xgb",
            "ModelPackageGroupDescription": "Predicts customer churn from tabular account features (built-in XGBoost).",
        },
    )


# ---- other source providers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_variants() -> dict[str, dict[str, Any]]:
    """Pipeline templates of churn-xgb with a CodeCommit (created repository) and an S3 source."""
    sources = {
        "codecommit": {
            "provider": "codecommit",
            "repository": "churn-models",
            "branch": "release",
            "create_repository": True,
        },
        "s3": {"provider": "s3", "bucket": "churn-source", "object_key": "churn-xgb/source.zip"},
    }
    app = cdk.App(builtin_cloud_formation_validation=False)
    stacks: dict[str, ModelPipelineStack] = {}
    for name, source in sources.items():
        data = example_config_data("churn-xgb")
        data["source"] = source
        data.pop("drift", None)  # its retrain rule is another AWS::Events::Rule (test_drift_check.py)
        stacks[name] = ModelPipelineStack(
            app,
            f"Churn-{name}",
            model=parse_model_config(data, "models/churn-xgb/model.yaml"),
            artifact_bucket_arn=BUCKET_ARN,
            encryption_key_arn=KEY_ARN,
            staging_stack_name="Mlops-churn-xgb-Staging",
            production_stack_name="Mlops-churn-xgb-Production",
            env=cdk.Environment(account=ACCOUNT, region=REGION),
        )
    # A release manager who may start the CodeCommit variant's pipeline and training workflow.
    operator = iam.Role(stacks["codecommit"], "ReleaseManager", assumed_by=iam.AccountRootPrincipal())
    stacks["codecommit"].pipeline.grant_start(operator)
    stacks["codecommit"].pipeline.training.grant_start_execution(operator)
    return {name: Template.from_stack(stack).to_json() for name, stack in stacks.items()}


def test_codecommit_source_uses_a_codecommit_action_started_by_eventbridge(source_variants) -> None:
    template = source_variants["codecommit"]
    properties = only_resource(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]
    repository_id, repository = only_resource(template, "AWS::CodeCommit::Repository")
    _, rule = only_resource(template, "AWS::Events::Rule")

    source = action(properties, "Source")
    assert source["ActionTypeId"] == {"Category": "Source", "Owner": "AWS", "Provider": "CodeCommit", "Version": "1"}
    assert source["Configuration"] == {
        "RepositoryName": {"Fn::GetAtt": [repository_id, "Name"]},
        "BranchName": "release",
        "PollForSourceChanges": False,
    }
    assert "Triggers" not in properties
    assert repository["Properties"]["RepositoryName"] == "churn-models"
    assert rule["Properties"]["EventPattern"]["detail"] == {
        "event": ["referenceCreated", "referenceUpdated"],
        "referenceName": ["release"],
    }


def test_created_codecommit_repository_is_retained_on_delete(source_variants) -> None:
    _, repository = only_resource(source_variants["codecommit"], "AWS::CodeCommit::Repository")

    assert repository.get("DeletionPolicy") == "Retain"
    assert repository.get("UpdateReplacePolicy") == "Retain"


def test_s3_source_uses_an_s3_action_started_by_object_events(source_variants) -> None:
    template = source_variants["s3"]
    properties = only_resource(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]
    _, rule = only_resource(template, "AWS::Events::Rule")

    source = action(properties, "Source")
    assert source["ActionTypeId"] == {"Category": "Source", "Owner": "AWS", "Provider": "S3", "Version": "1"}
    assert source["Configuration"] == {
        "S3Bucket": "churn-source",
        "S3ObjectKey": "churn-xgb/source.zip",
        "PollForSourceChanges": False,
    }
    assert "Triggers" not in properties
    assert rule["Properties"]["EventPattern"]["detail"]["requestParameters"] == {
        "bucketName": ["churn-source"],
        "key": ["churn-xgb/source.zip"],
    }
    assert action(properties, "Train")["Configuration"]["Input"] == (
        '{"PipelineExecutionId":"#{codepipeline.PipelineExecutionId}","SourceRevision":"#{SourceVariables.VersionId}"}'
    )


def test_grant_start_lets_a_principal_start_releases_of_this_pipeline_only(source_variants) -> None:
    template = source_variants["codecommit"]
    pipeline_id, _ = only_resource(template, "AWS::CodePipeline::Pipeline")
    training_id, _ = construct_resource(template, "AWS::StepFunctions::StateMachine", "MlPipelineTraining")
    operator_id, _ = construct_resource(template, "AWS::IAM::Role", "ReleaseManager")
    granted = {
        action: statement.body["Resource"]
        for statement in role_statements(template, operator_id)
        for action in statement.actions
    }

    assert granted == {
        "codepipeline:StartPipelineExecution": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    f":codepipeline:{REGION}:{ACCOUNT}:",
                    {"Ref": pipeline_id},
                ],
            ]
        },
        "states:StartExecution": {"Ref": training_id},
    }
