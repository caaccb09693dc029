"""A release whose production endpoint is in another region (``examples/other-region``, demand-us:
account 333333333333, us-west-2), run on the laptop: the real ``regional_deploy`` handler copies the
model to a stand-in of the regional platform and updates the stand-in production stack there, as the
deploy role of that account and region."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdk_mlops.cli import main
from cdk_mlops.local.release import ReleaseResult, run_release_scenario
from cdk_mlops_testing import REGIONAL_ROLLOUT_PATH, REPO_ROOT

DEPLOY_ROLE = "arn:aws:iam::333333333333:role/cdk-hnb659fds-deploy-role-333333333333-us-west-2"
REPLICA_BUCKET = "cdk-mlops-local-platform-us-west-2"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    shutil.copytree(REPO_ROOT / "examples" / "other-region", folder / "demand-us")
    return folder


@pytest.fixture(scope="module")
def release(models_dir: Path) -> ReleaseResult:
    return run_release_scenario("demand-us", "release", models_dir=str(models_dir))


def test_production_rollout_copies_the_model_before_updating_the_stack_there(release: ReleaseResult) -> None:
    assert release.succeeded
    assert release.executions["deploy_production"].states_entered == REGIONAL_ROLLOUT_PATH
    [(_, package)] = release.model_packages.items()
    assert package["ModelApprovalStatus"] == "Approved"


def test_model_data_and_serving_code_are_copied_to_the_regional_bucket_under_their_keys(
    release: ReleaseResult,
) -> None:
    copies = sorted(url.removeprefix(f"s3://{REPLICA_BUCKET}/") for url in release.replicated_objects)

    assert len(copies) == 2
    assert copies[0].startswith("demand-us/runs/local-") and copies[0].endswith("/output/model.tar.gz")
    assert copies[1] == "demand-us/source/local-build-0001/sourcedir.tar.gz"


def test_production_stack_in_its_account_and_region_serves_the_copies(release: ReleaseResult) -> None:
    production = release.stack_parameters["production"]
    [(arn, _)] = release.model_packages.items()

    assert release.stack_accounts == {"staging": None, "production": "333333333333"}
    assert release.stack_regions == {"staging": None, "production": "us-west-2"}
    assert production["ModelPackageArn"] == arn
    assert f"s3://{REPLICA_BUCKET}/{production['ModelDataUrl'].split('/', 3)[3]}" in release.replicated_objects
    assert production["SourceDirUrl"] == f"s3://{REPLICA_BUCKET}/demand-us/source/local-build-0001/sourcedir.tar.gz"
    assert production["ModelArtifactsBucket"] == REPLICA_BUCKET
    assert production["ModelArtifactsKeyArn"].startswith("arn:aws:kms:us-west-2:123456789012:key/")
    assert "ModelDataUrl" not in release.stack_parameters["staging"]


def test_stack_calls_run_as_the_deploy_role_of_that_account_and_region(release: ReleaseResult) -> None:
    # UpdateStack, then DescribeStacks once (the stand-in completes at once).
    assert release.assumed_roles == [DEPLOY_ROLE, DEPLOY_ROLE]


def test_a_rollback_in_the_other_region_rejects_the_package(models_dir: Path) -> None:
    release = run_release_scenario("demand-us", "production-rollback", models_dir=str(models_dir))

    assert release.executions["deploy_production"].error == "DeploymentRolledBack"
    [(_, package)] = release.model_packages.items()
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "UPDATE_ROLLBACK_COMPLETE" in package["ApprovalDescription"]
    assert release.stack_parameters["production"]["ModelPackageArn"] == ""


def test_cli_dry_run_reports_the_region_and_the_copies(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dry-run", "demand-us", "--scenario", "release", "--models-dir", str(models_dir)])
    out = capsys.readouterr().out

    assert code == 0
    assert "production stack (account 333333333333, region us-west-2) ModelPackageArn: arn:aws:sagemaker:" in out
    assert f"Copied to the production region: s3://{REPLICA_BUCKET}/demand-us/source/local-build-0001/" in out
    assert f"Assumed role: {DEPLOY_ROLE}" in out
