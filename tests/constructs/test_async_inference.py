"""Asynchronous inference on production endpoints: the rendered ``AsyncInferenceConfig``, the hosting
role's grants, the notification topics, scale-to-zero autoscaling, cdk-nag, and the configuration checks
(serverless, traffic shifting, staging, autoscaling fields)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_mlops.config import (
    AsyncInferenceConfig,
    AutoscalingConfig,
    EndpointVariantConfig,
    ModelConfigError,
    parse_model_config,
)
from cdk_mlops.constructs.compliance import acknowledged_findings
from cdk_mlops.stacks.endpoint_stack import ModelEndpointStack
from cdk_mlops_testing import (
    ACCOUNT,
    BUCKET_ARN,
    KEY_ARN,
    REGION,
    construct_resource,
    example_config_data,
    only_resource,
    resources,
    role_statements,
)

PATH = "models/churn-xgb/model.yaml"
PREFIX = "churn-xgb/async/production"

#: name -> the production endpoint section of churn-xgb's model.yaml.
CASES: dict[str, dict[str, Any]] = {
    "defaults": {"async_inference": {}},
    "custom": {
        "instance_count": 2,
        "async_inference": {
            "output_prefix": "results/churn/",
            "failure_prefix": "results/churn-failed/",
            "input_prefix": "requests/churn/",
            "max_concurrent_invocations_per_instance": 16,
            "notify": False,
            "scale_to_zero": False,
        },
        "autoscaling": {"min_capacity": 1, "max_capacity": 3},
        "traffic_shifting": {"type": "rolling", "size_percent": 50},
    },
    "scale_to_zero_with_autoscaling": {
        "async_inference": {"target_backlog_per_instance": 20},
        "autoscaling": {"max_capacity": 8, "scale_in_cooldown_seconds": 900, "scale_out_cooldown_seconds": 120},
    },
    "no_autoscaling": {"async_inference": {"scale_to_zero": False}},
}


def model_data(production: dict[str, Any], staging: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(example_config_data("churn-xgb"))
    data["endpoints"]["production"] = {"instance_type": "ml.m5.large", **production}
    if staging is not None:
        data["endpoints"]["staging"] = staging
    return data


def endpoint_stack(app: cdk.App, name: str, production: dict[str, Any]) -> ModelEndpointStack:
    return ModelEndpointStack(
        app,
        f"Async-{name.replace('_', '-')}",
        model=parse_model_config(model_data(production), PATH),
        stage="production",
        artifact_bucket_arn=BUCKET_ARN,
        encryption_key_arn=KEY_ARN,
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stacks = {name: endpoint_stack(app, name, section) for name, section in CASES.items()}
    return {name: Template.from_stack(stack).to_json() for name, stack in stacks.items()}


def async_config(template: dict[str, Any]) -> dict[str, Any]:
    return only_resource(template, "AWS::SageMaker::EndpointConfig")[1]["Properties"]["AsyncInferenceConfig"]


def hosting_role_statements(template: dict[str, Any]) -> list[Any]:
    role_id, _ = construct_resource(template, "AWS::IAM::Role", "EndpointHostingRole")
    return role_statements(template, role_id)


def topic_id(template: dict[str, Any], prefix: str) -> str:
    return construct_resource(template, "AWS::SNS::Topic", prefix)[0]


# ---- the endpoint config ---------------------------------------------------------------------------


def test_defaults_render_output_failure_paths_key_topics_and_four_concurrent_invocations(templates) -> None:
    template = templates["defaults"]

    assert async_config(template) == {
        "OutputConfig": {
            "S3OutputPath": f"s3://mlops-artifacts/{PREFIX}/output/",
            "S3FailurePath": f"s3://mlops-artifacts/{PREFIX}/failures/",
            "KmsKeyId": KEY_ARN,
            "NotificationConfig": {
                "SuccessTopic": {"Ref": topic_id(template, "EndpointAsyncSuccessTopic")},
                "ErrorTopic": {"Ref": topic_id(template, "EndpointAsyncErrorTopic")},
            },
        },
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
    }


def test_custom_prefixes_and_concurrency_without_notifications(templates) -> None:
    assert async_config(templates["custom"]) == {
        "OutputConfig": {
            "S3OutputPath": "s3://mlops-artifacts/results/churn/",
            "S3FailurePath": "s3://mlops-artifacts/results/churn-failed/",
            "KmsKeyId": KEY_ARN,
        },
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 16},
    }
    assert resources(templates["custom"], "AWS::SNS::Topic") == {}


def test_real_time_endpoints_have_no_async_config(example_app) -> None:
    for name, template in example_app.json.items():
        for config in resources(template, "AWS::SageMaker::EndpointConfig").values():
            assert "AsyncInferenceConfig" not in config["Properties"], name


def test_async_endpoint_keeps_its_rolling_deployment_config(templates) -> None:
    endpoint = only_resource(templates["custom"], "AWS::SageMaker::Endpoint")[1]["Properties"]

    assert endpoint["DeploymentConfig"]["RollingUpdatePolicy"]["MaximumBatchSize"] == {
        "Type": "CAPACITY_PERCENT",
        "Value": 50,
    }


# ---- topics and IAM --------------------------------------------------------------------------------


def test_topics_are_encrypted_with_the_platform_key_and_require_tls(templates) -> None:
    template = templates["defaults"]
    topics = resources(template, "AWS::SNS::Topic")

    assert sorted(props["Properties"]["DisplayName"] for props in topics.values()) == [
        "cdk-mlops churn-xgb production async inference errors",
        "cdk-mlops churn-xgb production async inference results",
    ]
    assert {props["Properties"]["KmsMasterKeyId"] for props in topics.values()} == {KEY_ARN}
    policies = resources(template, "AWS::SNS::TopicPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_topics_are_exposed_as_attributes() -> None:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = endpoint_stack(app, "attributes", CASES["defaults"])
    quiet = endpoint_stack(app, "quiet", {"async_inference": {"notify": False}})

    assert stack.endpoint.success_topic is not None and stack.endpoint.error_topic is not None
    assert stack.endpoint.success_topic.node.id == "AsyncSuccessTopic"
    assert stack.endpoint.error_topic.node.id == "AsyncErrorTopic"
    assert quiet.endpoint.success_topic is None and quiet.endpoint.error_topic is None


def test_hosting_role_writes_only_the_output_and_failure_prefixes_and_reads_the_input_prefix(templates) -> None:
    found = {
        (tuple(statement.actions), resource)
        for statement in hosting_role_statements(templates["defaults"])
        for resource in statement.resources
        if isinstance(resource, str) and "/async/" in resource
    }

    assert found == {
        (("s3:GetObject",), f"arn:aws:s3:::mlops-artifacts/{PREFIX}/input/*"),
        (("s3:GetObject", "s3:PutObject"), f"arn:aws:s3:::mlops-artifacts/{PREFIX}/output/*"),
        (("s3:GetObject", "s3:PutObject"), f"arn:aws:s3:::mlops-artifacts/{PREFIX}/failures/*"),
    }


def test_hosting_role_writes_custom_prefixes(templates) -> None:
    writes = {
        resource
        for statement in hosting_role_statements(templates["custom"])
        if statement.allows("s3:PutObject")
        for resource in statement.resources
    }

    assert {
        "arn:aws:s3:::mlops-artifacts/results/churn/*",
        "arn:aws:s3:::mlops-artifacts/results/churn-failed/*",
    } <= writes
    assert not any("/async/" in str(resource) for resource in writes)


def test_hosting_role_publishes_to_both_topics_and_uses_the_key(templates) -> None:
    template = templates["defaults"]
    statements = hosting_role_statements(template)
    published = {
        resource["Ref"]
        for statement in statements
        if statement.allows("sns:Publish")
        for resource in statement.resources
    }

    assert published == {
        topic_id(template, "EndpointAsyncSuccessTopic"),
        topic_id(template, "EndpointAsyncErrorTopic"),
    }
    for action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"):
        assert any(statement.allows(action) and KEY_ARN in statement.resources for statement in statements)
    assert not any(statement.allows("sns:Publish") for statement in hosting_role_statements(templates["custom"]))


# ---- autoscaling -----------------------------------------------------------------------------------


def backlog_metric(name: str, template: dict[str, Any]) -> dict[str, Any]:
    endpoint_id = only_resource(template, "AWS::SageMaker::Endpoint")[0]
    return {
        "Namespace": "AWS/SageMaker",
        "MetricName": name,
        "Dimensions": [{"Name": "EndpointName", "Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}}],
        "Statistic": "Average",
    }


def test_scale_to_zero_defaults_track_the_backlog_per_instance_from_zero_instances(templates) -> None:
    template = templates["defaults"]
    target = only_resource(template, "AWS::ApplicationAutoScaling::ScalableTarget")[1]["Properties"]
    policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = next(p for p in policies.values() if p["Properties"]["PolicyType"] == "TargetTrackingScaling")

    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 4)
    assert tracking["Properties"]["TargetTrackingScalingPolicyConfiguration"] == {
        "CustomizedMetricSpecification": backlog_metric("ApproximateBacklogSizePerInstance", template),
        "TargetValue": 5,
        "ScaleInCooldown": 300,
        "ScaleOutCooldown": 60,
    }
    assert len(policies) == 2


def test_scale_to_zero_steps_out_from_zero_on_has_backlog_without_capacity(templates) -> None:
    template = templates["defaults"]
    step_id, step = construct_resource(
        template, "AWS::ApplicationAutoScaling::ScalingPolicy", "EndpointScaleOutFromZero"
    )
    _, alarm = construct_resource(template, "AWS::CloudWatch::Alarm", "EndpointHasBacklogWithoutCapacityAlarm")
    metric = backlog_metric("HasBacklogWithoutCapacity", template)

    assert step["Properties"]["StepScalingPolicyConfiguration"] == {
        "AdjustmentType": "ChangeInCapacity",
        "MetricAggregationType": "Average",
        "Cooldown": 60,
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    }
    props = alarm["Properties"]
    assert {key: props[key] for key in metric} == metric
    assert props["AlarmActions"] == [{"Ref": step_id}]
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert (props["Period"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (60, 2, 2)


def test_scale_to_zero_takes_maximum_cooldowns_and_target_from_the_config(templates) -> None:
    template = templates["scale_to_zero_with_autoscaling"]
    target = only_resource(template, "AWS::ApplicationAutoScaling::ScalableTarget")[1]["Properties"]
    _, tracking = construct_resource(
        template, "AWS::ApplicationAutoScaling::ScalingPolicy", "EndpointScalableTargetBacklogPerInstance"
    )
    _, step = construct_resource(template, "AWS::ApplicationAutoScaling::ScalingPolicy", "EndpointScaleOutFromZero")

    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 8)
    config = tracking["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert (config["TargetValue"], config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (20, 900, 120)
    assert step["Properties"]["StepScalingPolicyConfiguration"]["Cooldown"] == 120


def test_without_scale_to_zero_autoscaling_is_the_usual_invocations_policy(templates) -> None:
    template = templates["custom"]
    target = only_resource(template, "AWS::ApplicationAutoScaling::ScalableTarget")[1]["Properties"]
    (policy,) = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()

    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    spec = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert spec == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert resources(templates["no_autoscaling"], "AWS::ApplicationAutoScaling::ScalableTarget") == {}


def test_every_async_resource_is_created_only_with_a_model_package(templates) -> None:
    kinds = (
        "AWS::SNS::Topic",
        "AWS::SNS::TopicPolicy",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::IAM::Policy",
    )
    for kind in kinds:
        for logical_id, resource in resources(templates["defaults"], kind).items():
            assert resource.get("Condition") == "HasModelPackage", logical_id


# ---- cdk-nag ---------------------------------------------------------------------------------------


def test_async_endpoint_stack_passes_cdk_nag_with_its_prefix_wildcards_justified(tmp_path: Path) -> None:
    from cdk_mlops.app_builder import enable_compliance_checks

    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    assert enable_compliance_checks(app)
    endpoint_stack(app, "nag", CASES["defaults"])
    endpoint_stack(app, "nag_custom", CASES["custom"])
    app.synth()  # an unacknowledged cdk-nag finding raises here

    report = tmp_path / "validation-report.json"
    assert not report.exists() or "FAILURE" not in report.read_text()
    acknowledged = [finding for findings in acknowledged_findings(app).values() for finding in findings]
    for prefix in (f"{PREFIX}/output/", f"{PREFIX}/failures/", f"{PREFIX}/input/", "results/churn-failed/"):
        assert f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:s3:::mlops-artifacts/{prefix}*]" in acknowledged


# ---- configuration ---------------------------------------------------------------------------------


def test_async_inference_defaults() -> None:
    config = AsyncInferenceConfig()

    assert (config.max_concurrent_invocations_per_instance, config.notify, config.scale_to_zero) == (4, True, True)
    assert config.target_backlog_per_instance == 5
    assert config.prefixes("m", "production") == (
        "m/async/production/output/",
        "m/async/production/failures/",
        "m/async/production/input/",
    )
    assert EndpointVariantConfig().async_inference is None


INVALID = [
    (
        "async on serverless staging",
        {},
        {"serverless": True, "async_inference": {}},
        "endpoints.staging.async_inference: is not available on serverless endpoints; use an instance endpoint "
        "(serverless: false) (got {})",
    ),
    (
        "async on serverless production",
        {"serverless": True, "async_inference": {"notify": False}},
        None,
        "endpoints.production.async_inference: is not available on serverless endpoints; use an instance endpoint "
        "(serverless: false) (got {'notify': False})",
    ),
    (
        "async on instance staging",
        {},
        {"instance_type": "ml.m5.large", "async_inference": {"max_concurrent_invocations_per_instance": 2}},
        "endpoints.staging.async_inference: is available for production only: the smoke test calls InvokeEndpoint "
        "synchronously on staging, which an asynchronous endpoint does not answer; keep staging real-time or "
        "serverless (got {'max_concurrent_invocations_per_instance': 2})",
    ),
    (
        "async with canary",
        {"instance_count": 4, "async_inference": {}, "traffic_shifting": {"type": "canary"}},
        None,
        "endpoints.production.traffic_shifting.type: asynchronous endpoints support only all_at_once or rolling "
        "traffic shifting (canary and linear split request traffic, which queued async requests do not have) "
        "(got 'canary')",
    ),
    (
        "async with linear",
        {"instance_count": 4, "async_inference": {}, "traffic_shifting": {"type": "linear", "size_percent": 25}},
        None,
        "endpoints.production.traffic_shifting.type: asynchronous endpoints support only all_at_once or rolling "
        "traffic shifting (canary and linear split request traffic, which queued async requests do not have) "
        "(got 'linear')",
    ),
    (
        "min_capacity with scale_to_zero",
        {"instance_count": 2, "async_inference": {}, "autoscaling": {"min_capacity": 2}},
        None,
        "endpoints.production.autoscaling.min_capacity: does not apply when async_inference.scale_to_zero is true "
        "(the endpoint scales from 0 on its backlog; see async_inference.target_backlog_per_instance) (got 2)",
    ),
    (
        "invocations target with scale_to_zero",
        {"async_inference": {}, "autoscaling": {"target_invocations_per_instance": 100}},
        None,
        "endpoints.production.autoscaling.target_invocations_per_instance: does not apply when "
        "async_inference.scale_to_zero is true (the endpoint scales from 0 on its backlog; see "
        "async_inference.target_backlog_per_instance) (got 100)",
    ),
    (
        "concurrency zero",
        {"async_inference": {"max_concurrent_invocations_per_instance": 0}},
        None,
        "endpoints.production.async_inference.max_concurrent_invocations_per_instance: Input should be greater "
        "than or equal to 1 (got 0)",
    ),
    (
        "concurrency above SageMaker's limit",
        {"async_inference": {"max_concurrent_invocations_per_instance": 1001}},
        None,
        "endpoints.production.async_inference.max_concurrent_invocations_per_instance: Input should be less "
        "than or equal to 1000 (got 1001)",
    ),
    (
        "prefix without trailing slash",
        {"async_inference": {"output_prefix": "results"}},
        None,
        "endpoints.production.async_inference.output_prefix: must be an S3 key prefix ending with '/' (letters, "
        "digits and !_.'()/-, no leading '/') (got 'results')",
    ),
    (
        "prefix with a wildcard",
        {"async_inference": {"output_prefix": "results/*/"}},
        None,
        "endpoints.production.async_inference.output_prefix: must be an S3 key prefix ending with '/' (letters, "
        "digits and !_.'()/-, no leading '/') (got 'results/*/')",
    ),
    (
        "prefix with leading slash",
        {"async_inference": {"failure_prefix": "/failures/"}},
        None,
        "endpoints.production.async_inference.failure_prefix: must be an S3 key prefix ending with '/' (letters, "
        "digits and !_.'()/-, no leading '/') (got '/failures/')",
    ),
    (
        "same output and failure prefix",
        {"async_inference": {"output_prefix": "out/", "failure_prefix": "out/"}},
        None,
        "endpoints.production.async_inference.failure_prefix: must differ from output_prefix (got 'out/')",
    ),
    (
        "notify not a boolean",
        {"async_inference": {"notify": "sometimes"}},
        None,
        "endpoints.production.async_inference.notify: Input should be a valid boolean, unable to interpret input "
        "(got 'sometimes')",
    ),
    (
        "unknown async field",
        {"async_inference": {"output_path": "s3://x/"}},
        None,
        "endpoints.production.async_inference.output_path: is not a known field; did you mean 'output_prefix'? "
        "(got 's3://x/')",
    ),
    (
        "backlog target zero",
        {"async_inference": {"target_backlog_per_instance": 0}},
        None,
        "endpoints.production.async_inference.target_backlog_per_instance: Input should be greater than or "
        "equal to 1 (got 0)",
    ),
]


@pytest.mark.parametrize(
    ("production", "staging", "problem"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_async_configurations_are_rejected_naming_file_field_and_value(production, staging, problem) -> None:
    with pytest.raises(ModelConfigError) as raised:
        parse_model_config(model_data(production, staging), PATH)

    assert raised.value.problems == [problem]
    assert str(raised.value).startswith(f"invalid model configuration {PATH}:")


def test_async_checks_run_from_python_props_too() -> None:
    with pytest.raises(ValueError, match="is not available on serverless endpoints"):
        EndpointVariantConfig(serverless=True, async_inference=AsyncInferenceConfig())
    with pytest.raises(ValueError, match="only all_at_once or rolling"):
        EndpointVariantConfig(
            instance_count=4, async_inference=AsyncInferenceConfig(), traffic_shifting={"type": "canary"}
        )
    # scale_to_zero false keeps the usual autoscaling, min_capacity included.
    config = EndpointVariantConfig(
        instance_count=2,
        async_inference=AsyncInferenceConfig(scale_to_zero=False),
        autoscaling=AutoscalingConfig(min_capacity=2),
    )
    assert config.autoscaling is not None and config.autoscaling.min_capacity == 2
