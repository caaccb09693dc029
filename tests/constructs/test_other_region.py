"""Production in another region (``endpoints.production.region``). SageMaker serves only a model package
and model data of its own region, so each release copies the served objects to the pipeline account's
platform bucket in that region and the endpoint there is built from the region's framework image and
those copies; the deploy workflow reaches that region through the ``regional_deploy`` function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from cdk_mlops.app_builder import MlopsApp, build_app
from cdk_mlops.config import ModelConfigError
from cdk_mlops_testing import (
    REGIONAL_ROLLOUT_PATH,
    REPO_ROOT,
    construct_resource,
    definition,
    example_config_data,
    happy_path,
    render,
    resources,
    role_statements,
    state_machine_role_id,
    write_model,
)

PIPELINE_REGION = "eu-west-1"
REGION = "us-east-1"
TARGET = "333333333333"
TARGET_ROOT = f"arn:${{AWS::Partition}}:iam::{TARGET}:root"
DEPLOY_ROLE = f"arn:${{AWS::Partition}}:iam::{TARGET}:role/cdk-hnb659fds-deploy-role-{TARGET}-{REGION}"
CFN_EXEC_ROLE = f"arn:${{AWS::Partition}}:iam::{TARGET}:role/cdk-hnb659fds-cfn-exec-role-{TARGET}-{REGION}"
DEPLOY_PRODUCTION = "MlPipelineDeployProduction"
SKLEARN_IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

Templates = dict[str, dict[str, Any]]


def synthesize(models_dir: Path) -> tuple[MlopsApp, Templates]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    mlops = build_app(app, models_dir, region=PIPELINE_REGION)
    assembly = app.synth()
    return mlops, {stack.stack_name: stack.template for stack in assembly.stacks}


@pytest.fixture(scope="module")
def other_account(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlopsApp, Templates]:
    """``examples/other-region`` (demand-us, script mode, two instances in account 333333333333), in us-east-1."""
    data = yaml.safe_load((REPO_ROOT / "examples" / "other-region" / "model.yaml").read_text(encoding="utf-8"))
    data["endpoints"]["production"]["region"] = REGION
    models_dir = tmp_path_factory.mktemp("models")
    write_model(models_dir, "demand-us", data)
    return synthesize(models_dir)


@pytest.fixture(scope="module")
def same_account(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlopsApp, Templates]:
    """churn-xgb (built-in XGBoost, instance endpoint, no drift check) with production in us-east-1 of the
    pipeline's own account."""
    data = example_config_data("churn-xgb")
    data.pop("drift")
    data["endpoints"]["production"]["region"] = REGION
    models_dir = tmp_path_factory.mktemp("models")
    write_model(models_dir, "churn-xgb", data)
    return synthesize(models_dir)


def deploy_states(templates: Templates, model: str) -> dict[str, Any]:
    return definition(templates[f"Mlops-{model}-Pipeline"], DEPLOY_PRODUCTION)["States"]


def function_role_statements(templates: Templates, model: str) -> list[Any]:
    pipeline = templates[f"Mlops-{model}-Pipeline"]
    _, function = construct_resource(pipeline, "AWS::Lambda::Function", f"{DEPLOY_PRODUCTION}RegionalDeployFunction")
    return role_statements(pipeline, function["Properties"]["Role"]["Fn::GetAtt"][0])


def policy_statements_for(document: dict[str, Any], principal: str) -> list[dict[str, Any]]:
    return [
        statement
        for statement in document["Statement"]
        if render(statement.get("Principal", {}).get("AWS", "")) == principal
    ]


# ---- where the stacks go ---------------------------------------------------------------------------


def test_production_stack_deploys_into_the_configured_account_and_region(other_account) -> None:
    mlops, _ = other_account
    model = mlops.models["demand-us"]

    assert (model.production.account, model.production.region) == (TARGET, REGION)
    assert model.staging.region == model.pipeline.region == PIPELINE_REGION


def test_pipeline_account_gets_a_platform_in_that_region_which_the_pipeline_stack_depends_on(other_account) -> None:
    mlops, _ = other_account
    replica = mlops.regional_platforms[REGION]

    assert (replica.stack_name, replica.region) == (f"Mlops-Platform-{REGION}", REGION)
    assert cdk.Token.is_unresolved(replica.account)  # the pipeline's account, whatever it is
    assert replica in mlops.models["demand-us"].pipeline.dependencies


def test_an_instance_endpoint_in_another_account_and_region_gets_that_accounts_platform_there(other_account) -> None:
    mlops, _ = other_account
    platform = mlops.production_platforms[f"{TARGET}-{REGION}"]

    assert (platform.stack_name, platform.account, platform.region) == (
        f"Mlops-Platform-{TARGET}-{REGION}",
        TARGET,
        REGION,
    )
    assert mlops.models["demand-us"].production.dependencies == [platform]


def test_same_account_production_in_another_region_uses_the_pipeline_accounts_platform_there(same_account) -> None:
    mlops, templates = same_account
    production = mlops.models["churn-xgb"].production

    assert production.region == REGION
    assert production.dependencies == [mlops.regional_platforms[REGION]]
    assert mlops.production_platforms == {}
    _, config = next(iter(resources(templates["Mlops-churn-xgb-Production"], "AWS::SageMaker::EndpointConfig").items()))
    assert render(config["Properties"]["KmsKeyId"]).startswith(f"${{Import(Mlops-Platform-{REGION}:")


# ---- grants ----------------------------------------------------------------------------------------


def test_regional_platform_lets_the_production_account_read_what_its_endpoint_serves_only(other_account) -> None:
    _, templates = other_account
    replica = templates[f"Mlops-Platform-{REGION}"]
    (bucket_policy,) = [
        policy
        for policy in resources(replica, "AWS::S3::BucketPolicy").values()
        if render(policy["Properties"]["Bucket"]) == "${Artifacts82DD59A1}"
    ]
    (key,) = resources(replica, "AWS::KMS::Key").values()

    (read,) = policy_statements_for(bucket_policy["Properties"]["PolicyDocument"], TARGET_ROOT)
    assert read["Action"] == "s3:GetObject"
    assert [render(resource) for resource in read["Resource"]] == [
        "${Artifacts82DD59A1.Arn}/demand-us/runs/*/model/*",
        "${Artifacts82DD59A1.Arn}/demand-us/source/*/sourcedir.tar.gz",
    ]
    (decrypt,) = policy_statements_for(key["Properties"]["KeyPolicy"], TARGET_ROOT)
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


def test_regional_platform_names_its_bucket_and_key_in_outputs(other_account) -> None:
    _, templates = other_account
    outputs = templates[f"Mlops-Platform-{REGION}"]["Outputs"]

    assert outputs["ArtifactBucketName"]["Value"] == {"Ref": "Artifacts82DD59A1"}
    assert outputs["EncryptionKeyArn"]["Value"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}


def test_nothing_in_the_pipelines_region_is_granted_to_an_account_serving_in_another_region(other_account) -> None:
    _, templates = other_account
    platform = templates["Mlops-Platform"]
    pipeline = templates["Mlops-demand-us-Pipeline"]
    (group,) = resources(pipeline, "AWS::SageMaker::ModelPackageGroup").values()

    assert all(
        policy_statements_for(policy["Properties"]["PolicyDocument"], TARGET_ROOT) == []
        for policy in resources(platform, "AWS::S3::BucketPolicy").values()
    )
    (key,) = resources(platform, "AWS::KMS::Key").values()
    assert policy_statements_for(key["Properties"]["KeyPolicy"], TARGET_ROOT) == []
    assert "ModelPackageGroupPolicy" not in group["Properties"]


def test_regional_function_writes_only_the_models_prefixes_of_this_accounts_buckets(other_account) -> None:
    _, templates = other_account
    granted = function_role_statements(templates, "demand-us")
    (put,) = [statement for statement in granted if statement.allows("s3:PutObject")]
    (replica_key,) = [statement for statement in granted if statement.allows("kms:GenerateDataKey")]

    assert [render(resource) for resource in put.resources] == [
        "arn:${AWS::Partition}:s3:::*/demand-us/runs/*/model/*",
        "arn:${AWS::Partition}:s3:::*/demand-us/source/*/sourcedir.tar.gz",
    ]
    assert put.body["Condition"] == {"StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}}
    assert render(replica_key.body["Resource"]) == f"arn:${{AWS::Partition}}:kms:{REGION}:${{AWS::AccountId}}:key/*"
    assert replica_key.body["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


def test_regional_function_reads_the_served_objects_and_the_replica_stacks_outputs(other_account) -> None:
    _, templates = other_account
    granted = function_role_statements(templates, "demand-us")
    (get,) = [statement for statement in granted if statement.allows("s3:GetObject")]
    (describe,) = [statement for statement in granted if statement.allows("cloudformation:DescribeStacks")]

    assert [render(resource) for resource in get.resources] == [
        "${Import(Mlops-Platform:ExportsOutputFnGetAttArtifacts82DD59A1Arn3B515032)}/demand-us/runs/*/model/*",
        "${Import(Mlops-Platform:ExportsOutputFnGetAttArtifacts82DD59A1Arn3B515032)}/demand-us/source/*/sourcedir.tar.gz",
    ]
    assert render(describe.body["Resource"]) == (
        f"arn:${{AWS::Partition}}:cloudformation:{REGION}:${{AWS::AccountId}}:stack/Mlops-Platform-{REGION}/*"
    )


def test_regional_function_may_assume_only_the_target_accounts_deploy_role_in_that_region(other_account) -> None:
    _, templates = other_account
    granted = function_role_statements(templates, "demand-us")
    (assume,) = [statement for statement in granted if statement.allows("sts:AssumeRole")]

    assert render(assume.body["Resource"]) == DEPLOY_ROLE
    assert not any(statement.allows("cloudformation:UpdateStack") for statement in granted)
    assert not any(statement.allows("iam:PassRole") for statement in granted)


def test_deploy_workflow_role_calls_no_cloudformation_and_passes_no_role_across_regions(other_account) -> None:
    _, templates = other_account
    pipeline = templates["Mlops-demand-us-Pipeline"]
    granted = role_statements(pipeline, state_machine_role_id(pipeline, DEPLOY_PRODUCTION))

    assert not any(action.startswith("cloudformation:") for statement in granted for action in statement.actions)
    assert not any(statement.allows("iam:PassRole") for statement in granted)
    assert any(statement.allows("lambda:InvokeFunction") for statement in granted)


# ---- the rollout -----------------------------------------------------------------------------------


def test_deploy_workflow_replicates_the_model_before_it_updates_the_stack(other_account) -> None:
    _, templates = other_account
    pipeline = templates["Mlops-demand-us-Pipeline"]
    path = happy_path(definition(pipeline, DEPLOY_PRODUCTION), {"StackUpdated?": "Deployed"})

    assert path == REGIONAL_ROLLOUT_PATH


def test_replication_copies_the_packages_model_data_and_serving_code_to_the_regions_platform(other_account) -> None:
    _, templates = other_account
    states = deploy_states(templates, "demand-us")

    assert states["DescribeModelPackage"]["ResultSelector"] == {
        "ModelDataUrl.$": "$.InferenceSpecification.Containers[0].ModelDataUrl",
        "SourceDirUrl.$": "$.InferenceSpecification.Containers[0].Environment.SAGEMAKER_SUBMIT_DIRECTORY",
    }
    assert states["ReplicateModel"]["Parameters"]["Payload"] == {
        "Action": "ReplicateModel",
        "Region": REGION,
        "ReplicaStackName": f"Mlops-Platform-{REGION}",
        "Objects": {"ModelDataUrl.$": "$.package.ModelDataUrl", "SourceDirUrl.$": "$.package.SourceDirUrl"},
    }


def test_update_sets_the_package_the_copies_and_the_replica_bucket_and_key_as_the_deploy_role(other_account) -> None:
    _, templates = other_account
    payload = deploy_states(templates, "demand-us")["UpdateEndpointStack"]["Parameters"]["Payload"]

    assert payload["Action"] == "UpdateStack"
    assert (payload["Region"], payload["StackName"]) == (REGION, "Mlops-demand-us-Production")
    assert (payload["RoleArn"], payload["CloudFormationRoleArn"]) == (DEPLOY_ROLE, CFN_EXEC_ROLE)
    assert payload["ClientRequestToken.$"] == "States.Hash($$.Execution.Name, 'MD5')"
    assert payload["Parameters"] == [
        {"ParameterKey": "ModelPackageArn", "ParameterValue.$": "$.training.output.ModelPackageArn"},
        {"ParameterKey": "ModelDataUrl", "ParameterValue.$": "$.replica.ModelDataUrl"},
        {"ParameterKey": "SourceDirUrl", "ParameterValue.$": "$.replica.SourceDirUrl"},
        {"ParameterKey": "ModelArtifactsBucket", "ParameterValue.$": "$.replica.Bucket"},
        {"ParameterKey": "ModelArtifactsKeyArn", "ParameterValue.$": "$.replica.KeyArn"},
        {"ParameterKey": "BootstrapVersion", "UsePreviousValue": True},
    ]


def test_an_unchanged_stack_still_counts_as_deployed(other_account) -> None:
    _, templates = other_account
    states = deploy_states(templates, "demand-us")

    (catch,) = states["UpdateEndpointStack"]["Catch"]
    assert catch["Next"] == "AlreadyDeployed?"
    assert states["AlreadyDeployed?"]["Choices"][0]["StringMatches"] == "*No updates are to be performed*"


def test_same_account_rollout_assumes_its_own_deploy_role_in_that_region_and_copies_model_data_only(
    same_account,
) -> None:
    _, templates = same_account
    states = deploy_states(templates, "churn-xgb")
    payload = states["UpdateEndpointStack"]["Parameters"]["Payload"]

    assert (
        payload["RoleArn"]
        == f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/cdk-hnb659fds-deploy-role-${{AWS::AccountId}}-{REGION}"
    )
    assert [parameter["ParameterKey"] for parameter in payload["Parameters"]] == [
        "ModelPackageArn",
        "ModelDataUrl",
        "BootstrapVersion",
    ]
    assert states["ReplicateModel"]["Parameters"]["Payload"]["Objects"] == {"ModelDataUrl.$": "$.package.ModelDataUrl"}


# ---- the endpoint there ----------------------------------------------------------------------------


def test_endpoint_serves_the_regions_framework_image_with_the_copied_model_and_code(other_account) -> None:
    _, templates = other_account
    production = templates["Mlops-demand-us-Production"]
    (model,) = resources(production, "AWS::SageMaker::Model").values()

    assert model["Properties"]["Containers"] == [
        {
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": {"Ref": "ModelDataUrl"},
            "Environment": {"SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY": {"Ref": "SourceDirUrl"}},
        }
    ]
    assert production["Parameters"]["ModelDataUrl"]["Default"] == ""
    assert production["Parameters"]["SourceDirUrl"]["AllowedPattern"].startswith("^$|^s3://")
    assert model["Condition"] == "HasModelPackage"


def test_a_model_without_a_training_script_serves_no_source_dir(same_account) -> None:
    _, templates = same_account
    production = templates["Mlops-churn-xgb-Production"]
    (model,) = resources(production, "AWS::SageMaker::Model").values()

    assert "SourceDirUrl" not in production["Parameters"]
    assert model["Properties"]["Containers"][0]["Image"].startswith(f"683313688378.dkr.ecr.{REGION}.amazonaws.com/")
    assert "Environment" not in model["Properties"]["Containers"][0]


def test_alarms_in_another_region_notify_no_topic_and_stay_off_the_pipeline_dashboard(same_account) -> None:
    _, templates = same_account
    alarms = resources(templates["Mlops-churn-xgb-Production"], "AWS::CloudWatch::Alarm")
    dashboard = str(resources(templates["Mlops-churn-xgb-Pipeline"], "AWS::CloudWatch::Dashboard"))

    assert alarms and all("AlarmActions" not in alarm["Properties"] for alarm in alarms.values())
    assert "Mlops-churn-xgb-Production-Endpoint-5xx-errors" not in dashboard


# ---- what is refused -------------------------------------------------------------------------------


def refused(tmp_path: Path, data: dict[str, Any]) -> str:
    path = write_model(tmp_path, data["name"], data)
    app = cdk.App(builtin_cloud_formation_validation=False)
    with pytest.raises(ModelConfigError) as raised:
        build_app(app, tmp_path, region=PIPELINE_REGION)
    assert raised.value.path == path
    assert app.node.children == []
    (problem,) = raised.value.problems
    return problem


def test_staging_in_another_region_is_refused_with_the_reason(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data["endpoints"]["staging"]["region"] = REGION

    assert refused(tmp_path, data) == (
        f"endpoints.staging.region: staging runs in the pipeline's region ({PIPELINE_REGION}), where the smoke test "
        f"invokes it; only endpoints.production.region may name another (got '{REGION}')"
    )


def test_a_drift_check_with_production_in_another_region_is_refused(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data["endpoints"]["production"]["region"] = REGION

    problem = refused(tmp_path, data)
    assert problem.startswith("drift: is not available with a production endpoint in another region")
    assert f"endpoints.production.region {REGION}" in problem


def test_a_custom_image_from_another_regions_registry_is_refused(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data.pop("drift")
    data["framework"] = {
        "name": "custom",
        "image_uri": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/churn:3",
    }
    data["endpoints"]["production"]["region"] = REGION

    problem = refused(tmp_path, data)
    assert problem.startswith(
        "endpoints.production.region: the endpoint would pull framework.image_uri "
        "111111111111.dkr.ecr.eu-west-1.amazonaws.com/churn:3, which is not in us-east-1"
    )
    assert problem.endswith(f"(got '{REGION}')")


def test_each_stack_call_names_its_role_session_after_the_execution(other_account) -> None:
    _, templates = other_account
    states = deploy_states(templates, "demand-us")

    for state in ("UpdateEndpointStack", "DescribeEndpointStack"):
        payload = states[state]["Parameters"]["Payload"]
        # the MD5 of the execution name: a valid token and role session name for any execution name
        assert payload["ClientRequestToken.$"] == "States.Hash($$.Execution.Name, 'MD5')"
        assert (payload["RoleArn"], payload["Region"]) == (DEPLOY_ROLE, REGION)
