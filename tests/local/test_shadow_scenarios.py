"""The shadow test of a whole local release (``shadow-passes``, ``shadow-fails``): the production deploy
workflow puts the candidate on the endpoint as a shadow variant, reads both variants' metrics, and
promotes it or removes it and rejects the package, notifying the model's topic.

AWS behaviour the stand-ins follow: SageMaker publishes ``ModelLatency`` (microseconds),
``Invocations``, ``Invocation5XXErrors`` and ``InvocationModelErrors`` per ``EndpointName`` and
``VariantName`` ("Monitor Amazon SageMaker AI with Amazon CloudWatch",
https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html); a percentile statistic of raw
values is their nearest-rank percentile ("CloudWatch statistics definitions",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html). The model is
written to ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.local.mirrored_traffic import SHADOW_TRAFFIC, nearest_rank_percentile
from cdk_mlops.local.release import RELEASE_SCENARIOS, ReleaseResult, run_release_scenario
from cdk_mlops_testing import write_model

MODEL = "pricing"
SHADOW_STATES = [
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
]


def model_config() -> dict[str, Any]:
    """A small built-in XGBoost model: serverless staging, two-instance production with a shadow test."""
    return {
        "name": MODEL,
        "description": "Test model for the shadow test.",
        "source": {"provider": "codecommit", "repository": f"{MODEL}-repo", "create_repository": True},
        "framework": {"name": "xgboost", "version": "1.7-1"},
        "training": {
            "instance_type": "ml.m5.large",
            "hyperparameters": {"objective": "binary:logistic", "num_round": 5},
        },
        "data": {"channels": ["train", "validation"]},
        "evaluation": {"source": "training_metrics"},
        "quality_gate": [{"metric": "validation:auc", "threshold": 0.8}],
        "endpoints": {
            "staging": {"serverless": True},
            "production": {
                "instance_count": 2,
                "shadow": {"minutes": 30, "max_latency_increase_percent": 20, "max_error_rate": 0.01},
            },
        },
        "smoke_test": {"payload": "1,2,3"},
        "notification_email": "ml-team@example.com",
    }


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shadow") / "models"
    write_model(root, MODEL, model_config())
    return root


@pytest.fixture(scope="module")
def results(models_dir: Path) -> dict[str, ReleaseResult]:
    return {
        scenario: run_release_scenario(MODEL, scenario, models_dir=str(models_dir))
        for scenario in ("shadow-passes", "shadow-fails", "shadow-promotion-rollback", "shadow-already-promoted")
    }


def package(result: ReleaseResult) -> dict[str, Any]:
    (only,) = result.model_packages.values()
    return only


def test_both_scenarios_are_registered_with_a_description() -> None:
    assert "promoted" in RELEASE_SCENARIOS["shadow-passes"]
    assert "Rejected" in RELEASE_SCENARIOS["shadow-fails"]


def test_p99_is_the_nearest_rank_of_the_recorded_latencies() -> None:
    assert nearest_rank_percentile([float(v) for v in range(1, 101)], 99) == 99.0
    assert nearest_rank_percentile([5.0], 99) == 5.0
    assert nearest_rank_percentile([], 99) is None


def test_a_shadow_within_the_limits_is_promoted_and_the_shadow_cleared(results) -> None:
    result = results["shadow-passes"]
    production = result.executions["deploy_production"]

    assert result.succeeded
    assert production.states_entered[1 : 1 + len(SHADOW_STATES)] == SHADOW_STATES
    assert production.states_entered[1 + len(SHADOW_STATES)] == "UpdateEndpointStack"
    assert package(result)["ModelApprovalStatus"] == "Approved"
    assert result.stack_parameters["production"]["ShadowModelPackageArn"] == ""
    assert result.stack_parameters["production"]["ModelPackageArn"] == package(result)["ModelPackageArn"]


def test_a_shadow_over_the_limits_is_removed_the_package_rejected_with_the_comparison(results) -> None:
    result = results["shadow-fails"]
    production = result.executions["deploy_production"]
    shadow = SHADOW_TRAFFIC["shadow-fails"]["Shadow"]
    live = SHADOW_TRAFFIC["shadow-fails"]["AllTraffic"]
    shadow_p99 = nearest_rank_percentile(list(shadow.latencies_us), 99)
    live_p99 = nearest_rank_percentile(list(live.latencies_us), 99)
    assert shadow_p99 is not None and live_p99 is not None
    increase = round(100 * (shadow_p99 - live_p99) / live_p99, 1)
    errors = shadow.errors_5xx + shadow.model_errors
    comparison = (
        f"p99 ModelLatency shadow {round(shadow_p99)} us vs production {round(live_p99)} us (+{increase:g}%, limit "
        f"20%); errors shadow {errors} of {len(shadow.latencies_us)} requests (rate "
        f"{round(errors / len(shadow.latencies_us), 4):g}, limit 0.01) vs production 0 of {len(live.latencies_us)}"
    )

    assert not production.succeeded
    assert production.states_entered[-8:] == [
        "RemoveShadow",
        "WaitForShadowStack",
        "DescribeShadowStack",
        "ShadowStackUpdated?",
        "ShadowPhase?",
        "RejectShadowCandidate",
        "NotifyShadowRejected",
        "ShadowTestFailed",
    ]
    assert package(result)["ModelApprovalStatus"] == "Rejected"
    assert package(result)["ApprovalDescription"].endswith(f": {comparison}")
    assert result.stack_parameters["production"]["ShadowModelPackageArn"] == ""
    assert result.stack_parameters["production"]["ModelPackageArn"] == ""  # production never served it
    (notice,) = [n for n in result.notifications if n.state_name == "NotifyShadowRejected"]
    first_line, *rest = notice.message.split("\n")
    assert first_line == (
        f"{MODEL} shadow test in production failed at ShadowWithinLimits?: the shadow test of "
        f"{package(result)['ModelPackageArn']} did not pass, the shadow is removed and the package Rejected: "
        f"{comparison}"
    )
    assert rest[-1] == "Limits: p99 ModelLatency at most 20% above production, error rate at most 0.01, over 30 minutes"


def test_a_promotion_that_rolls_back_after_a_passed_shadow_test_rejects_the_package(results) -> None:
    result = results["shadow-promotion-rollback"]
    production = result.executions["deploy_production"]

    assert "ShadowWithinLimits?" in production.states_entered
    assert production.states_entered[-3:] == ["RejectModelPackage", "NotifyRolledBack", "RolledBack"]
    assert package(result)["ModelApprovalStatus"] == "Rejected"
    assert result.stack_parameters["production"]["ModelPackageArn"] == ""  # rolled back to what it served


def test_a_promotion_answered_no_updates_counts_as_deployed(results) -> None:
    result = results["shadow-already-promoted"]
    production = result.executions["deploy_production"]

    assert result.succeeded
    assert production.states_entered[-6:] == [
        "UpdateEndpointStack",
        "AlreadyDeployed?",
        "Deployed",
        "ApproveModelPackage",
        "TagRelease",
        "Done",
    ]
    assert package(result)["ModelApprovalStatus"] == "Approved"
