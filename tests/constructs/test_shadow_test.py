"""The shadow test before production (``endpoints.production.shadow``): the endpoint stack's
``ShadowModelPackageArn`` parameter and conditional shadow variant, the production deploy workflow's
states (start, poll, mirror, read metrics, compare, promote or remove and reject), and its IAM for
``cloudwatch:GetMetricData``.

SageMaker documents shadow variants as ``ShadowProductionVariants`` of the endpoint config, at most one,
next to exactly one production variant, the share of mirrored requests set by the variant weights
("Testing models with shadow variants",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-shadow-deployment.html); GetMetricData has no
resource-level permissions (Service Authorization Reference, Amazon CloudWatch)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_mlops.app_builder import build_app
from cdk_mlops.config import parse_model_config
from cdk_mlops.constructs.shadow_test import SHADOW_MODEL_PACKAGE_PARAMETER
from cdk_mlops.stacks.endpoint_stack import ModelEndpointStack
from cdk_mlops_testing import (
    ACCOUNT,
    BUCKET_ARN,
    KEY_ARN,
    REGION,
    construct_resource,
    definition,
    example_config_data,
    happy_path,
    only_resource,
    resources,
    role_statements,
    state_machine_role_id,
    write_model_with_code,
)

SHADOW = {"traffic_percent": 25, "minutes": 45, "max_latency_increase_percent": 12.5, "max_error_rate": 0.002}


def churn(shadow: dict[str, Any] | None) -> dict[str, Any]:
    data = copy.deepcopy(example_config_data("churn-xgb"))
    data["endpoints"]["production"] = {"instance_type": "ml.m5.xlarge", "instance_count": 3}
    if shadow is not None:
        data["endpoints"]["production"]["shadow"] = shadow
    return data


def endpoint_template(shadow: dict[str, Any] | None) -> dict[str, Any]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = ModelEndpointStack(
        app,
        "Shadowed",
        model=parse_model_config(churn(shadow), "models/churn-xgb/model.yaml"),
        stage="production",
        artifact_bucket_arn=BUCKET_ARN,
        encryption_key_arn=KEY_ARN,
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def shadowed() -> dict[str, Any]:
    return endpoint_template(SHADOW)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict[str, Any]:
    models = tmp_path_factory.mktemp("repo") / "models"
    write_model_with_code(models, churn(SHADOW))
    app = cdk.App(builtin_cloud_formation_validation=False)
    mlops = build_app(app, models, region=REGION)
    return Template.from_stack(mlops.models["churn-xgb"].pipeline).to_json()


@pytest.fixture(scope="module")
def production(pipeline) -> dict[str, Any]:
    return definition(pipeline, "MlPipelineDeployProduction")


# ---- the endpoint stack ----------------------------------------------------------------------------


def test_endpoint_stack_takes_an_empty_shadow_package_parameter_set_only_during_a_test(shadowed) -> None:
    parameter = shadowed["Parameters"][SHADOW_MODEL_PACKAGE_PARAMETER]
    assert parameter["Default"] == ""
    assert parameter["AllowedPattern"].startswith("^$|^arn:aws[a-z-]*:sagemaker:")
    assert shadowed["Conditions"]["HasShadowModelPackage"] == {
        "Fn::And": [
            {"Condition": "HasModelPackage"},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": SHADOW_MODEL_PACKAGE_PARAMETER}, ""]}]},
        ]
    }


def test_shadow_variant_serves_the_candidate_on_the_production_instances_weighted_by_traffic_percent(
    shadowed,
) -> None:
    config = only_resource(shadowed, "AWS::SageMaker::EndpointConfig")[1]["Properties"]
    model_id, model = construct_resource(shadowed, "AWS::SageMaker::Model", "EndpointShadowModel")
    assert model["Condition"] == "HasShadowModelPackage"
    assert model["Properties"]["Containers"] == [{"ModelPackageName": {"Ref": SHADOW_MODEL_PACKAGE_PARAMETER}}]
    assert config["ShadowProductionVariants"] == {
        "Fn::If": [
            "HasShadowModelPackage",
            [
                {
                    "VariantName": "Shadow",
                    "ModelName": {"Fn::GetAtt": [model_id, "ModelName"]},
                    "InstanceType": "ml.m5.xlarge",
                    "InitialInstanceCount": 3,
                    "InitialVariantWeight": 0.25,
                }
            ],
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert [variant["VariantName"] for variant in config["ProductionVariants"]] == ["AllTraffic"]


def test_endpoint_without_shadow_has_no_shadow_parameter_model_or_variant() -> None:
    template = endpoint_template(None)
    assert SHADOW_MODEL_PACKAGE_PARAMETER not in template["Parameters"]
    assert "HasShadowModelPackage" not in template.get("Conditions", {})
    config = only_resource(template, "AWS::SageMaker::EndpointConfig")[1]["Properties"]
    assert "ShadowProductionVariants" not in config
    assert len(resources(template, "AWS::SageMaker::Model")) == 1


# ---- the production deploy workflow ----------------------------------------------------------------


def test_production_deploy_starts_the_shadow_mirrors_compares_then_promotes_within_the_limits(production) -> None:
    assert happy_path(
        production,
        {
            "ShadowStackUpdated?": "ShadowPhase?",
            "ShadowPhase?": "ReadShadowEndpoint",
            "ShadowWithinLimits?": "UpdateEndpointStack",
            "StackUpdated?": "Deployed",
        },
    ) == [
        "ResolveModelPackage",
        "StartShadow",
        "WaitForShadowStack",
        "DescribeShadowStack",
        "ShadowStackUpdated?",
        "ShadowPhase?",
        "ReadShadowEndpoint",
        "MirrorTraffic",
        "ReadShadowMetrics",
        "CompareShadow",
        "ShadowWithinLimits?",
        "UpdateEndpointStack",
        "WaitForStack",
        "DescribeEndpointStack",
        "StackUpdated?",
        "Deployed",
        "ApproveModelPackage",
        "TagRelease",
        "Done",
    ]


def test_outside_the_limits_the_shadow_is_removed_the_package_rejected_and_the_topic_notified(production) -> None:
    states = production["States"]
    assert states["ShadowWithinLimits?"]["Default"] == "RemoveShadow"
    assert states["ShadowPhase?"]["Choices"][0] == {
        "Variable": "$.shadowTest.comparison",
        "IsPresent": True,
        "Next": "RejectShadowCandidate",
    }
    reject = states["RejectShadowCandidate"]["Parameters"]
    assert reject["ModelApprovalStatus"] == "Rejected"
    assert "$.shadowTest.comparison" in reject["ApprovalDescription.$"]
    assert states["RejectShadowCandidate"]["Next"] == "NotifyShadowRejected"
    assert states["NotifyShadowRejected"]["Next"] == "ShadowTestFailed"
    assert states["ShadowTestFailed"] == {
        "Type": "Fail",
        "Error": "ShadowTestFailed",
        "CausePath": "$.shadowTest.comparison",
    }


def test_start_sets_the_candidate_as_shadow_and_keeps_the_served_package_removal_and_promotion_clear_it(
    production,
) -> None:
    def parameters(state: str) -> dict[str, Any]:
        return {p["ParameterKey"]: p for p in production["States"][state]["Parameters"]["Parameters"]}

    start, remove, promote = parameters("StartShadow"), parameters("RemoveShadow"), parameters("UpdateEndpointStack")
    assert start[SHADOW_MODEL_PACKAGE_PARAMETER]["ParameterValue.$"] == "$.training.output.ModelPackageArn"
    assert start["ModelPackageArn"] == {"ParameterKey": "ModelPackageArn", "UsePreviousValue": True}
    assert remove[SHADOW_MODEL_PACKAGE_PARAMETER]["ParameterValue"] == ""
    assert remove["ModelPackageArn"]["UsePreviousValue"] is True
    assert promote[SHADOW_MODEL_PACKAGE_PARAMETER]["ParameterValue"] == ""
    assert promote["ModelPackageArn"]["ParameterValue.$"] == "$.training.output.ModelPackageArn"
    tokens = {production["States"][s]["Parameters"]["ClientRequestToken.$"] for s in ("StartShadow", "RemoveShadow")}
    assert len(tokens | {production["States"]["UpdateEndpointStack"]["Parameters"]["ClientRequestToken.$"]}) == 3


def test_metrics_are_read_per_variant_over_the_mirroring_window_and_compared_with_the_configured_limits(
    production,
) -> None:
    states = production["States"]
    assert states["MirrorTraffic"]["Seconds"] == 45 * 60
    read = states["ReadShadowMetrics"]
    assert read["Resource"].endswith(":states:::aws-sdk:cloudwatch:getMetricData")
    queries = {q["Id"]: q["MetricStat"] for q in read["Parameters"]["MetricDataQueries"]}
    assert sorted(queries) == sorted(
        f"{variant}{metric}"
        for variant in ("shadow", "production")
        for metric in ("Latency", "Errors5xx", "ModelErrors", "Invocations")
    )
    latency = queries["shadowLatency"]
    assert (latency["Metric"]["MetricName"], latency["Stat"], latency["Period"]) == ("ModelLatency", "p99", 47 * 60)
    assert latency["Metric"]["Dimensions"][1] == {"Name": "VariantName", "Value": "Shadow"}
    assert queries["productionErrors5xx"]["Metric"]["Dimensions"][1] == {"Name": "VariantName", "Value": "AllTraffic"}
    assert queries["shadowModelErrors"]["Metric"]["MetricName"] == "InvocationModelErrors"
    compare = states["CompareShadow"]
    assert compare["QueryLanguage"] == "JSONata"
    assert "$inc <= 12.5 and $rate <= 0.002" in compare["Output"]


def test_the_workflow_role_may_read_metrics_and_update_only_the_production_stack(pipeline) -> None:
    role = state_machine_role_id(pipeline, "MlPipelineDeployProduction")
    allowed = role_statements(pipeline, role)
    metrics = [s for s in allowed if s.allows("cloudwatch:GetMetricData")]
    assert len(metrics) == 1 and metrics[0].resources == ["*"]
    updates = [s for s in allowed if s.allows("cloudformation:UpdateStack")]
    assert updates and all("Mlops-churn-xgb-Production/*" in str(s.resources) for s in updates)


def test_a_pipeline_without_shadow_has_no_shadow_states(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_model_with_code(models, churn(None))
    mlops = build_app(cdk.App(builtin_cloud_formation_validation=False), models, region=REGION)
    states = definition(
        Template.from_stack(mlops.models["churn-xgb"].pipeline).to_json(), "MlPipelineDeployProduction"
    )["States"]
    assert not [name for name in states if "Shadow" in name]
    assert states["ResolveModelPackage"]["Next"] == "UpdateEndpointStack"
