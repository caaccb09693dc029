"""Cross-account production (``endpoints.production.account``): iris-sklearn's production endpoint lives
in account 222222222222. The pipeline assumes that account's CDK deploy role; the pipeline account's
bucket, key and model package group grant that account exactly the reads it needs, and nothing more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from cdk_mlops.app_builder import MlopsApp, build_app
from cdk_mlops.config import ModelConfigError, parse_model_config
from cdk_mlops_testing import (
    BUCKET_EXPORT,
    KEY,
    definition,
    example_config_data,
    render,
    resources,
    role_statements,
    state_machine_role_id,
    write_model,
)

TARGET = "222222222222"
OTHER = "333333333333"
TARGET_ROOT = f"arn:${{AWS::Partition}}:iam::{TARGET}:root"
DEPLOY_ROLE = f"arn:${{AWS::Partition}}:iam::{TARGET}:role/cdk-hnb659fds-deploy-role-{TARGET}-eu-west-1"
CFN_EXEC_ROLE = f"arn:${{AWS::Partition}}:iam::{TARGET}:role/cdk-hnb659fds-cfn-exec-role-{TARGET}-eu-west-1"
ARTIFACTS_ARN = "${Artifacts82DD59A1.Arn}"


@pytest.fixture(scope="module")
def pipeline(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-iris-sklearn-Pipeline"]


@pytest.fixture(scope="module")
def production(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-iris-sklearn-Production"]


def statements_for(policy: dict[str, Any], principal: str) -> list[dict[str, Any]]:
    return [
        statement
        for statement in policy["Statement"]
        if render(statement.get("Principal", {}).get("AWS", "")) == principal
    ]


# ---- where the stacks go ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def instance_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlopsApp, dict[str, dict[str, Any]]]:
    """churn-xgb (an instance endpoint; without its drift check) with production in account 333333333333."""
    data = example_config_data("churn-xgb")
    data.pop("drift")
    data["endpoints"]["production"]["account"] = OTHER
    models_dir = tmp_path_factory.mktemp("models")
    write_model(models_dir, "churn-xgb", data)
    app = cdk.App(builtin_cloud_formation_validation=False)
    mlops = build_app(app, models_dir, region="eu-west-1")
    assembly = app.synth()
    return mlops, {stack.stack_name: stack.template for stack in assembly.stacks}


def test_production_stack_deploys_into_the_configured_account(example_app) -> None:
    iris = example_app.mlops.models["iris-sklearn"]

    assert (iris.production.account, iris.production.region) == (TARGET, "eu-west-1")
    assert cdk.Token.is_unresolved(iris.staging.account)
    assert cdk.Token.is_unresolved(iris.pipeline.account)


def test_a_serverless_endpoint_in_another_account_needs_no_platform_there(example_app, production) -> None:
    assert example_app.mlops.production_platforms == {}
    assert example_app.mlops.models["iris-sklearn"].production.dependencies == []
    assert _find_values(production, "Fn::ImportValue") == []


def test_an_instance_endpoint_in_another_account_gets_a_platform_stack_there(instance_app) -> None:
    mlops, _ = instance_app
    platform = mlops.production_platforms[OTHER]

    assert (platform.stack_name, platform.account, platform.region) == (f"Mlops-Platform-{OTHER}", OTHER, "eu-west-1")
    assert mlops.models["churn-xgb"].production.dependencies == [platform]
    assert mlops.models["churn-xgb"].staging.dependencies == [mlops.platform]


def test_an_instance_endpoint_in_another_account_encrypts_with_that_accounts_key(instance_app) -> None:
    _, templates = instance_app
    production = templates["Mlops-churn-xgb-Production"]
    (config,) = resources(production, "AWS::SageMaker::EndpointConfig").values()
    imports = {render(value) for value in _find_values(production, "Fn::ImportValue")}

    assert render(config["Properties"]["KmsKeyId"]).startswith(f"${{Import(Mlops-Platform-{OTHER}:")
    assert render(config["Properties"]["DataCaptureConfig"]["KmsKeyId"]).startswith(
        f"${{Import(Mlops-Platform-{OTHER}:"
    )
    assert imports and all(value.startswith(f"Mlops-Platform-{OTHER}:") for value in imports)


def test_the_pipeline_accounts_platform_grants_each_account_its_own_models_only(instance_app) -> None:
    _, templates = instance_app
    platform = templates["Mlops-Platform"]
    (key,) = resources(platform, "AWS::KMS::Key").values()
    (document,) = [
        policy["Properties"]["PolicyDocument"]
        for policy in resources(platform, "AWS::S3::BucketPolicy").values()
        if render(policy["Properties"]["Bucket"]) == "${Artifacts82DD59A1}"
    ]

    (read,) = statements_for(document, f"arn:${{AWS::Partition}}:iam::{OTHER}:root")
    assert [render(resource) for resource in read["Resource"]] == [
        f"{ARTIFACTS_ARN}/churn-xgb/runs/*/model/*",
        f"{ARTIFACTS_ARN}/churn-xgb/source/*/sourcedir.tar.gz",
    ]
    assert len(statements_for(key["Properties"]["KeyPolicy"], f"arn:${{AWS::Partition}}:iam::{OTHER}:root")) == 1
    assert statements_for(document, TARGET_ROOT) == []


def _find_values(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        found = [node[key]] if key in node else []
        return found + [value for child in node.values() for value in _find_values(child, key)]
    if isinstance(node, list):
        return [value for child in node for value in _find_values(child, key)]
    return []


# ---- the target account's endpoint stack -----------------------------------------------------------


def test_production_stack_takes_the_model_data_location_as_parameters(production) -> None:
    parameters = production["Parameters"]

    assert parameters["ModelArtifactsBucket"]["Default"] == ""
    assert parameters["ModelArtifactsKeyArn"]["Default"] == ""
    assert parameters["ModelArtifactsKeyArn"]["AllowedPattern"].startswith("^$|^arn:aws")


def test_hosting_role_reads_the_model_data_from_the_pipeline_accounts_bucket_and_key(production) -> None:
    (role_id,) = [
        logical_id for logical_id in resources(production, "AWS::IAM::Role") if logical_id.startswith("EndpointHosting")
    ]
    granted = {
        (action, render(resource))
        for statement in role_statements(production, role_id)
        for action in statement.actions
        for resource in statement.resources
        if action.startswith(("s3:", "kms:"))
    }

    assert granted == {
        ("s3:GetObject", "arn:${AWS::Partition}:s3:::${ModelArtifactsBucket}/iris-sklearn/*"),
        ("kms:Decrypt", "${ModelArtifactsKeyArn}"),
    }


# ---- the pipeline account's grants -----------------------------------------------------------------


def test_artifact_bucket_lets_the_target_account_read_only_its_models_data_and_serving_code(example_app) -> None:
    artifacts_policies = [
        policy["Properties"]["PolicyDocument"]
        for policy in resources(example_app.json["Mlops-Platform"], "AWS::S3::BucketPolicy").values()
        if render(policy["Properties"]["Bucket"]) == "${Artifacts82DD59A1}"
    ]
    (document,) = artifacts_policies
    (statement,) = statements_for(document, TARGET_ROOT)

    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "s3:GetObject"
    # iris-sklearn is a script-mode model: its container downloads the serving code as the hosting role.
    assert [render(resource) for resource in statement["Resource"]] == [
        f"{ARTIFACTS_ARN}/iris-sklearn/runs/*/model/*",
        f"{ARTIFACTS_ARN}/iris-sklearn/source/*/sourcedir.tar.gz",
    ]
    assert "Condition" not in statement


def test_platform_key_lets_the_target_account_decrypt_only_through_s3(example_app) -> None:
    (key,) = resources(example_app.json["Mlops-Platform"], "AWS::KMS::Key").values()
    (statement,) = statements_for(key["Properties"]["KeyPolicy"], TARGET_ROOT)

    assert statement["Action"] == "kms:Decrypt"
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def test_model_package_group_lets_the_target_account_describe_its_packages_only(pipeline) -> None:
    (group,) = resources(pipeline, "AWS::SageMaker::ModelPackageGroup").values()
    policy = group["Properties"]["ModelPackageGroupPolicy"]
    granted = {
        (render(statement["Principal"]["AWS"]), tuple(statement["Action"]), render(statement["Resource"]))
        for statement in policy["Statement"]
    }

    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
    assert granted == {
        (
            TARGET_ROOT,
            ("sagemaker:DescribeModelPackage",),
            "arn:${AWS::Partition}:sagemaker:eu-west-1:${AWS::AccountId}:model-package/iris-sklearn/*",
        ),
        (
            TARGET_ROOT,
            ("sagemaker:DescribeModelPackageGroup",),
            "arn:${AWS::Partition}:sagemaker:eu-west-1:${AWS::AccountId}:model-package-group/iris-sklearn",
        ),
    }


def test_same_account_model_package_groups_have_no_resource_policy(example_app) -> None:
    (group,) = resources(example_app.json["Mlops-churn-xgb-Pipeline"], "AWS::SageMaker::ModelPackageGroup").values()

    assert "ModelPackageGroupPolicy" not in group["Properties"]


# ---- the deploy workflow ---------------------------------------------------------------------------


def test_production_deploy_updates_and_watches_the_stack_as_the_target_accounts_deploy_role(pipeline) -> None:
    states = definition(pipeline, "MlPipelineDeployProduction")["States"]

    for name in ("UpdateEndpointStack", "DescribeEndpointStack"):
        assert states[name]["Credentials"] == {"RoleArn": DEPLOY_ROLE}
    assert states["UpdateEndpointStack"]["Parameters"]["RoleARN"] == CFN_EXEC_ROLE
    assert "Credentials" not in states["ResolveModelPackage"]
    assert "Credentials" not in states["ApproveModelPackage"]


def test_production_deploy_tells_the_stack_where_the_model_data_is(pipeline) -> None:
    parameters = definition(pipeline, "MlPipelineDeployProduction")["States"]["UpdateEndpointStack"]["Parameters"]

    assert parameters["Parameters"][:3] == [
        {"ParameterKey": "ModelPackageArn", "ParameterValue.$": "$.training.output.ModelPackageArn"},
        {"ParameterKey": "ModelArtifactsBucket", "ParameterValue": f"${{BucketName(Import({BUCKET_EXPORT}))}}"},
        {"ParameterKey": "ModelArtifactsKeyArn", "ParameterValue": KEY},
    ]


def test_production_deploy_role_may_assume_the_deploy_role_and_pass_no_role(pipeline) -> None:
    role = state_machine_role_id(pipeline, "MlPipelineDeployProduction")
    granted = role_statements(pipeline, role)

    assume = [statement for statement in granted if statement.allows("sts:AssumeRole")]
    assert [render(resource) for statement in assume for resource in statement.resources] == [DEPLOY_ROLE]
    assert not any(statement.allows("iam:PassRole") for statement in granted)
    # Only the deploy role calls CloudFormation there: the workflow's own role is granted no such call.
    assert not any(action.lower().startswith("cloudformation:") for s in granted for action in s.actions)


def test_staging_deploy_stays_in_the_pipeline_account(pipeline) -> None:
    states = definition(pipeline, "MlPipelineDeployStaging")["States"]
    role = state_machine_role_id(pipeline, "MlPipelineDeployStaging")

    assert "Credentials" not in states["UpdateEndpointStack"]
    assert not any(statement.allows("sts:AssumeRole") for statement in role_statements(pipeline, role))
    assert any(statement.allows("iam:PassRole") for statement in role_statements(pipeline, role))


# ---- configuration errors --------------------------------------------------------------------------


def config_error(data: dict[str, Any]) -> str:
    with pytest.raises(ModelConfigError) as raised:
        parse_model_config(data, "models/x/model.yaml")
    return str(raised.value)


def test_staging_in_another_account_is_rejected() -> None:
    data = example_config_data("iris-sklearn")
    data["endpoints"]["staging"]["account"] = "333333333333"

    message = config_error(data)

    assert "models/x/model.yaml" in message
    assert "endpoints.staging.account" in message
    assert "'333333333333'" in message
    assert "only production.account may name another account" in message


@pytest.mark.parametrize("value", ["2222", "22222222222a", "arn:aws:iam::222222222222:root", True])
def test_production_account_must_be_a_twelve_digit_id(value: Any) -> None:
    data = example_config_data("iris-sklearn")
    data["endpoints"]["production"]["account"] = value

    message = config_error(data)

    assert "endpoints.production.account" in message
    assert "12-digit AWS account id" in message


def test_an_unquoted_account_id_is_read_as_the_same_id() -> None:
    data = example_config_data("iris-sklearn")
    data["endpoints"]["production"]["account"] = 222222222222

    assert parse_model_config(data, "models/x/model.yaml").endpoints.production.account == TARGET


def test_drift_check_with_production_in_another_account_is_rejected() -> None:
    data = example_config_data("churn-xgb")
    data["endpoints"]["production"]["account"] = TARGET

    message = config_error(data)

    assert "drift" in message
    assert "production endpoint in another account" in message


def test_production_account_equal_to_the_pipeline_account_is_rejected(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data.pop("drift")
    data["endpoints"]["production"]["account"] = "111111111111"
    path = write_model(tmp_path, "churn-xgb", data)
    app = cdk.App(builtin_cloud_formation_validation=False)

    with pytest.raises(ModelConfigError) as raised:
        build_app(app, tmp_path, account="111111111111", region="eu-west-1")

    assert raised.value.path == path
    assert raised.value.problems == [
        "endpoints.production.account: is the pipeline's own account; leave it out to deploy production next "
        "to the pipeline (got '111111111111')"
    ]
    assert app.node.children == []


def test_only_the_cross_account_stack_silences_cfn_lints_empty_default_arn_warning(example_app, production) -> None:
    assert production["Metadata"]["cfn-lint"] == {"config": {"ignore_checks": ["W1030", "W3005"]}}
    assert "cfn-lint" not in example_app.json["Mlops-churn-xgb-Production"].get("Metadata", {})


def test_naming_the_pipelines_own_region_is_accepted(tmp_path: Path) -> None:
    data = example_config_data("iris-sklearn")
    data.pop("pipeline_class")
    data["endpoints"]["production"]["region"] = "eu-west-1"
    write_model(tmp_path, "iris-sklearn", data)

    mlops = build_app(cdk.App(builtin_cloud_formation_validation=False), tmp_path, region="eu-west-1")

    assert (mlops.models["iris-sklearn"].production.account, mlops.models["iris-sklearn"].production.region) == (
        TARGET,
        "eu-west-1",
    )


def test_a_region_must_look_like_one() -> None:
    data = example_config_data("iris-sklearn")
    data["endpoints"]["production"]["region"] = "Ireland"

    message = config_error(data)

    assert "endpoints.production.region: must be an AWS region name, e.g. 'eu-west-1' (got 'Ireland')" in message
