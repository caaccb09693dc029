"""The fraud-batch example's synthesized batch transform workflow on the local engine: started by the
pipeline after a training run, or by its schedule with ``{}``; the SageMaker calls it makes, with their
parameters, and what it leaves behind."""

from __future__ import annotations

import datetime
import hashlib

import pytest

from cdk_mlops.cli import main
from cdk_mlops.local.batch import TRANSFORM_FAILURE, run_batch_scenario
from cdk_mlops_testing import MODELS_DIR

MODEL = "fraud-batch"
PACKAGE = f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{MODEL}"
OUTPUT = "s3://mlops-artifacts-fake/fraud-batch/batch/output/"


def test_pipeline_run_scores_with_the_trained_package_approves_and_tags_it_and_deletes_the_model() -> None:
    run = run_batch_scenario(MODEL, "batch", models_dir=str(MODELS_DIR))
    batch = run.batch_transform

    assert run.succeeded, batch.cause
    assert batch.states_entered == [
        "Initialize",
        "TrainedByPipeline?",
        "ResolveModelPackage",
        "UseTrainedPackage",
        "CreateModel",
        "Transform",
        "RecordPromotion?",
        "ApproveModelPackage",
        "TagRelease",
        "DeleteModel",
        "NotifySucceeded",
        "BatchTransformed",
    ]
    name = f"{MODEL}-{hashlib.md5(batch.name.encode()).hexdigest()}-batch"  # run_names: MD5 of the execution name
    [created] = run.created_models
    assert created["model_name"] == name
    assert created["containers"] == [{"ModelPackageName": f"{PACKAGE}/1"}]
    assert created["execution_role_arn"] == "arn:aws:iam::123456789012:role/MlPipelineTrainingSageMakerRole7CA84B02"
    job = run.transform_jobs[name]
    assert job["TransformJobStatus"] == "Completed"
    assert job["ModelName"] == name
    # date_partition: the folder of the UTC date the execution started ($$.Execution.StartTime)
    started = batch.history[0]["timestamp"].astimezone(datetime.timezone.utc).date().isoformat()
    assert job["TransformInput"] == {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://mlops-artifacts-fake/fraud-batch/batch/input/{started}/",
            }
        },
        "ContentType": "text/csv",
        "SplitType": "Line",
    }
    assert job["TransformOutput"]["S3OutputPath"] == f"{OUTPUT}{batch.name}/"
    assert job["TransformResources"]["InstanceCount"] == 2
    assert (job["BatchStrategy"], job["MaxPayloadInMB"], job["MaxConcurrentTransforms"]) == ("MultiRecord", 6, 4)
    assert run.models_left == []  # the run's model was deleted
    assert run.model_packages[f"{PACKAGE}/1"]["ModelApprovalStatus"] == "Approved"
    assert run.model_package_tags[f"{PACKAGE}/1"] == {
        "cdk-mlops:pipeline-execution": "local-build-0001",
        "cdk-mlops:deployed-by": batch.name,
    }
    workflow_calls = run.sagemaker_calls[run.sagemaker_calls.index("CreateModel") :]
    assert workflow_calls == [
        "CreateModel",
        "CreateTransformJob",
        "DescribeTransformJob",
        "UpdateModelPackage",
        "AddTags",
        "DeleteModel",
    ]
    [notification] = run.notifications
    assert notification.message == (
        f"Batch transform of model {MODEL} ({batch.name}) wrote its results to {OUTPUT}{batch.name}/ "
        f"(model package {PACKAGE}/1)"
    )


def test_failed_transform_job_deletes_the_model_notifies_the_reason_and_approves_nothing() -> None:
    run = run_batch_scenario(MODEL, "batch-fails", models_dir=str(MODELS_DIR))
    batch = run.batch_transform

    assert not run.succeeded
    assert batch.error == "BatchTransformFailed"
    assert batch.states_entered[-9:] == [
        "CreateModel",
        "Transform",
        "DeleteModelAfterFailure",
        *("DescribeFailure", "ParseFailureCause", "FailureCauseKind", "ReadTransformJobFailure"),
        "NotifyFailure",
        "BatchTransformFailed",
    ]
    assert batch.cause_json()["FailureReason"] == TRANSFORM_FAILURE
    assert [job["TransformJobStatus"] for job in run.transform_jobs.values()] == ["Failed"]
    assert run.models_left == []
    assert "UpdateModelPackage" not in run.sagemaker_calls
    assert run.model_packages[f"{PACKAGE}/1"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert run.model_package_tags[f"{PACKAGE}/1"] == {}
    [notification] = run.notifications
    assert notification.message.splitlines()[0] == f"{MODEL} batch transform failed at Transform: {TRANSFORM_FAILURE}"
    assert "Logs: CloudWatch log group /aws/sagemaker/TransformJobs" in notification.message


def test_scheduled_run_scores_with_the_newest_approved_package_and_changes_no_package() -> None:
    run = run_batch_scenario(MODEL, "batch-scheduled", models_dir=str(MODELS_DIR))
    batch = run.batch_transform

    assert run.succeeded, batch.cause
    assert list(run.executions) == ["batch_transform"]  # no training: the schedule starts it with {}
    assert batch.states_entered == [
        "Initialize",
        "TrainedByPipeline?",
        "FindApprovedPackage",
        "ApprovedPackageFound?",
        "UseApprovedPackage",
        "CreateModel",
        "Transform",
        "RecordPromotion?",
        "DeleteModel",
        "NotifySucceeded",
        "BatchTransformed",
    ]
    # packages 1 and 2 are Approved, 3 (the newest) still pending: 2 is the newest Approved one
    [created] = run.created_models
    assert created["containers"] == [{"ModelPackageName": f"{PACKAGE}/2"}]
    assert {arn: package["ModelApprovalStatus"] for arn, package in run.model_packages.items()} == {
        f"{PACKAGE}/1": "Approved",
        f"{PACKAGE}/2": "Approved",
        f"{PACKAGE}/3": "PendingManualApproval",
    }
    assert all(tags == {} for tags in run.model_package_tags.values())  # a scheduled run records no release
    assert "UpdateModelPackage" not in run.sagemaker_calls
    assert run.sagemaker_calls.count("ListModelPackages") == 1
    assert run.models_left == []
    [notification] = run.notifications
    assert f"(model package {PACKAGE}/2)" in notification.message


def test_scheduled_run_without_an_approved_package_fails_clearly_and_creates_nothing() -> None:
    run = run_batch_scenario(MODEL, "batch-no-approved", models_dir=str(MODELS_DIR))
    batch = run.batch_transform

    assert batch.status == "FAILED"
    assert (batch.error, batch.cause) == (
        "NoApprovedPackage",
        "model package group fraud-batch has no Approved package",
    )
    assert batch.states_entered[-3:] == ["ApprovedPackageFound?", "NotifyNoApprovedPackage", "NoApprovedPackage"]
    assert run.created_models == []
    assert run.transform_jobs == {}
    [notification] = run.notifications
    assert notification.message.splitlines()[0] == (
        "fraud-batch batch transform failed at ApprovedPackageFound?: no Approved package in model package group "
        "fraud-batch"
    )


def test_cli_dry_run_of_a_batch_model_reports_the_model_the_job_and_the_package(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["dry-run", MODEL, "--scenario", "batch", "--models-dir", str(MODELS_DIR)])

    out = capsys.readouterr().out
    assert code == 0
    assert "training           SUCCEEDED" in out
    assert "batch_transform    SUCCEEDED" in out
    assert f"Model package: {PACKAGE}/1 (Approved) tags cdk-mlops:pipeline-execution=local-build-0001" in out
    assert "Transform job: fraud-batch-" in out
    assert "Models left: none" in out
    assert "State transitions: 20" in out  # 8 training + 12 batch transform


def test_cli_refuses_batch_scenarios_for_endpoint_models_and_release_scenarios_for_batch_models(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["dry-run", "churn-xgb", "--scenario", "batch-scheduled", "--models-dir", str(MODELS_DIR)]) == 2
    assert "batch scenarios need a batch model (inference: batch); churn-xgb hosts endpoints" in capsys.readouterr().err
    assert main(["dry-run", MODEL, "--scenario", "release", "--models-dir", str(MODELS_DIR)]) == 2
    assert "release scenarios need a model with endpoints; fraud-batch is a batch model" in capsys.readouterr().err
