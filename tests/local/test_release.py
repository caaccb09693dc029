"""A whole release on the laptop: the synthesized training, deploy and smoke-test workflows run in
pipeline order, with the real smoke-test handler against a moto endpoint."""

from __future__ import annotations

import pytest

from cdk_mlops.cli import main
from cdk_mlops.local.release import run_release_scenario
from cdk_mlops_testing import MODELS_DIR

DEPLOYED = ["ResolveModelPackage", "UpdateEndpointStack", "WaitForStack", "DescribeEndpointStack", "StackUpdated?",
            "Deployed"]


@pytest.mark.parametrize("model", ["churn-xgb", "iris-sklearn"])
def test_release_deploys_both_stages_and_approves_the_package(model: str) -> None:
    release = run_release_scenario(model, "release", models_dir=str(MODELS_DIR))

    assert release.succeeded
    assert release.executions["deploy_staging"].states_entered == [*DEPLOYED, "Done"]
    assert release.executions["smoke_test"].states_entered == ["InvokeSmokeTest", "Passed?", "SmokeTestPassed"]
    assert release.executions["deploy_production"].states_entered == [
        *DEPLOYED,
        "ApproveModelPackage",
        "TagRelease",
        "Done",
    ]
    [(arn, package)] = release.model_packages.items()
    assert arn == f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{model}/1"
    assert package["ModelApprovalStatus"] == "Approved"
    tags = {tag["Key"]: tag["Value"] for tag in release.model_package_tags[arn]}
    assert tags["cdk-mlops:pipeline-execution"] == "local-build-0001"
    assert tags["cdk-mlops:deployed-by"] == release.executions["deploy_production"].name
    assert {stage: p["ModelPackageArn"] for stage, p in release.stack_parameters.items()} == {
        "staging": arn,
        "production": arn,
    }
    assert release.notifications == []


def test_cross_account_release_updates_the_production_stack_in_its_account_as_its_deploy_role() -> None:
    release = run_release_scenario("iris-sklearn", "release", models_dir=str(MODELS_DIR))

    deploy_role = "arn:aws:iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1"
    assert release.succeeded
    assert release.stack_accounts == {"staging": None, "production": "222222222222"}
    # UpdateStack and DescribeStacks (once: the stand-in completes at once) ran as the deploy role.
    assert release.assumed_roles == [deploy_role, deploy_role]
    production = release.stack_parameters["production"]
    assert production["ModelArtifactsBucket"] == "mlops-artifacts-fake"
    assert production["ModelArtifactsKeyArn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    assert "ModelArtifactsBucket" not in release.stack_parameters["staging"]


def test_same_account_release_assumes_no_role() -> None:
    release = run_release_scenario("churn-xgb", "release", models_dir=str(MODELS_DIR))

    assert release.succeeded
    assert release.stack_accounts == {"staging": None, "production": None}
    assert release.assumed_roles == []


def test_failed_smoke_test_stops_before_production_and_leaves_the_package_pending() -> None:
    release = run_release_scenario("churn-xgb", "smoke-fails", models_dir=str(MODELS_DIR))

    assert not release.succeeded
    assert list(release.executions) == ["training", "deploy_staging", "smoke_test"]
    smoke = release.executions["smoke_test"]
    assert smoke.status == "FAILED"
    assert smoke.error == "SmokeTestFailed"
    assert release.stack_parameters["production"]["ModelPackageArn"] == ""
    [package] = release.model_packages.values()
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    [notification] = release.notifications
    assert "is Failed, not InService" in notification.message
    assert "CannotStartContainerError" in notification.message


def test_rolled_back_staging_update_fails_the_deployment_and_notifies() -> None:
    release = run_release_scenario("churn-xgb", "rollback", models_dir=str(MODELS_DIR))

    deploy = release.executions["deploy_staging"]
    assert list(release.executions) == ["training", "deploy_staging"]
    assert deploy.error == "DeploymentRolledBack"
    assert deploy.states_entered[-2:] == ["NotifyRolledBack", "RolledBack"]
    [notification] = release.notifications
    assert notification.message.startswith(
        "churn-xgb deploy to staging failed at StackUpdated?: stack Mlops-churn-xgb-Staging rolled back "
        "(UPDATE_ROLLBACK_COMPLETE): "
    )
    [package] = release.model_packages.values()
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert release.stack_parameters["staging"]["ModelPackageArn"] == ""  # the rollback kept the old value


@pytest.mark.parametrize("model", ["churn-xgb", "iris-sklearn"])
def test_rolled_back_production_update_rejects_the_package_with_the_stack_status(model: str) -> None:
    release = run_release_scenario(model, "production-rollback", models_dir=str(MODELS_DIR))

    deploy = release.executions["deploy_production"]
    assert list(release.executions) == ["training", "deploy_staging", "smoke_test", "deploy_production"]
    assert deploy.error == "DeploymentRolledBack"
    assert deploy.states_entered[-3:] == ["RejectModelPackage", "NotifyRolledBack", "RolledBack"]
    [(arn, package)] = release.model_packages.items()
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"] == (
        f"Rolled back in production by {deploy.execution_arn}: stack status UPDATE_ROLLBACK_COMPLETE"
    )
    assert release.stack_parameters["staging"]["ModelPackageArn"] == arn
    assert release.stack_parameters["production"]["ModelPackageArn"] == ""
    [notification] = release.notifications
    assert notification.message.startswith(
        f"{model} deploy to production failed at StackUpdated?: stack Mlops-{model}-Production rolled back "
        "(UPDATE_ROLLBACK_COMPLETE): "
    )


def test_cli_dry_run_of_a_failing_release_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dry-run", "churn-xgb", "--scenario", "smoke-fails", "--models-dir", str(MODELS_DIR)])

    out = capsys.readouterr().out
    assert code == 1
    assert "smoke_test         FAILED (SmokeTestFailed" in out
    assert "deploy_production  not run" in out
