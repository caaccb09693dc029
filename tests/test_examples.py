"""The per-mode example configurations in ``examples/`` load, synthesize with cdk-nag on, and render the
mode each one is there to show."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from cdk_mlops.app_builder import build_app, enable_compliance_checks
from cdk_mlops.plan import plan_models
from cdk_mlops_testing import REPO_ROOT, only_resource, render_definition

EXAMPLES_DIR = REPO_ROOT / "examples"


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    assert enable_compliance_checks(app)
    build_app(app, EXAMPLES_DIR, region="eu-west-1")
    assembly = app.synth()  # cdk-nag findings fail this
    return {stack.stack_name: stack.template for stack in assembly.stacks}


def production_endpoint(templates: dict[str, dict[str, Any]], model: str) -> dict[str, Any]:
    return only_resource(templates[f"Mlops-{model}-Production"], "AWS::SageMaker::Endpoint")[1]["Properties"]


def scalable_target(templates: dict[str, dict[str, Any]], model: str) -> dict[str, Any]:
    template = templates[f"Mlops-{model}-Production"]
    return only_resource(template, "AWS::ApplicationAutoScaling::ScalableTarget")[1]["Properties"]


def expected_stacks() -> list[str]:
    """The stacks each example's configuration asks for, read from the synthesis plan: its three stacks,
    the platforms of the regions and accounts its production runs in (as ``build_app`` places them), and
    each shared endpoint."""
    plan = plan_models(EXAMPLES_DIR, region="eu-west-1")
    names = ["Mlops-Platform"]
    for model in plan.models.values():
        names += model.stack_names.values()
        assert model.placement is not None, f"{model.path}: placement has an error"
        placement = model.placement
        if model.config.inference != "batch" and placement.other_region:  # the model data's copy there
            names.append(f"Mlops-Platform-{placement.region}")
        if model.config.inference != "batch" and placement.account and not model.config.endpoints.production.serverless:
            names.append(f"Mlops-Platform-{placement.platform_key}")  # what the other account's endpoints write
        for stage in (model.config.endpoints.staging, model.config.endpoints.production):
            if stage.shared_endpoint is not None:
                names.append(f"Mlops-Endpoint-{stage.shared_endpoint}")
    return sorted(set(names))


def test_every_example_gets_its_three_stacks_and_the_platforms_it_needs(templates) -> None:
    expected = expected_stacks()
    assert len(expected) >= 3 * len(plan_models(EXAMPLES_DIR, region="eu-west-1").models) + 1
    assert sorted(templates) == expected


def test_linear_example_shifts_twenty_percent_steps_and_scales_from_ten_to_twenty(templates) -> None:
    policy = production_endpoint(templates, "ranking-linear")["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    target = scalable_target(templates, "ranking-linear")

    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "LINEAR",
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
        "WaitIntervalInSeconds": 180,
    }
    assert policy["TerminationWaitInSeconds"] == 900
    assert (target["MinCapacity"], target["MaxCapacity"]) == (10, 20)


def test_rolling_example_replaces_quarter_batches_and_rolls_back_two_instances_at_a_time(templates) -> None:
    config = production_endpoint(templates, "vision-rolling")["DeploymentConfig"]

    assert config["RollingUpdatePolicy"] == {
        "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
        "WaitIntervalInSeconds": 600,
        "MaximumExecutionTimeoutInSeconds": 7200,
        "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
    }
    assert {"AlarmName": "vision-checkout-conversion-drop"} in config["AutoRollbackConfiguration"]["Alarms"]


def test_async_example_answers_in_s3_and_scales_to_zero(templates) -> None:
    _, config = only_resource(templates["Mlops-docs-async-Production"], "AWS::SageMaker::EndpointConfig")
    target = scalable_target(templates, "docs-async")

    assert config["Properties"]["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 2}
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 3)


def test_other_region_example_serves_copies_of_the_model_in_us_west_2_of_another_account(templates) -> None:
    production = templates["Mlops-demand-us-Production"]
    (_, model) = only_resource(production, "AWS::SageMaker::Model")
    canary = production_endpoint(templates, "demand-us")["DeploymentConfig"]["BlueGreenUpdatePolicy"]

    assert model["Properties"]["Containers"][0]["Image"].startswith("246618743249.dkr.ecr.us-west-2.amazonaws.com/")
    assert model["Properties"]["Containers"][0]["ModelDataUrl"] == {"Ref": "ModelDataUrl"}
    assert {"ModelArtifactsBucket", "ModelArtifactsKeyArn", "ModelDataUrl", "SourceDirUrl"} <= set(
        production["Parameters"]
    )
    assert canary["TrafficRoutingConfiguration"]["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 50}


def test_tuning_example_trains_with_a_tuning_job_and_registers_its_best_training_job(templates) -> None:
    machines = [
        resource["Properties"]["DefinitionString"]
        for resource in templates["Mlops-churn-tuned-Pipeline"]["Resources"].values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    training = [str(definition) for definition in machines if "createHyperParameterTuningJob.sync" in str(definition)]
    assert len(training) == 1
    assert "describeTrainingJob" in training[0] and "BestTrainingJob.TrainingJobName" in training[0]


def test_shadow_example_mirrors_half_the_traffic_to_a_shadow_variant_for_two_hours(templates) -> None:
    template = templates["Mlops-pricing-shadow-Production"]
    config = only_resource(template, "AWS::SageMaker::EndpointConfig")[1]["Properties"]
    (shadow,) = config["ShadowProductionVariants"]["Fn::If"][1]
    assert (shadow["VariantName"], shadow["InitialVariantWeight"], shadow["InitialInstanceCount"]) == ("Shadow", 0.5, 2)
    definitions = [
        render_definition(resource["Properties"]["DefinitionString"])
        for resource in templates["Mlops-pricing-shadow-Pipeline"]["Resources"].values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    (deploy,) = [states for states in (d["States"] for d in definitions) if "MirrorTraffic" in states]
    assert deploy["MirrorTraffic"]["Seconds"] == 120 * 60
    assert "$inc <= 15 and $rate <= 0.005" in deploy["CompareShadow"]["Output"]


def test_shared_endpoint_example_hosts_both_models_as_inference_components(templates) -> None:
    shared = templates["Mlops-Endpoint-examples-shared"]
    variant = only_resource(shared, "AWS::SageMaker::EndpointConfig")[1]["Properties"]["ProductionVariants"][0]
    assert variant["ManagedInstanceScaling"] == {"Status": "ENABLED", "MinInstanceCount": 1, "MaxInstanceCount": 3}
    copies = {}
    for model in ("churn-shared", "upsell-shared"):
        component = only_resource(templates[f"Mlops-{model}-Production"], "AWS::SageMaker::InferenceComponent")[1]
        assert component["Properties"]["EndpointName"] == "Mlops-Endpoint-examples-shared"
        copies[model] = component["Properties"]["RuntimeConfig"]["CopyCount"]
    assert copies == {"churn-shared": 2, "upsell-shared": 1}
