"""Rollout modes of instance endpoints (all at once, canary, linear, rolling; sizes by percent or by
instance count), user rollback alarms, the model-errors rollback alarm, and the configuration checks of
SageMaker's deployment guardrail rules."""

from __future__ import annotations

import copy
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from cdk_mlops.config import EndpointVariantConfig, ModelConfigError, TrafficShiftingConfig, parse_model_config
from cdk_mlops.constructs.model_endpoint import ModelEndpoint, rollback_alarm_names
from cdk_mlops.stacks.endpoint_stack import ModelEndpointStack
from cdk_mlops_testing import ACCOUNT, BUCKET_ARN, KEY_ARN, REGION, example_config_data, only_resource, resources

PATH = "models/churn-xgb/model.yaml"

#: name -> the production endpoint section of churn-xgb's model.yaml.
MODES: dict[str, dict[str, Any]] = {
    "all_at_once": {"instance_count": 1},
    "canary_instances": {
        "instance_count": 4,
        "traffic_shifting": {"type": "canary", "size_type": "instance_count", "size_instances": 1, "wait_minutes": 3},
    },
    "linear_percent": {
        "instance_count": 4,
        "traffic_shifting": {"type": "linear", "size_percent": 25, "wait_minutes": 2, "bake_minutes": 4},
    },
    "linear_instances": {
        "instance_count": 10,
        "traffic_shifting": {"type": "linear", "size_type": "instance_count", "size_instances": 2},
    },
    "rolling_defaults": {"instance_count": 2, "traffic_shifting": {"type": "rolling"}},
    "rolling_full": {
        "instance_count": 4,
        "traffic_shifting": {
            "type": "rolling",
            "size_type": "instance_count",
            "size_instances": 2,
            "wait_minutes": 7,
            "max_execution_timeout_minutes": 90,
            "rollback_size_percent": 50,
        },
        "rollback_alarm_names": ["team-a-business-kpi", "team-a-p50-latency"],
    },
    "rolling_rollback_instances": {
        "instance_count": 3,
        "traffic_shifting": {"type": "rolling", "size_percent": 34, "rollback_size_instances": 1},
    },
}


def model_data(production: dict[str, Any], staging: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(example_config_data("churn-xgb"))
    data["endpoints"]["production"] = {"instance_type": "ml.m5.large", **production}
    if staging is not None:
        data["endpoints"]["staging"] = staging
    return data


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stacks = {
        name: ModelEndpointStack(
            app,
            f"Rollout-{name.replace('_', '-')}",
            model=parse_model_config(model_data(section), PATH),
            stage="production",
            artifact_bucket_arn=BUCKET_ARN,
            encryption_key_arn=KEY_ARN,
            env=cdk.Environment(account=ACCOUNT, region=REGION),
        )
        for name, section in MODES.items()
    }
    return {name: Template.from_stack(stack).to_json() for name, stack in stacks.items()}


def deployment(template: dict[str, Any]) -> dict[str, Any]:
    return only_resource(template, "AWS::SageMaker::Endpoint")[1]["Properties"]["DeploymentConfig"]


def own_alarm_names(stack_name: str = "${AWS::StackName}") -> list[dict[str, Any]]:
    return [
        {"AlarmName": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, f"-Endpoint-{suffix}"]]}}
        for suffix in ("5xx-errors", "model-latency-p99", "model-errors")
    ]


# ---- rendering of each mode ------------------------------------------------------------------------


def test_all_at_once_is_the_default_blue_green_with_a_ten_minute_bake(templates) -> None:
    assert deployment(templates["all_at_once"]) == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300},
            "TerminationWaitInSeconds": 600,
        },
        "AutoRollbackConfiguration": {"Alarms": own_alarm_names()},
    }


def test_canary_can_be_sized_by_instance_count(templates) -> None:
    policy = deployment(templates["canary_instances"])["BlueGreenUpdatePolicy"]

    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 180,
        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
    }
    assert policy["TerminationWaitInSeconds"] == 600


def test_linear_steps_by_percent(templates) -> None:
    policy = deployment(templates["linear_percent"])["BlueGreenUpdatePolicy"]

    assert policy == {
        "TrafficRoutingConfiguration": {
            "Type": "LINEAR",
            "WaitIntervalInSeconds": 120,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
        },
        "TerminationWaitInSeconds": 240,
    }


def test_linear_steps_by_instance_count(templates) -> None:
    routing = deployment(templates["linear_instances"])["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]

    assert routing["LinearStepSize"] == {"Type": "INSTANCE_COUNT", "Value": 2}


def test_rolling_defaults_to_ten_percent_batches_watched_five_minutes(templates) -> None:
    config = deployment(templates["rolling_defaults"])

    assert "BlueGreenUpdatePolicy" not in config
    assert config["RollingUpdatePolicy"] == {
        "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        "WaitIntervalInSeconds": 300,
    }
    assert config["AutoRollbackConfiguration"] == {"Alarms": own_alarm_names()}


def test_rolling_takes_batch_size_timeout_and_rollback_batch_size(templates) -> None:
    assert deployment(templates["rolling_full"])["RollingUpdatePolicy"] == {
        "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
        "WaitIntervalInSeconds": 420,
        "MaximumExecutionTimeoutInSeconds": 5400,
        "RollbackMaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
    }


def test_rolling_rollback_batch_size_by_instance_count(templates) -> None:
    policy = deployment(templates["rolling_rollback_instances"])["RollingUpdatePolicy"]

    assert policy["MaximumBatchSize"] == {"Type": "CAPACITY_PERCENT", "Value": 34}
    assert policy["RollbackMaximumBatchSize"] == {"Type": "INSTANCE_COUNT", "Value": 1}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_rolls_back_on_the_three_alarms_the_endpoint_creates(templates, mode) -> None:
    alarms = deployment(templates[mode])["AutoRollbackConfiguration"]["Alarms"]
    created = resources(templates[mode], "AWS::CloudWatch::Alarm")

    assert alarms[:3] == own_alarm_names()
    assert len(created) == 3
    assert all(alarm["Properties"].get("AlarmActions") is None for alarm in created.values())


# ---- user alarms -----------------------------------------------------------------------------------


def test_rollback_alarm_names_from_model_yaml_join_the_endpoints_own_alarms(templates) -> None:
    alarms = deployment(templates["rolling_full"])["AutoRollbackConfiguration"]["Alarms"]

    assert alarms == [*own_alarm_names(), {"AlarmName": "team-a-business-kpi"}, {"AlarmName": "team-a-p50-latency"}]


def test_user_rollback_alarms_create_nothing(templates) -> None:
    assert len(resources(templates["rolling_full"], "AWS::CloudWatch::Alarm")) == 3


def test_rollback_alarms_prop_of_model_endpoint_from_python() -> None:
    stack = cdk.Stack(cdk.App(), "Props", env=cdk.Environment(account=ACCOUNT, region=REGION))
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    settings = EndpointVariantConfig(
        instance_count=2,
        traffic_shifting=TrafficShiftingConfig(type="rolling", size_type="instance_count", size_instances=1),
    )
    ModelEndpoint(
        stack,
        "Endpoint",
        model_name="demo",
        stage="production",
        model_package_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/demo/1",
        settings=settings,
        encryption_key=key,
        artifact_bucket=s3.Bucket.from_bucket_arn(stack, "Bucket", BUCKET_ARN),
        rollback_alarms=[cloudwatch.Alarm.from_alarm_name(stack, "Kpi", "kpi-alarm")],
        latency_threshold=Duration.millis(250),
    )
    template = Template.from_stack(stack).to_json()
    config = deployment(template)

    assert config["RollingUpdatePolicy"]["MaximumBatchSize"] == {"Type": "INSTANCE_COUNT", "Value": 1}
    assert config["AutoRollbackConfiguration"]["Alarms"][-1] == {"AlarmName": "kpi-alarm"}
    latency = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ModelLatency"
    ]
    assert [a["Threshold"] for a in latency] == [250_000]  # microseconds; sub-second thresholds work


# ---- the model-errors alarm ------------------------------------------------------------------------


def test_model_errors_alarm_watches_invocation_model_errors_of_the_variant(templates) -> None:
    alarms = resources(templates["all_at_once"], "AWS::CloudWatch::Alarm").values()
    (alarm,) = [a["Properties"] for a in alarms if a["Properties"]["MetricName"] == "InvocationModelErrors"]
    endpoint_id, _ = only_resource(templates["all_at_once"], "AWS::SageMaker::Endpoint")

    assert alarm["AlarmName"] == {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-Endpoint-model-errors"]]}
    assert alarm["Namespace"] == "AWS/SageMaker"
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 60
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 2
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["Dimensions"] == [
        {"Name": "EndpointName", "Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]


def test_rollback_alarm_names_can_be_computed_from_the_stack_name() -> None:
    assert rollback_alarm_names("Mlops-x-Production") == [
        "Mlops-x-Production-Endpoint-5xx-errors",
        "Mlops-x-Production-Endpoint-model-latency-p99",
        "Mlops-x-Production-Endpoint-model-errors",
    ]


# ---- configuration checks --------------------------------------------------------------------------


def test_defaults_from_python_props() -> None:
    shifting = TrafficShiftingConfig()

    assert (shifting.type.value, shifting.size_type.value, shifting.size_percent, shifting.size_instances) == (
        "all_at_once",
        "percent",
        10,
        None,
    )
    assert (shifting.wait_minutes, shifting.bake_minutes, shifting.max_execution_timeout_minutes) == (5, 10, None)
    assert (shifting.rollback_size_percent, shifting.rollback_size_instances) == (None, None)
    assert EndpointVariantConfig().rollback_alarm_names == ()


INVALID: list[tuple[str, dict[str, Any], dict[str, Any] | None, str]] = [
    (
        "canary on serverless",
        {"serverless": True, "traffic_shifting": {"type": "canary"}},
        None,
        "endpoints.production.traffic_shifting.type: serverless endpoints support only all_at_once traffic "
        "shifting; canary needs an instance endpoint (serverless: false) (got 'canary')",
    ),
    (
        "linear on serverless staging",
        {},
        {"serverless": True, "traffic_shifting": {"type": "linear", "size_percent": 20}},
        "endpoints.staging.traffic_shifting.type: serverless endpoints support only all_at_once traffic "
        "shifting; linear needs an instance endpoint (serverless: false) (got 'linear')",
    ),
    (
        "rolling on serverless",
        {"serverless": True, "traffic_shifting": {"type": "rolling"}},
        None,
        "endpoints.production.traffic_shifting.type: serverless endpoints support only all_at_once traffic "
        "shifting; rolling needs an instance endpoint (serverless: false) (got 'rolling')",
    ),
    (
        "canary instance count not below the instance count",
        {
            "instance_count": 2,
            "traffic_shifting": {"type": "canary", "size_type": "instance_count", "size_instances": 2},
        },
        None,
        "endpoints.production.traffic_shifting.size_instances: must be at most 50 percent of instance_count (2) "
        "for canary traffic shifting, so fewer than the instance count (got 2)",
    ),
    (
        "canary by instance count on one instance",
        {
            "instance_count": 1,
            "traffic_shifting": {"type": "canary", "size_type": "instance_count", "size_instances": 1},
        },
        None,
        "endpoints.production.traffic_shifting.size_instances: must be at most 50 percent of instance_count (1) "
        "for canary traffic shifting, so fewer than the instance count (got 1)",
    ),
    (
        "linear step below 10 percent",
        {"instance_count": 4, "traffic_shifting": {"type": "linear", "size_percent": 5}},
        None,
        "endpoints.production.traffic_shifting.size_percent: must be between 10 and 50 for linear traffic "
        "shifting (SageMaker's limit) (got 5)",
    ),
    (
        "linear step above 50 percent",
        {"instance_count": 4, "traffic_shifting": {"type": "linear", "size_percent": 60}},
        None,
        "endpoints.production.traffic_shifting.size_percent: Input should be less than or equal to 50 (got 60)",
    ),
    (
        "linear step by instances below 10 percent",
        {
            "instance_count": 20,
            "traffic_shifting": {"type": "linear", "size_type": "instance_count", "size_instances": 1},
        },
        None,
        "endpoints.production.traffic_shifting.size_instances: must be at least 10 percent of instance_count (20) "
        "for linear traffic shifting (got 1)",
    ),
    (
        "rolling batch below 5 percent",
        {"instance_count": 4, "traffic_shifting": {"type": "rolling", "size_percent": 4}},
        None,
        "endpoints.production.traffic_shifting.size_percent: must be between 5 and 50 for rolling traffic "
        "shifting (SageMaker's limit) (got 4)",
    ),
    (
        "rolling on one instance",
        {"instance_count": 1, "traffic_shifting": {"type": "rolling"}},
        None,
        "endpoints.production.instance_count: must be at least 2 for rolling updates (a batch is 5 to 50 percent "
        "of the instances) (got 1)",
    ),
    (
        "rolling batch of more than half the instances",
        {
            "instance_count": 4,
            "traffic_shifting": {"type": "rolling", "size_type": "instance_count", "size_instances": 3},
        },
        None,
        "endpoints.production.traffic_shifting.size_instances: must be at most 50 percent of instance_count (4) "
        "for rolling traffic shifting, so fewer than the instance count (got 3)",
    ),
    (
        "rolling with a bake",
        {"instance_count": 2, "traffic_shifting": {"type": "rolling", "bake_minutes": 5}},
        None,
        "endpoints.production.traffic_shifting.bake_minutes: does not apply to rolling updates (use wait_minutes "
        "per batch) (got 5)",
    ),
    (
        "rolling timeout too short",
        {"instance_count": 2, "traffic_shifting": {"type": "rolling", "max_execution_timeout_minutes": 5}},
        None,
        "endpoints.production.traffic_shifting.max_execution_timeout_minutes: Input should be greater than or "
        "equal to 10 (got 5)",
    ),
    (
        "rolling-only option on canary",
        {"instance_count": 2, "traffic_shifting": {"type": "canary", "max_execution_timeout_minutes": 60}},
        None,
        "endpoints.production.traffic_shifting.max_execution_timeout_minutes: only applies to rolling updates "
        "(type is canary) (got 60)",
    ),
    (
        "rollback size on linear",
        {"instance_count": 4, "traffic_shifting": {"type": "linear", "size_percent": 25, "rollback_size_percent": 50}},
        None,
        "endpoints.production.traffic_shifting.rollback_size_percent: only applies to rolling updates "
        "(type is linear) (got 50)",
    ),
    (
        "both rollback sizes",
        {
            "instance_count": 4,
            "traffic_shifting": {"type": "rolling", "rollback_size_percent": 50, "rollback_size_instances": 2},
        },
        None,
        "endpoints.production.traffic_shifting.rollback_size_instances: give either rollback_size_percent or "
        "rollback_size_instances, not both (got 2)",
    ),
    (
        "rollback batch above the instance count",
        {"instance_count": 2, "traffic_shifting": {"type": "rolling", "rollback_size_instances": 3}},
        None,
        "endpoints.production.traffic_shifting.rollback_size_instances: is above instance_count (2) (got 3)",
    ),
    (
        "instance_count sizing without size_instances",
        {"instance_count": 4, "traffic_shifting": {"type": "canary", "size_type": "instance_count"}},
        None,
        "endpoints.production.traffic_shifting.size_instances: is required when size_type is 'instance_count' "
        "(got None)",
    ),
    (
        "size_instances with percent sizing",
        {"instance_count": 4, "traffic_shifting": {"type": "canary", "size_instances": 1}},
        None,
        "endpoints.production.traffic_shifting.size_instances: only applies when size_type is 'instance_count' (got 1)",
    ),
    (
        "size_percent with instance_count sizing",
        {
            "instance_count": 4,
            "traffic_shifting": {
                "type": "canary",
                "size_type": "instance_count",
                "size_instances": 1,
                "size_percent": 20,
            },
        },
        None,
        "endpoints.production.traffic_shifting.size_percent: does not apply when size_type is 'instance_count' "
        "(got 20)",
    ),
    (
        "unknown size type",
        {"instance_count": 4, "traffic_shifting": {"type": "canary", "size_type": "instances"}},
        None,
        "endpoints.production.traffic_shifting.size_type: Input should be 'percent' or 'instance_count'; "
        "did you mean 'instance_count'? (got 'instances')",
    ),
    (
        "unknown traffic shifting type",
        {"traffic_shifting": {"type": "blue_green"}},
        None,
        "endpoints.production.traffic_shifting.type: Input should be 'all_at_once', 'canary', 'linear' or "
        "'rolling' (got 'blue_green')",
    ),
    (
        "user alarms on serverless",
        {},
        {"serverless": True, "rollback_alarm_names": ["kpi"]},
        "endpoints.staging.rollback_alarm_names: does not apply to serverless endpoints (they have no deployment "
        "guardrails) (got ['kpi'])",
    ),
    (
        "provisioned concurrency above the maximum",
        {},
        {"serverless": True, "max_concurrency": 5, "provisioned_concurrency": 6},
        "endpoints.staging.provisioned_concurrency: must be at most max_concurrency (5) (got 6)",
    ),
    (
        "provisioned concurrency on an instance endpoint",
        {"provisioned_concurrency": 2},
        None,
        "endpoints.production.provisioned_concurrency: applies to serverless endpoints only (serverless: true); "
        "size instance endpoints with instance_count and autoscaling (got 2)",
    ),
    (
        "empty alarm name",
        {"rollback_alarm_names": [""]},
        None,
        "endpoints.production.rollback_alarm_names: alarm names are 1 to 255 characters without control "
        "characters (got '') (got [''])",
    ),
    (
        "duplicate alarm name",
        {"rollback_alarm_names": ["kpi", "kpi"]},
        None,
        "endpoints.production.rollback_alarm_names: lists the same alarm twice (got ['kpi', 'kpi'])",
    ),
]


@pytest.mark.parametrize(
    ("production", "staging", "problem"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_rollouts_are_rejected_naming_file_field_and_value(production, staging, problem) -> None:
    with pytest.raises(ModelConfigError) as raised:
        parse_model_config(model_data(production, staging), PATH)

    assert raised.value.problems == [problem]
    assert str(raised.value).startswith(f"invalid model configuration {PATH}:")


def test_serverless_endpoint_takes_memory_concurrency_and_provisioned_concurrency() -> None:
    staging = {"serverless": True, "memory_mb": 3072, "max_concurrency": 20, "provisioned_concurrency": 4}
    stack = ModelEndpointStack(
        cdk.App(builtin_cloud_formation_validation=False),
        "Serverless-provisioned",
        model=parse_model_config(model_data({}, staging), PATH),
        stage="staging",
        artifact_bucket_arn=BUCKET_ARN,
        encryption_key_arn=KEY_ARN,
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )
    _, config = only_resource(Template.from_stack(stack).to_json(), "AWS::SageMaker::EndpointConfig")

    assert config["Properties"]["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": 3072,
        "MaxConcurrency": 20,
        "ProvisionedConcurrency": 4,
    }


def test_traffic_shifting_checks_run_from_python_props_too() -> None:
    with pytest.raises(ValueError, match="must be at least 2 for rolling updates"):
        EndpointVariantConfig(instance_count=1, traffic_shifting=TrafficShiftingConfig(type="rolling"))
