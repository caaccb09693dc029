"""Several models on one endpoint (``endpoints.<stage>.shared_endpoint``): the shared endpoint stack, each
model's inference component, its autoscaling, rollout policy, alarms and IAM, and the configuration
errors. Models are written in ``tmp_path``; templates are read with ``aws_cdk.assertions``.

The resource properties follow the CloudFormation reference of ``AWS::SageMaker::InferenceComponent``
(``DeploymentConfig.RollingUpdatePolicy``, ``RuntimeConfig.CopyCount``, ``Specification.
ComputeResourceRequirements``) and of ``AWS::SageMaker::EndpointConfig`` (``ManagedInstanceScaling``,
``RoutingConfig``, ``ExecutionRoleArn`` for endpoints hosting inference components), and the Application
Auto Scaling documentation for inference components (``sagemaker:inference-component:DesiredCopyCount``,
``SageMakerInferenceComponentInvocationsPerCopy``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from cdk_mlops.app_builder import MlopsApp, build_app
from cdk_mlops.config.loader import ModelConfigError, parse_model_config
from cdk_mlops_testing import ACCOUNT, REGION, example_config_data, write_model_with_code

SHARED = """name: team-shared
instance_type: ml.m5.xlarge
instance_count: 2
managed_instance_scaling: {min_instances: 1, max_instances: 3}
"""


def _model(name: str, production: dict[str, Any]) -> dict[str, Any]:
    data = example_config_data("churn-xgb")
    data["name"] = name
    data.pop("source", None)
    data["source"] = {"provider": "s3", "bucket": "sources", "object_key": f"{name}/source.zip"}
    data["endpoints"] = {"staging": {"serverless": True}, "production": production}
    data.pop("drift", None)
    return data


def _build(tmp_path: Path, models: list[dict[str, Any]], shared: str | None = SHARED) -> MlopsApp:
    models_dir = tmp_path / "models"
    for data in models:
        write_model_with_code(models_dir, data)
    if shared is not None:
        (models_dir / "shared_endpoints").mkdir(parents=True, exist_ok=True)
        (models_dir / "shared_endpoints" / "team-shared.yaml").write_text(shared, encoding="utf-8")
    app = cdk.App(context={"nag": "false"})
    return build_app(app, models_dir, region=REGION, account=ACCOUNT)


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> MlopsApp:
    return _build(
        tmp_path_factory.mktemp("shared"),
        [
            _model(
                "churn",
                {
                    "shared_endpoint": "team-shared",
                    "component": {
                        "copies": 2,
                        "cpus": 1,
                        "memory_mb": 2048,
                        "accelerators": 1,
                        "autoscaling": {"min_copies": 1, "max_copies": 6, "target_invocations_per_copy": 50},
                        "rollout_batch_copies": 1,
                        "rollout_wait_minutes": 3,
                    },
                    "rollback_alarm_names": ["churn-kpi-drop"],
                },
            ),
            _model("upsell", {"shared_endpoint": "team-shared"}),
        ],
    )


def test_shared_endpoint_gets_one_stack_of_its_own_for_both_models(two_models: MlopsApp) -> None:
    assert list(two_models.shared_endpoints) == ["team-shared"]
    stack = two_models.shared_endpoints["team-shared"]
    assert stack.stack_name == "Mlops-Endpoint-team-shared"
    for model in ("churn", "upsell"):
        production = two_models.models[model].production
        assert production is not None
        assert stack in production.dependencies


def test_shared_endpoint_config_has_instances_managed_scaling_routing_and_no_model(two_models: MlopsApp) -> None:
    template = Template.from_stack(two_models.shared_endpoints["team-shared"])
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ExecutionRoleArn": Match.any_value(),
            "KmsKeyId": Match.any_value(),
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "InstanceType": "ml.m5.xlarge",
                    "InitialInstanceCount": 2,
                    "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 3},
                    "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
                    "ModelName": Match.absent(),
                }
            ],
        },
    )
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"EndpointName": "Mlops-Endpoint-team-shared"})
    template.resource_count_is("AWS::SageMaker::Model", 0)
    template.has_output("EndpointName", {"Value": Match.any_value()})


def test_component_reserves_copies_cpus_memory_and_accelerators_on_the_shared_endpoint(two_models: MlopsApp) -> None:
    production = two_models.models["churn"].production
    assert production is not None
    template = Template.from_stack(production)
    template.resource_count_is("AWS::SageMaker::Endpoint", 0)
    template.resource_count_is("AWS::SageMaker::EndpointConfig", 0)
    template.has_resource(
        "AWS::SageMaker::InferenceComponent",
        {
            "Condition": "HasModelPackage",
            "Properties": {
                "EndpointName": "Mlops-Endpoint-team-shared",
                "VariantName": "AllTraffic",
                "InferenceComponentName": {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-Component"]]},
                "RuntimeConfig": {"CopyCount": 2},
                "Specification": {
                    "ModelName": Match.any_value(),
                    "ComputeResourceRequirements": {
                        "NumberOfCpuCoresRequired": 1,
                        "MinMemoryRequiredInMb": 2048,
                        "NumberOfAcceleratorDevicesRequired": 1,
                    },
                },
            },
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model", {"Containers": [{"ModelPackageName": {"Ref": "ModelPackageArn"}}]}
    )
    template.has_output("InferenceComponentName", {"Condition": "HasModelPackage"})
    template.has_output("EndpointName", {"Value": "Mlops-Endpoint-team-shared"})


def test_component_rolls_out_copy_by_copy_with_auto_rollback_on_its_alarms(two_models: MlopsApp) -> None:
    production = two_models.models["churn"].production
    assert production is not None
    template = Template.from_stack(production)
    stack_name = {"Ref": "AWS::StackName"}
    template.has_resource_properties(
        "AWS::SageMaker::InferenceComponent",
        {
            "DeploymentConfig": {
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
                    "WaitIntervalInSeconds": 180,
                },
                "AutoRollbackConfiguration": {
                    "Alarms": [
                        {"AlarmName": {"Fn::Join": ["", [stack_name, f"-Component-{suffix}"]]}}
                        for suffix in ("5xx-errors", "model-latency-p99", "model-errors")
                    ]
                    + [{"AlarmName": "churn-kpi-drop"}]
                },
            }
        },
    )
    for metric in ("Invocation5XXErrors", "ModelLatency", "InvocationModelErrors"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": metric,
                "Namespace": "AWS/SageMaker",
                "Dimensions": [
                    {
                        "Name": "InferenceComponentName",
                        "Value": {"Fn::Join": ["", [stack_name, "-Component"]]},
                    }
                ],
            },
        )


def test_component_autoscaling_tracks_invocations_per_copy(two_models: MlopsApp) -> None:
    production = two_models.models["churn"].production
    assert production is not None
    template = Template.from_stack(production)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ServiceNamespace": "sagemaker",
            "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
            "ResourceId": {"Fn::Join": ["", ["inference-component/", {"Ref": "AWS::StackName"}, "-Component"]]},
            "MinCapacity": 1,
            "MaxCapacity": 6,
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 50,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"
                },
            }
        },
    )


def test_component_defaults_to_one_copy_of_one_cpu_without_autoscaling(two_models: MlopsApp) -> None:
    production = two_models.models["upsell"].production
    assert production is not None
    template = Template.from_stack(production)
    template.has_resource_properties(
        "AWS::SageMaker::InferenceComponent",
        {
            "RuntimeConfig": {"CopyCount": 1},
            "Specification": {
                "ComputeResourceRequirements": {
                    "NumberOfCpuCoresRequired": 1,
                    "MinMemoryRequiredInMb": 1024,
                    "NumberOfAcceleratorDevicesRequired": Match.absent(),
                }
            },
        },
    )
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)


def test_component_hosting_role_reads_only_its_models_artifacts(two_models: MlopsApp) -> None:
    production = two_models.models["churn"].production
    assert production is not None
    template = Template.from_stack(production)
    policies = template.find_resources("AWS::IAM::Policy")
    actions = {
        action
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert "s3:GetObject" in actions or "s3:GetObject*" in actions
    assert not {action for action in actions if action.startswith("s3:Put") or action.startswith("s3:Delete")}
    assert "sagemaker:*" not in actions


def test_model_without_shared_endpoint_keeps_its_own_endpoint(tmp_path: Path) -> None:
    app = _build(tmp_path, [_model("solo", {"instance_type": "ml.m5.large"})], shared=None)
    assert app.shared_endpoints == {}
    production = app.models["solo"].production
    assert production is not None
    template = Template.from_stack(production)
    template.resource_count_is("AWS::SageMaker::InferenceComponent", 0)
    template.resource_count_is("AWS::SageMaker::Endpoint", 1)


# ---- configuration errors ------------------------------------------------------------------------------


def test_missing_shared_endpoint_file_is_refused_naming_the_model_file_field_and_value(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError) as error:
        _build(tmp_path, [_model("churn", {"shared_endpoint": "team-shared"})], shared=None)
    message = str(error.value)
    assert "churn/model.yaml" in message
    assert "endpoints.production.shared_endpoint" in message
    assert "shared_endpoints/team-shared.yaml" in message
    assert "'team-shared'" in message


def test_shared_endpoint_file_of_another_name_is_refused_naming_both_files(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError) as error:
        _build(tmp_path, [_model("churn", {"shared_endpoint": "team-shared"})], shared="name: other\n")
    message = str(error.value)
    assert "team-shared.yaml" in message and "churn/model.yaml" in message and "'other'" in message


@pytest.mark.parametrize(
    ("production", "field", "reason"),
    [
        ({"serverless": True}, "serverless", "instance endpoints only"),
        ({"async_inference": {}}, "async_inference", "real-time requests only"),
        ({"shadow": {"minutes": 30}}, "shadow", "shadow variants"),
        ({"instance_type": "ml.c5.large"}, "instance_type", "shared_endpoints/team-shared.yaml"),
        ({"instance_count": 3}, "instance_count", "one source of truth"),
        ({"account": "222222222222"}, "account", "pipeline's account and region"),
        ({"region": "us-west-2"}, "region", "pipeline's account and region"),
        ({"traffic_shifting": {"type": "canary"}}, "traffic_shifting", "rolling update"),
        ({"autoscaling": {"max_capacity": 3}}, "autoscaling", "component.autoscaling"),
    ],
)
def test_settings_sagemaker_or_the_shared_endpoint_rule_out_are_refused(
    production: dict[str, Any], field: str, reason: str
) -> None:
    data = _model("churn", {"shared_endpoint": "team-shared", **production})
    with pytest.raises(ModelConfigError) as error:
        parse_model_config(data, "models/churn/model.yaml")
    message = str(error.value)
    assert "models/churn/model.yaml" in message
    assert f"endpoints.production.{field}" in message
    assert reason in message


def _problems(production: dict[str, Any], **extra: Any) -> str:
    data = _model("churn", production)
    data["endpoints"].update(extra)
    with pytest.raises(ModelConfigError) as error:
        parse_model_config(data, "models/churn/model.yaml")
    return str(error.value)


def test_component_without_shared_endpoint_is_refused() -> None:
    message = _problems({"component": {"copies": 2}})
    assert "endpoints.production.component" in message and "only applies with shared_endpoint" in message


def test_copies_outside_the_autoscaling_range_are_refused() -> None:
    message = _problems(
        {"shared_endpoint": "team-shared", "component": {"copies": 5, "autoscaling": {"max_copies": 4}}}
    )
    assert "endpoints.production.component.copies" in message and "(got 5)" in message


def test_data_capture_with_a_shared_endpoint_is_refused() -> None:
    message = _problems({"shared_endpoint": "team-shared"}, data_capture={"enabled": True})
    assert "endpoints.data_capture.enabled" in message and "shared endpoint" in message


def test_the_pipeline_dashboard_shows_the_components_rollback_alarms(two_models: MlopsApp) -> None:
    body = json.dumps(Template.from_stack(two_models.models["churn"].pipeline).to_json())
    for suffix in ("5xx-errors", "model-latency-p99", "model-errors"):
        assert f"Mlops-churn-Production-Component-{suffix}" in body
    assert "Mlops-churn-Production-Endpoint-" not in body


def test_an_invalid_shared_endpoint_file_is_refused_naming_its_field_and_value(tmp_path: Path) -> None:
    shared = "name: team-shared\ninstance_count: 5\nmanaged_instance_scaling: {max_instances: 2}\nrouting: fastest\n"
    with pytest.raises(ModelConfigError) as error:
        _build(tmp_path, [_model("churn", {"shared_endpoint": "team-shared"})], shared=shared)
    message = str(error.value)
    assert "shared_endpoints/team-shared.yaml" in message
    assert "routing: must be least_outstanding_requests or random (got 'fastest')" in message
