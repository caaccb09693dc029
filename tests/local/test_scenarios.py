"""Scenario tests of the example models' synthesized workflows on the local engine (moto, offline)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cdk_mlops.cli import main
from cdk_mlops.local.harness import (
    ResolvedWorkflow,
    run_smoke_test_scenario,
    run_training_scenario,
    synthesize_workflows,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "tests" / "fixtures" / "models"  # frozen copies, not models/ (tests/fixtures/README.md)
MODELS = ["churn-xgb", "iris-sklearn"]
APPROVED_PATH = {
    "churn-xgb": [
        "ValidateInput", "Initialize", "Train", "ExtractTrainingMetrics",
        "QualityGate validation_auc", "RegisterModel", "Result", "Registered",
    ],
    "iris-sklearn": [
        "ValidateInput", "Initialize", "Preprocess", "Train", "Evaluate", "ReadEvaluationReport",
        "ParseEvaluationReport", "QualityGate metrics_accuracy", "QualityGate metrics_macro_f1",
        "QualityGate metrics_min_class_recall", "RegisterModel", "Result", "Registered",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, ResolvedWorkflow]]:
    """The example app synthesized once for the module (later harness calls reuse the cache)."""
    return synthesize_workflows(MODELS_DIR)


@pytest.mark.parametrize("model", MODELS)
def test_approved_run_registers_package_with_metrics_as_customer_metadata(
    workflows: dict[str, dict[str, ResolvedWorkflow]], model: str
) -> None:
    run = run_training_scenario(model, "approve", models_dir=MODELS_DIR)

    assert run.status == "SUCCEEDED", run.result.cause
    assert run.states_entered == APPROVED_PATH[model]
    assert list(run.model_packages) == [run.result.output["ModelPackageArn"]]
    package = run.model_packages[run.result.output["ModelPackageArn"]]
    assert package["ModelPackageGroupName"] == model
    declared = workflows[model]["training"].states["RegisterModel"]["Parameters"]["CustomerMetadataProperties"]
    metadata = package["CustomerMetadataProperties"]
    assert set(metadata) == {key.removesuffix(".$") for key in declared}
    metrics = run.result.output["Metrics"]
    for name, text in metadata.items():
        if model == "churn-xgb":
            assert float(text) == metrics[name.replace(":", "_")][0]
        else:
            assert float(text) == metrics["metrics"][name.removeprefix("metrics.")]
    assert run.notifications == []


@pytest.mark.parametrize(
    ("model", "metric", "value", "threshold"),
    [("churn-xgb", "validation:auc", "0.7", "0.8"), ("iris-sklearn", "metrics.min_class_recall", "0.7", "0.8")],
)
def test_rejected_run_registers_nothing_and_notifies_metric_value_and_threshold(
    workflows: dict[str, dict[str, ResolvedWorkflow]], model: str, metric: str, value: str, threshold: str
) -> None:
    run = run_training_scenario(model, "reject", models_dir=MODELS_DIR)

    assert run.status == "FAILED"
    assert run.result.error == "QualityGateRejected"
    assert run.model_packages == {}
    assert "RegisterModel" not in run.states_entered
    [notification] = run.notifications
    assert f"{metric} = {value} does not meet >= {threshold}" in notification.message


@pytest.mark.parametrize("model", MODELS)
def test_failed_training_job_notifies_failure_reason_and_fails(
    workflows: dict[str, dict[str, ResolvedWorkflow]], model: str
) -> None:
    run = run_training_scenario(model, "training-fails", models_dir=MODELS_DIR)

    assert run.status == "FAILED"
    assert run.states_entered[-7:] == [
        "Train",
        *("DescribeFailure", "ParseFailureCause", "FailureCauseKind", "ReadTrainingJobFailure"),
        "NotifyFailure",
        "WorkflowFailed",
    ]
    [notification] = run.notifications
    assert notification.message.startswith(
        f"{model} training workflow failed at Train: "
        "AlgorithmError: ExecuteUserScriptError: out of memory (exit code 137)\n"
    )
    assert run.model_packages == {}


@pytest.mark.parametrize("model", MODELS)
def test_throttled_create_training_job_is_retried_then_succeeds(
    workflows: dict[str, dict[str, ResolvedWorkflow]], model: str
) -> None:
    run = run_training_scenario(model, "throttled", models_dir=MODELS_DIR)

    assert run.status == "SUCCEEDED", run.result.cause
    assert run.call_count("CreateTrainingJob") == 3
    assert run.states_entered == APPROVED_PATH[model]
    assert len(run.model_packages) == 1


def test_iris_preprocessing_failure_stops_before_training(workflows: dict[str, dict[str, ResolvedWorkflow]]) -> None:
    run = run_training_scenario("iris-sklearn", "preprocessing-fails", models_dir=MODELS_DIR)

    assert run.status == "FAILED"
    assert run.states_entered[-3:] == ["ReadProcessingJobFailure", "NotifyFailure", "WorkflowFailed"]
    assert run.call_count("CreateTrainingJob") == 0
    [notification] = run.notifications
    assert notification.message.startswith("iris-sklearn training workflow failed at Preprocess: ClientError: ")
    assert "preprocess.py exited with code 1" in notification.message.splitlines()[0]


def test_iris_missing_evaluation_report_fails_with_no_such_key(
    workflows: dict[str, dict[str, ResolvedWorkflow]],
) -> None:
    run = run_training_scenario("iris-sklearn", "missing-evaluation", models_dir=MODELS_DIR)

    assert run.status == "FAILED"
    assert run.result.error == "TrainingWorkflowFailed"
    assert run.result.cause is not None and "The specified key does not exist" in run.result.cause
    assert "RegisterModel" not in run.states_entered
    # the S3 error's cause is plain text: quoted after the error name
    assert run.states_entered[-5:] == [
        "ReadEvaluationReport",
        "DescribeFailure",
        "QuoteErrorCause",
        "NotifyFailure",
        "WorkflowFailed",
    ]
    [notification] = run.notifications
    first_line = notification.message.splitlines()[0]
    assert first_line.startswith("iris-sklearn training workflow failed at ReadEvaluationReport: S3.NoSuchKey")
    assert run.model_packages == {}


@pytest.mark.parametrize("model", MODELS)
def test_smoke_test_failure_fails_with_notification(
    workflows: dict[str, dict[str, ResolvedWorkflow]], model: str
) -> None:
    run = run_smoke_test_scenario(model, passed=False, models_dir=MODELS_DIR)

    assert run.status == "FAILED"
    assert run.result.error == "SmokeTestFailed"
    assert run.states_entered == ["InvokeSmokeTest", "Passed?", "NotifySmokeTestFailed", "SmokeTestFailed"]
    [notification] = run.notifications
    assert "HTTP 500" in notification.message
    assert run.call_count("UpdateModelPackage") == 0, "never approved for production"


def test_smoke_test_pass_succeeds(workflows: dict[str, dict[str, ResolvedWorkflow]]) -> None:
    run = run_smoke_test_scenario("churn-xgb", passed=True, models_dir=MODELS_DIR)

    assert run.status == "SUCCEEDED"
    assert run.notifications == []


def test_resolved_definitions_have_no_unresolved_tokens(workflows: dict[str, dict[str, ResolvedWorkflow]]) -> None:
    assert {model: set(by_kind) for model, by_kind in workflows.items()} == {
        "churn-xgb": {"training", "deploy_staging", "smoke_test", "deploy_production", "drift_check"},
        "iris-sklearn": {"training", "deploy_staging", "smoke_test", "deploy_production"},
        "fraud-batch": {"training", "batch_transform"},  # a batch model hosts no endpoint
    }
    for by_kind in workflows.values():
        for workflow in by_kind.values():
            text = workflow.definition_json
            assert "Fn::" not in text and '"Ref"' not in text and "${Token" not in text
            assert "arn:aws:sns:eu-west-1:123456789012:" in text


def test_cli_dry_run_approve_exits_0(
    workflows: dict[str, dict[str, ResolvedWorkflow]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["dry-run", "churn-xgb", "--scenario", "approve", "--models-dir", str(MODELS_DIR)])

    out = capsys.readouterr().out
    assert code == 0
    assert "TaskStateEntered Train" in out
    assert "Final status: SUCCEEDED" in out
    assert "Registered: arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn-xgb/1" in out
    assert "State transitions: 8" in out
    assert "Wall time:" in out


def test_cli_dry_run_reject_exits_1(
    workflows: dict[str, dict[str, ResolvedWorkflow]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["dry-run", "churn-xgb", "--scenario", "reject", "--models-dir", str(MODELS_DIR)])

    out = capsys.readouterr().out
    assert code == 1
    assert "Final status: FAILED" in out
    assert "Registered: nothing" in out
    assert "validation:auc = 0.7 does not meet >= 0.8" in out


def test_cli_dry_run_unknown_model_exits_2(
    workflows: dict[str, dict[str, ResolvedWorkflow]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["dry-run", "no-such-model", "--models-dir", str(MODELS_DIR)])

    assert code == 2
    assert "known models: churn-xgb, fraud-batch, iris-sklearn" in capsys.readouterr().err


def test_definitions_are_json(workflows: dict[str, dict[str, ResolvedWorkflow]]) -> None:
    assert json.loads(workflows["iris-sklearn"]["training"].definition_json)["StartAt"] == "ValidateInput"


@pytest.mark.parametrize(("scenario", "status", "value"), [("approve", "SUCCEEDED", 12.45), ("reject", "FAILED", 12.6)])
def test_an_at_most_gate_passes_below_its_threshold_and_rejects_above_it(
    tmp_path: Path, scenario: str, status: str, value: float
) -> None:
    # examples/other-region gates on validation:rmse <= 12.5
    shutil.copytree(REPO_ROOT / "examples" / "other-region", tmp_path / "demand-us")

    run = run_training_scenario("demand-us", scenario, models_dir=tmp_path)

    assert run.status == status
    assert ("RegisterModel" in run.states_entered) is (status == "SUCCEEDED")
    if status == "SUCCEEDED":
        assert run.result.output["Metrics"]["validation_rmse"] == [value]
    else:
        [notification] = run.notifications
        assert f"validation:rmse = {value} does not meet <= 12.5" in notification.message
