"""The ``metric-missing`` scenario: a training job that completes without reporting a gated metric.

On AWS the gate's metric is read with a JSONPath filter, which yields ``[]`` when the job did not report
the metric (Step Functions "Paths": Jayway JSONPath; getmoto/moto issue 10078), and ``IsPresent`` on
``[0]`` of an empty list is false ("Choice Rules"), so the run notifies the model's topic and fails
``MetricMissing``. The models are written to ``tmp_path``; nothing here reads ``models/``.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.cli import main
from cdk_mlops.local.harness import SCENARIOS, ScenarioError, run_training_scenario
from cdk_mlops_testing import write_model


def model_config(name: str, evaluation: dict[str, Any]) -> dict[str, Any]:
    """A small built-in XGBoost model gated on two metrics."""
    return {
        "name": name,
        "description": "Test model for the metric-missing scenario.",
        "source": {"provider": "codecommit", "repository": f"{name}-repo", "create_repository": True},
        "framework": {"name": "xgboost", "version": "1.7-1"},
        "training": {
            "instance_type": "ml.m5.large",
            "hyperparameters": {"objective": "binary:logistic", "num_round": 10},
        },
        "data": {"channels": ["train", "validation"]},
        "evaluation": evaluation,
        "quality_gate": [
            {"metric": "validation:auc", "threshold": 0.8},
            {"metric": "validation:logloss", "threshold": 0.5, "comparison": "<="},
        ],
        "endpoints": {"staging": {"serverless": True}, "production": {"serverless": True}},
        "smoke_test": {"payload": "1,2,3"},
        "notification_email": "ml-team@example.com",
    }


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_model(root, "gated-on-training", model_config("gated-on-training", {"source": "training_metrics"}))
    write_model(
        root,
        "gated-on-evaluation",
        model_config(
            "gated-on-evaluation",
            {"source": "evaluation_job", "job": {"script": "evaluate.py", "instance_type": "ml.m5.large"}},
        ),
    )
    (root / "gated-on-evaluation" / "src").mkdir()
    (root / "gated-on-evaluation" / "src" / "evaluate.py").write_text("print('evaluate')\n", encoding="utf-8")
    return root


def test_metric_missing_is_a_training_scenario() -> None:
    assert "metric-missing" in SCENARIOS


def test_a_gated_metric_the_job_did_not_report_notifies_and_fails_metric_missing(models_dir: Path) -> None:
    run = run_training_scenario("gated-on-training", "metric-missing", models_dir=models_dir)

    assert run.status == "FAILED"
    assert run.result.error == "MetricMissing"
    assert run.states_entered[-4:] == [
        "ExtractTrainingMetrics",
        "QualityGate validation_auc",
        "NotifyMetricMissing0",
        "MetricMissing0",
    ]
    [notification] = run.notifications
    assert "validation:auc is missing" in notification.message
    assert notification.state_name == "NotifyMetricMissing0"
    assert notification.topic_arn == run.workflow.states["NotifyMetricMissing0"]["Parameters"]["TopicArn"]
    assert run.model_packages == {}


def test_extract_training_metrics_gives_an_empty_list_for_the_missing_metric(models_dir: Path) -> None:
    run = run_training_scenario("gated-on-training", "metric-missing", models_dir=models_dir)

    [exited] = [
        event["stateExitedEventDetails"]
        for event in run.result.history
        if event["type"] == "PassStateExited" and event["stateExitedEventDetails"]["name"] == "ExtractTrainingMetrics"
    ]
    assert '"validation_auc":[]' in exited["output"].replace(" ", "")


def test_metric_missing_is_refused_for_a_model_gated_on_an_evaluation_job(models_dir: Path) -> None:
    with pytest.raises(ScenarioError, match=r"'metric-missing' needs a model gated on training metrics"):
        run_training_scenario("gated-on-evaluation", "metric-missing", models_dir=models_dir)


def test_dry_run_takes_the_metric_missing_path(models_dir: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["dry-run", "gated-on-training", "--scenario", "metric-missing", "--models-dir", str(models_dir)])

    assert code == 1
    printed = out.getvalue()
    assert "NotifyMetricMissing0" in printed
    assert "MetricMissing" in printed


def test_dry_run_help_lists_metric_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # argparse would otherwise wrap at the hyphen
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit):
        main(["dry-run", "--help"])

    assert "metric-missing" in out.getvalue()
