"""Endpoints in a VPC, with network isolation: the model's VpcConfig, the hosting role's
network-interface permissions, and the clear error for serverless endpoints, which take neither."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from cdk_mlops.config import EndpointVariantConfig
from cdk_mlops.constructs.model_endpoint import ModelEndpoint
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig


def _stack() -> tuple[cdk.Stack, dict[str, Any]]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Hosting", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    group = ec2.SecurityGroup(stack, "Models", vpc=vpc)
    shared = {
        "model_name": "churn",
        "model_package_arn": "arn:aws:sagemaker:eu-west-1:111111111111:model-package/churn/1",
        "encryption_key": kms.Key(stack, "Key"),
        "artifact_bucket": s3.Bucket(stack, "Artifacts"),
        "network": JobNetworkConfig(
            vpc=vpc,
            subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[group],
            network_isolation=True,
        ),
    }
    return stack, shared


def test_instance_endpoint_model_runs_in_the_vpc_with_network_isolation() -> None:
    stack, shared = _stack()
    ModelEndpoint(stack, "Endpoint", stage="production", settings=EndpointVariantConfig(), **shared)
    template = Template.from_stack(stack).to_json()

    [model] = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert model["EnableNetworkIsolation"] is True
    assert len(model["VpcConfig"]["Subnets"]) == 2
    [group] = model["VpcConfig"]["SecurityGroupIds"]
    assert group["Fn::GetAtt"][0].startswith("Models") and group["Fn::GetAtt"][1] == "GroupId"
    actions = {
        action
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets"} <= actions


def test_serverless_endpoint_in_a_vpc_is_rejected_naming_model_and_stage() -> None:
    stack, shared = _stack()
    with pytest.raises(ValueError, match="churn staging: serverless endpoints take no VPC or network isolation"):
        ModelEndpoint(stack, "Endpoint", stage="staging", settings=EndpointVariantConfig(serverless=True), **shared)


def test_pipeline_stack_runs_training_and_processing_jobs_in_the_vpc() -> None:
    from cdk_mlops.config import load_model_config
    from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
    from cdk_mlops_testing import MODELS_DIR

    app = cdk.App(builtin_cloud_formation_validation=False)
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    network_stack = cdk.Stack(app, "Network", env=env)
    vpc = ec2.Vpc(
        network_stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="jobs", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    group = ec2.SecurityGroup(network_stack, "Jobs", vpc=vpc)
    stack = ModelPipelineStack(
        app,
        "Pipeline",
        model=load_model_config(MODELS_DIR / "iris-sklearn" / "model.yaml"),
        artifact_bucket_arn="arn:aws:s3:::artifacts",
        encryption_key_arn="arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000",
        staging_stack_name="S",
        production_stack_name="P",
        network=JobNetworkConfig(
            vpc=vpc,
            subnet_selection=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[group],
            inter_container_encryption=True,
        ),
        env=env,
    )
    from cdk_mlops_testing import definition

    states = definition(Template.from_stack(stack).to_json(), "MlPipelineTraining")["States"]
    assert len(states["Train"]["Parameters"]["VpcConfig"]["Subnets"]) == 2
    assert states["Train"]["Parameters"]["EnableInterContainerTrafficEncryption"] is True
    assert len(states["Preprocess"]["Parameters"]["NetworkConfig"]["VpcConfig"]["SecurityGroupIds"]) == 1
    assert states["Evaluate"]["Parameters"]["NetworkConfig"]["EnableInterContainerTrafficEncryption"] is True
