"""Deploy workflows that wait for CloudFormation: stand-in stacks that stay ``UPDATE_IN_PROGRESS`` for a
scripted number of ``DescribeStacks`` polls and then complete or roll back, and stacks that already
have the release's parameters, for production in the pipeline's account, in another account, and in
another region (through the regional Lambda).

CloudFormation's behaviour followed here: a stack being updated reports ``UPDATE_IN_PROGRESS`` until it
ends ``UPDATE_COMPLETE`` or ``UPDATE_ROLLBACK_COMPLETE`` (AWS CloudFormation User Guide, "Stack status
codes"), and ``UpdateStack`` with nothing to change fails with ``ValidationError`` "No updates are to be
performed." (CloudFormation API Reference, UpdateStack). The models are written to ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.local.release import (
    POLLS_IN_PROGRESS,
    RELEASE_SCENARIOS,
    ReleaseResult,
    StackBehaviour,
    run_release_scenario,
)
from cdk_mlops_testing import write_model

#: Model -> (production account, production region); None: the pipeline's.
PRODUCTION = {
    "same-account": (None, None),
    "other-account": ("222222222222", None),
    "other-region": ("333333333333", "us-west-2"),
}
POLLED = ["WaitForStack", "DescribeEndpointStack", "StackUpdated?"] * (POLLS_IN_PROGRESS + 1)


def model_config(name: str, account: str | None, region: str | None) -> dict[str, Any]:
    """A small built-in XGBoost model with serverless endpoints; production where the test says."""
    production: dict[str, Any] = {"serverless": True}
    if account:
        production["account"] = account
    if region:
        production["region"] = region
    return {
        "name": name,
        "description": "Test model for the deploy workflows' polling.",
        "source": {"provider": "codecommit", "repository": f"{name}-repo", "create_repository": True},
        "framework": {"name": "xgboost", "version": "1.7-1"},
        "training": {
            "instance_type": "ml.m5.large",
            "hyperparameters": {"objective": "binary:logistic", "num_round": 5},
        },
        "data": {"channels": ["train", "validation"]},
        "evaluation": {"source": "training_metrics"},
        "quality_gate": [{"metric": "validation:auc", "threshold": 0.8}],
        "endpoints": {"staging": {"serverless": True}, "production": production},
        "smoke_test": {"payload": "1,2,3"},
        "notification_email": "ml-team@example.com",
    }


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    for name, (account, region) in PRODUCTION.items():
        write_model(root, name, model_config(name, account, region))
    return root


def _release(models_dir: Path, model: str, scenario: str) -> ReleaseResult:
    return run_release_scenario(model, scenario, models_dir=str(models_dir))


def _after_update(release: ReleaseResult, stage: str) -> list[str]:
    entered = release.executions[stage].states_entered
    return entered[entered.index("UpdateEndpointStack") + 1 :]


def _stack_calls_as_deploy_role(release: ReleaseResult) -> int:
    return sum(1 for role in release.assumed_roles if "-deploy-role-" in role)


def test_the_polling_scenarios_are_release_scenarios() -> None:
    assert {"slow-release", "slow-rollback", "slow-production-rollback", "no-updates"} <= set(RELEASE_SCENARIOS)


def test_a_slow_staging_update_that_rolls_back_stops_the_release(models_dir: Path) -> None:
    release = _release(models_dir, "same-account", "slow-rollback")

    assert list(release.executions) == ["training", "deploy_staging"]
    assert release.executions["deploy_staging"].error == "DeploymentRolledBack"
    after = _after_update(release, "deploy_staging")
    assert after[: len(POLLED)] == POLLED
    assert after[-2:] == ["NotifyRolledBack", "RolledBack"]
    assert release.stack_parameters["staging"]["ModelPackageArn"] == ""


@pytest.mark.parametrize("model", PRODUCTION)
def test_a_slow_update_is_polled_until_it_completes(models_dir: Path, model: str) -> None:
    release = _release(models_dir, model, "slow-release")

    assert release.succeeded
    for stage in ("deploy_staging", "deploy_production"):
        after = _after_update(release, stage)
        assert after[: len(POLLED) + 1] == [*POLLED, "Deployed"], stage
        waits = [wait for wait in release.executions[stage].waits if wait.state_name == "WaitForStack"]
        assert [wait.seconds for wait in waits] == [30] * (POLLS_IN_PROGRESS + 1)
    [package] = release.model_packages.values()
    assert package["ModelApprovalStatus"] == "Approved"
    assert release.stack_parameters["production"]["ModelPackageArn"] == package["ModelPackageArn"]
    if PRODUCTION[model][0] is not None:  # UpdateStack, then every DescribeStacks, as the deploy role
        assert _stack_calls_as_deploy_role(release) == 1 + POLLS_IN_PROGRESS + 1


@pytest.mark.parametrize("model", PRODUCTION)
def test_a_slow_update_that_rolls_back_rejects_the_package_after_polling(models_dir: Path, model: str) -> None:
    release = _release(models_dir, model, "slow-production-rollback")

    deploy = release.executions["deploy_production"]
    assert deploy.error == "DeploymentRolledBack"
    after = _after_update(release, "deploy_production")
    assert after[: len(POLLED)] == POLLED
    assert after[len(POLLED)] != "WaitForStack"  # the third poll saw the rollback
    assert after[-3:] == ["RejectModelPackage", "NotifyRolledBack", "RolledBack"]
    [package] = release.model_packages.values()
    assert package["ModelApprovalStatus"] == "Rejected"
    # The poll after the two in progress sees the rollback under way, with CloudFormation's reason.
    assert package["ApprovalDescription"].endswith("stack status UPDATE_ROLLBACK_IN_PROGRESS")
    assert release.stack_parameters["production"]["ModelPackageArn"] == ""  # the rollback kept the old value
    assert _after_update(release, "deploy_staging")[:4] == [
        "WaitForStack",
        "DescribeEndpointStack",
        "StackUpdated?",
        "Deployed",
    ]


@pytest.mark.parametrize("model", PRODUCTION)
def test_an_update_with_nothing_to_change_counts_as_deployed(models_dir: Path, model: str) -> None:
    release = _release(models_dir, model, "no-updates")

    assert release.succeeded
    for stage in ("deploy_staging", "deploy_production"):
        deploy = release.executions[stage]
        assert _after_update(release, stage)[:2] == ["AlreadyDeployed?", "Deployed"], stage
        assert "DescribeEndpointStack" not in deploy.states_entered
        # The caught failure (the last; a Retry on the same error name may have tried again) says why.
        failed = deploy.events("TaskFailed")[-1]
        assert "No updates are to be performed" in failed["taskFailedEventDetails"]["cause"]
    [package] = release.model_packages.values()
    assert package["ModelApprovalStatus"] == "Approved"
    assert {stage: p["ModelPackageArn"] for stage, p in release.stack_parameters.items()} == {
        "staging": package["ModelPackageArn"],
        "production": package["ModelPackageArn"],
    }
    assert release.notifications == []


def test_a_stack_behaviour_refuses_negative_polls_and_an_update_of_an_already_deployed_stack() -> None:
    with pytest.raises(ValueError, match="polls_in_progress must not be negative, got -1"):
        StackBehaviour(polls_in_progress=-1)
    with pytest.raises(ValueError, match="neither polls nor rolls back"):
        StackBehaviour(already_deployed=True, polls_in_progress=1)
