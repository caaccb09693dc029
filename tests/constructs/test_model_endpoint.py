"""The endpoint stacks (``ModelEndpointStack`` around ``ModelEndpoint``) of the example app, and a
``ModelEndpoint`` built directly in a small stack for its grant and metric methods."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from cdk_mlops.config import EndpointVariantConfig
from cdk_mlops.constructs.model_endpoint import ModelEndpoint
from cdk_mlops_testing import (
    ACCOUNT,
    BUCKET_ARN,
    BUCKET_NAME,
    KEY_ARN,
    KEY_EXPORT,
    REGION,
    construct_resource,
    only_resource,
    render,
    resources,
    role_statements,
)

CONDITION = "HasModelPackage"
ENDPOINT_STACKS = [
    "Mlops-churn-xgb-Staging",
    "Mlops-churn-xgb-Production",
    "Mlops-iris-sklearn-Staging",
    "Mlops-iris-sklearn-Production",
]


@pytest.fixture(scope="module")
def production(example_app) -> dict[str, Any]:
    """The churn-xgb production endpoint stack: instances, canary, autoscaling, data capture."""
    return example_app.json["Mlops-churn-xgb-Production"]


@pytest.fixture(scope="module")
def staging(example_app) -> dict[str, Any]:
    """The churn-xgb staging endpoint stack: serverless."""
    return example_app.json["Mlops-churn-xgb-Staging"]


def properties(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return only_resource(template, resource_type)[1]["Properties"]


# ---- the stack's parameter and condition ----------------------------------------------------------


@pytest.mark.parametrize("stack", ENDPOINT_STACKS)
def test_endpoint_stack_takes_the_model_package_as_a_parameter_defaulting_to_empty(example_app, stack) -> None:
    parameter = example_app.json[stack]["Parameters"]["ModelPackageArn"]

    assert parameter["Type"] == "String"
    assert parameter["Default"] == ""
    assert parameter["AllowedPattern"] == r"^$|^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+$"


@pytest.mark.parametrize("stack", ENDPOINT_STACKS)
def test_has_model_package_holds_only_for_a_non_empty_package_arn(example_app, stack) -> None:
    assert example_app.json[stack]["Conditions"] == {
        CONDITION: {"Fn::Not": [{"Fn::Equals": [{"Ref": "ModelPackageArn"}, ""]}]}
    }


def test_every_production_resource_exists_only_with_a_model_package(production) -> None:
    types = {resource["Type"] for resource in production["Resources"].values()}

    assert types == {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::CloudWatch::Alarm",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::CloudWatch::Dashboard",
    }
    assert {name: resource.get("Condition") for name, resource in production["Resources"].items()} == {
        name: CONDITION for name in production["Resources"]
    }
    assert production["Outputs"]["EndpointName"]["Condition"] == CONDITION


def test_every_staging_resource_exists_only_with_a_model_package(staging) -> None:
    assert {resource["Type"] for resource in staging["Resources"].values()} == {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::CloudWatch::Dashboard",
    }
    assert {resource.get("Condition") for resource in staging["Resources"].values()} == {CONDITION}


def test_model_serves_the_package_named_by_the_parameter(production) -> None:
    model = properties(production, "AWS::SageMaker::Model")
    role_id = model["ExecutionRoleArn"]["Fn::GetAtt"][0]

    assert model["Containers"] == [{"ModelPackageName": {"Ref": "ModelPackageArn"}}]
    assert production["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]


def test_endpoint_name_is_an_output_for_the_smoke_test(production) -> None:
    endpoint_id, _ = only_resource(production, "AWS::SageMaker::Endpoint")

    assert production["Outputs"]["EndpointName"]["Value"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}


# ---- production: instances, encryption, data capture ----------------------------------------------


def test_production_endpoint_config_encrypts_the_volume_with_the_platform_key(production) -> None:
    config = properties(production, "AWS::SageMaker::EndpointConfig")
    model_id, _ = only_resource(production, "AWS::SageMaker::Model")

    assert config["KmsKeyId"] == {"Fn::ImportValue": KEY_EXPORT}
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": {"Fn::GetAtt": [model_id, "ModelName"]},
            "InitialInstanceCount": 2,
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 1,
        }
    ]


def test_production_endpoint_captures_ten_percent_of_requests_encrypted(production) -> None:
    capture = properties(production, "AWS::SageMaker::EndpointConfig")["DataCaptureConfig"]

    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 10
    assert capture["KmsKeyId"] == {"Fn::ImportValue": KEY_EXPORT}
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert capture["CaptureContentTypeHeader"] == {"CsvContentTypes": ["text/csv"]}
    assert render(capture["DestinationS3Uri"]) == f"s3://{BUCKET_NAME}/churn-xgb/data-capture/production"


def test_hosting_role_writes_only_the_data_capture_prefix(production) -> None:
    model = properties(production, "AWS::SageMaker::Model")
    role_id = model["ExecutionRoleArn"]["Fn::GetAtt"][0]
    writes = [s for s in role_statements(production, role_id) if s.allows("s3:PutObject")]

    assert {render(resource) for s in writes for resource in s.resources} == {
        "${Import(Mlops-Platform:ExportsOutputFnGetAttArtifacts82DD59A1Arn3B515032)}/churn-xgb/data-capture/*"
    }


def test_staging_hosting_role_cannot_write_to_s3(staging) -> None:
    model = properties(staging, "AWS::SageMaker::Model")
    role_id = model["ExecutionRoleArn"]["Fn::GetAtt"][0]

    assert not [s for s in role_statements(staging, role_id) if s.allows("s3:PutObject")]
    assert [s for s in role_statements(staging, role_id) if s.allows("s3:GetObject")]


# ---- production: blue/green with auto-rollback ---------------------------------------------------


def test_production_endpoint_shifts_traffic_to_a_25_percent_canary_first(production) -> None:
    deployment = properties(production, "AWS::SageMaker::Endpoint")["DeploymentConfig"]

    assert deployment["BlueGreenUpdatePolicy"] == {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            "WaitIntervalInSeconds": 600,
        },
        "TerminationWaitInSeconds": 900,
    }


def test_production_endpoint_rolls_back_on_its_three_alarms(production) -> None:
    deployment = properties(production, "AWS::SageMaker::Endpoint")["DeploymentConfig"]
    alarm_names = [
        alarm["Properties"]["AlarmName"] for alarm in resources(production, "AWS::CloudWatch::Alarm").values()
    ]

    assert len(deployment["AutoRollbackConfiguration"]["Alarms"]) == 3
    assert len(alarm_names) == 3
    assert sorted(render(alarm["AlarmName"]) for alarm in deployment["AutoRollbackConfiguration"]["Alarms"]) == sorted(
        render(name) for name in alarm_names
    )


def test_rollback_alarms_are_named_after_the_stack_so_the_endpoint_does_not_reference_them(production) -> None:
    deployment = properties(production, "AWS::SageMaker::Endpoint")["DeploymentConfig"]

    assert deployment["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-Endpoint-5xx-errors"]]}},
        {"AlarmName": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-Endpoint-model-latency-p99"]]}},
        {"AlarmName": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-Endpoint-model-errors"]]}},
    ]


@pytest.mark.parametrize("stack", ENDPOINT_STACKS)
def test_endpoint_stack_template_has_no_dependency_cycle(example_app, stack) -> None:
    try:
        Template.from_stack(next(s for s in all_stacks(example_app) if s.stack_name == stack))
    except RuntimeError as error:  # jsii reports the assertion failure as a RuntimeError
        pytest.fail(f"{stack}: {str(error).splitlines()[0]}")


def all_stacks(example_app) -> list[cdk.Stack]:
    models = example_app.mlops.models.values()
    return [stack for model in models for stack in (model.staging, model.production) if stack is not None]


def test_rollback_alarms_watch_5xx_errors_and_p99_model_latency(example_app) -> None:
    template = example_app.templates["Mlops-churn-xgb-Production"]
    dimensions = [
        {"Name": "EndpointName", "Value": {"Fn::GetAtt": [Match.string_like_regexp("^Endpoint"), "EndpointName"]}},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]

    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Invocation5XXErrors",
            "Namespace": "AWS/SageMaker",
            "Statistic": "Sum",
            "Period": 60,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 2,
            "TreatMissingData": "notBreaching",
            "Dimensions": dimensions,
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ModelLatency",
            "ExtendedStatistic": "p99",
            "Period": 60,
            "Threshold": 1_000_000,  # one second, in microseconds
            "ComparisonOperator": "GreaterThanThreshold",
            "Dimensions": dimensions,
        },
    )


# ---- production: autoscaling -----------------------------------------------------------------------


def test_production_endpoint_scales_between_two_and_six_instances(production) -> None:
    target_id, target = only_resource(production, "AWS::ApplicationAutoScaling::ScalableTarget")
    endpoint_id, _ = only_resource(production, "AWS::SageMaker::Endpoint")

    assert target["Properties"]["MinCapacity"] == 2
    assert target["Properties"]["MaxCapacity"] == 6
    assert target["Properties"]["ServiceNamespace"] == "sagemaker"
    assert target["Properties"]["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert render(target["Properties"]["ResourceId"]) == f"endpoint/${{{endpoint_id}.EndpointName}}/variant/AllTraffic"
    assert endpoint_id in target["DependsOn"]
    assert target_id.startswith("EndpointScalableTarget")


def test_production_endpoint_tracks_300_invocations_per_instance(example_app) -> None:
    example_app.templates["Mlops-churn-xgb-Production"].has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                "TargetValue": 300,
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
            },
        },
    )


# ---- staging: serverless ---------------------------------------------------------------------------


def test_staging_endpoint_is_serverless_without_deployment_config(example_app, staging) -> None:
    config = properties(staging, "AWS::SageMaker::EndpointConfig")
    template = example_app.templates["Mlops-churn-xgb-Staging"]

    assert [variant["ServerlessConfig"] for variant in config["ProductionVariants"]] == [
        {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    ]
    assert "InstanceType" not in config["ProductionVariants"][0]
    assert "KmsKeyId" not in config  # serverless endpoints take no volume key
    assert "DataCaptureConfig" not in config
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"DeploymentConfig": Match.absent()})
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)


def test_iris_endpoints_use_their_configured_serverless_memory_and_concurrency(example_app) -> None:
    staging = properties(example_app.json["Mlops-iris-sklearn-Staging"], "AWS::SageMaker::EndpointConfig")
    production = properties(example_app.json["Mlops-iris-sklearn-Production"], "AWS::SageMaker::EndpointConfig")

    assert staging["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 5}
    assert production["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 10}


# ---- ModelEndpoint on its own ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def standalone() -> dict[str, Any]:
    """A serverless ``ModelEndpoint`` in a small stack, a role granted invoke, and its latency metrics."""
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "EndpointTest", env=cdk.Environment(account=ACCOUNT, region=REGION))
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    bucket = s3.Bucket.from_bucket_attributes(stack, "Bucket", bucket_arn=BUCKET_ARN, encryption_key=key)
    endpoint = ModelEndpoint(
        stack,
        "Endpoint",
        model_name="demo",
        stage="staging",
        model_package_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/demo/1",
        settings=EndpointVariantConfig(serverless=True),
        encryption_key=key,
        artifact_bucket=bucket,
    )
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(client)
    default_metric = endpoint.metric_model_latency()
    tuned_metric = endpoint.metric_model_latency(statistic="Average", period=cdk.Duration.minutes(1))
    return {
        "template": Template.from_stack(stack).to_json(),
        "default": default_metric,
        "tuned": tuned_metric,
        "dimensions": stack.resolve(default_metric.dimensions),
    }


def test_grant_invoke_allows_the_invoke_actions_only(standalone) -> None:
    template = standalone["template"]
    client_id, _ = construct_resource(template, "AWS::IAM::Role", "Client")
    (statement,) = role_statements(template, client_id)

    assert statement.body["Effect"] == "Allow"
    assert statement.actions == [
        "sagemaker:InvokeEndpoint",
        "sagemaker:InvokeEndpointAsync",
        "sagemaker:InvokeEndpointWithResponseStream",
    ]


def test_grant_invoke_targets_the_endpoint_arn_sagemaker_reports(standalone) -> None:
    """SageMaker ARNs are lowercase; CloudFormation generates mixed-case endpoint names, so an ARN
    rebuilt from the name does not match. ``Ref`` of the endpoint is its ARN as SageMaker reports it."""
    template = standalone["template"]
    endpoint_id, _ = only_resource(template, "AWS::SageMaker::Endpoint")
    client_id, _ = construct_resource(template, "AWS::IAM::Role", "Client")
    (statement,) = role_statements(template, client_id)

    assert statement.body["Resource"] == {"Ref": endpoint_id}


def test_metric_model_latency_is_the_p99_over_five_minutes_of_the_variant(standalone) -> None:
    metric = standalone["default"]
    endpoint_id, _ = only_resource(standalone["template"], "AWS::SageMaker::Endpoint")

    assert metric.namespace == "AWS/SageMaker"
    assert metric.metric_name == "ModelLatency"
    assert metric.statistic == "p99"
    assert metric.period.to_seconds() == 300
    assert standalone["dimensions"] == {
        "EndpointName": {"Fn::GetAtt": [endpoint_id, "EndpointName"]},
        "VariantName": "AllTraffic",
    }


def test_metric_model_latency_takes_a_statistic_and_a_period(standalone) -> None:
    assert standalone["tuned"].statistic == "Average"
    assert standalone["tuned"].period.to_seconds() == 60


def test_serverless_model_endpoint_has_no_alarms_or_scaling(standalone) -> None:
    types = sorted(resource["Type"] for resource in standalone["template"]["Resources"].values())

    assert types == [
        "AWS::IAM::Policy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::Role",
        "AWS::SageMaker::Endpoint",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Model",
    ]


# ---- frameworks with a separate inference image ----------------------------------------------------


@pytest.fixture(scope="module")
def pytorch_production() -> dict[str, Any]:
    """The production endpoint stack of a PyTorch model (its inference image differs from training)."""
    from cdk_mlops.config import parse_model_config
    from cdk_mlops.stacks.endpoint_stack import ModelEndpointStack
    from cdk_mlops_testing import example_config_data

    data = example_config_data("iris-sklearn")
    data.update(
        name="torch-demo", framework={"name": "pytorch", "version": "2.1", "py_version": "py310"}, pipeline_class=None
    )
    data["endpoints"]["production"] = {"instance_type": "ml.m5.large"}
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = ModelEndpointStack(
        app,
        "Torch-Production",
        model=parse_model_config(data, "models/torch-demo/model.yaml"),
        stage="production",
        artifact_bucket_arn=BUCKET_ARN,
        encryption_key_arn=KEY_ARN,
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )
    return Template.from_stack(stack).to_json()


def test_hosting_role_may_pull_the_inference_image(pytorch_production) -> None:
    model = properties(pytorch_production, "AWS::SageMaker::Model")
    role_id = model["ExecutionRoleArn"]["Fn::GetAtt"][0]
    pulls = [s for s in role_statements(pytorch_production, role_id) if s.allows("ecr:BatchGetImage")]

    assert sorted(render(resource) for s in pulls for resource in s.resources) == [
        "arn:${AWS::Partition}:ecr:eu-west-1:763104351884:repository/pytorch-inference"
    ]


def test_production_alarms_notify_the_models_topic_from_the_pipeline_stack(production) -> None:
    alarms = resources(production, "AWS::CloudWatch::Alarm")
    own = {logical_id: alarm for logical_id, alarm in alarms.items() if "Endpoint" in logical_id}
    actions = {
        logical_id: [render(action) for action in alarm["Properties"].get("AlarmActions", [])]
        for logical_id, alarm in own.items()
    }

    assert len(actions) == 3
    for logical_id, targets in actions.items():
        assert len(targets) == 1, logical_id
        assert targets[0].startswith("${Import(Mlops-churn-xgb-Pipeline:ExportsOutputRefMlPipelineNotifications"), (
            logical_id
        )
