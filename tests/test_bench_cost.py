"""The cost bench's pricing of what runs on a schedule and of batch transform jobs (pure functions of
templates and prices; no synthesis)."""

from __future__ import annotations

import argparse
import json

import pytest

from bench.cost import REPO_ROOT, Prices, job_costs, price_schedules, price_shared_endpoints, runs_per_month

PRICES = Prices(json.loads((REPO_ROOT / "bench" / "prices.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(1 day)", 730 / 24),
        ("rate(7 days)", 730 / 168),
        ("rate(30 minutes)", 730 * 2),
        ("rate(1 hour)", 730),
        ("cron(0 2 * * ? *)", 730 / 24),
        ("cron(0,30 8,20 * * ? *)", 4 * 730 / 24),
        ("cron(15 * ? * * *)", 730),
    ],
)
def test_schedules_fire_this_often_in_a_month(expression: str, runs: float) -> None:
    assert runs_per_month(expression, 730) == pytest.approx(runs)


@pytest.mark.parametrize("expression", ["cron(0 2 ? * MON-FRI *)", "cron(0 2 1 * ? *)", "at(2026-12-01T00:00:00)"])
def test_schedules_other_than_every_day_are_left_unpriced(expression: str) -> None:
    assert runs_per_month(expression, 730) is None


TRANSFORM = {
    "StartAt": "Transform",
    "States": {
        "Transform": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
            "Parameters": {"TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2}},
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def test_a_transform_job_is_priced_per_instance_for_the_assumed_duration() -> None:
    jobs, minutes, notes = job_costs(TRANSFORM, PRICES, transform_minutes=30)

    rate = PRICES.data["sagemaker"]["batch_transform_per_instance_hour"]["ml.m5.xlarge"]
    assert jobs == {"training": 0.0, "processing": 0.0, "batch transform": pytest.approx(2 * rate / 2)}
    assert minutes == 30
    assert notes == ["batch transform 2 x ml.m5.xlarge ~ 30 min (assumed)"]


def test_a_nightly_schedule_costs_one_run_of_its_workflow_per_night() -> None:
    pipeline = {
        "Resources": {
            "Batch": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": json.dumps(TRANSFORM)},
            },
            "Nightly": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {"ScheduleExpression": "cron(0 2 * * ? *)", "Target": {"Arn": {"Ref": "Batch"}}},
            },
        }
    }
    notes: list[str] = []

    monthly = price_schedules("m", pipeline, PRICES, argparse.Namespace(transform_minutes=30), notes)

    per_run = PRICES.data["sagemaker"]["batch_transform_per_instance_hour"]["ml.m5.xlarge"] + 2 * 0.025 / 1000
    assert monthly == pytest.approx(730 / 24 * per_run)
    assert notes == [f"batch transform on cron(0 2 * * ? *): 30 runs/month x {per_run:.2f} USD"]


def _shared_endpoint_templates(copies: tuple[int, ...], minimum: int) -> dict[str, dict[str, object]]:
    shared = {
        "Resources": {
            "Config": {
                "Type": "AWS::SageMaker::EndpointConfig",
                "Properties": {
                    "ProductionVariants": [
                        {
                            "VariantName": "AllTraffic",
                            "InstanceType": "ml.m5.xlarge",
                            "InitialInstanceCount": 1,
                            "ManagedInstanceScaling": {
                                "Status": "ENABLED",
                                "MinInstanceCount": minimum,
                                "MaxInstanceCount": 4,
                            },
                        }
                    ]
                },
            },
            "Endpoint": {"Type": "AWS::SageMaker::Endpoint", "Properties": {"EndpointName": "Mlops-Endpoint-team"}},
        }
    }
    templates: dict[str, dict[str, object]] = {"Mlops-Endpoint-team": shared}
    for index, count in enumerate(copies):
        templates[f"Mlops-m{index}-Production"] = {
            "Resources": {
                "Component": {
                    "Type": "AWS::SageMaker::InferenceComponent",
                    "Properties": {"EndpointName": "Mlops-Endpoint-team", "RuntimeConfig": {"CopyCount": count}},
                }
            }
        }
    return templates


def test_a_shared_endpoint_saves_the_instances_one_endpoint_per_model_would_run() -> None:
    [cost] = price_shared_endpoints(_shared_endpoint_templates((2, 1, 1), minimum=1), PRICES)

    rate = PRICES.data["sagemaker"]["realtime_inference_per_instance_hour"]["ml.m5.xlarge"]
    assert cost.components == {"Mlops-m0-Production": 2, "Mlops-m1-Production": 1, "Mlops-m2-Production": 1}
    assert cost.shared_per_month == pytest.approx(1 * rate * 730)
    assert cost.separate_per_month == pytest.approx(3 * rate * 730)
    assert cost.saving_per_month == pytest.approx(2 * rate * 730)


def test_a_shared_endpoint_is_priced_at_its_managed_scaling_minimum_and_may_save_nothing() -> None:
    [cost] = price_shared_endpoints(_shared_endpoint_templates((1, 1), minimum=2), PRICES)

    assert cost.instances == 2 and cost.max_instances == 4
    assert cost.saving_per_month == pytest.approx(0)


def test_endpoints_serving_a_model_of_their_own_are_no_shared_endpoints() -> None:
    own = {
        "Resources": {
            "Config": {
                "Type": "AWS::SageMaker::EndpointConfig",
                "Properties": {"ProductionVariants": [{"ModelName": "m", "InstanceType": "ml.m5.large"}]},
            }
        }
    }
    assert price_shared_endpoints({"Mlops-m-Production": own}, PRICES) == []
