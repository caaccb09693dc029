"""A tuned model's training workflow on the local engine (``cdk-mlops dry-run``): the tuning job starts
training jobs, ends with the best one by its objective, and the gate reads that job's metrics.

AWS behaviour followed (SageMaker API reference): CreateHyperParameterTuningJob starts training jobs
from ``TrainingJobDefinition`` named ``<tuning job>-<NNN>-<8 hex>``; DescribeHyperParameterTuningJob
reports ``HyperParameterTuningJobStatus`` InProgress until they end, then ``BestTrainingJob`` (the
Completed job with the best ``FinalHyperParameterTuningJobObjectiveMetric``); a tuning job none of
whose jobs reports the objective fails. A ``.sync`` task whose job ends Failed fails with
``States.TaskFailed`` (Step Functions developer guide, "Run a job"). The models are written to
``tmp_path``; nothing here reads ``models/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.local.engine import JobOutcome, LocalEngine
from cdk_mlops.local.harness import prepare_training_run, run_training_scenario, synthesize_workflows
from cdk_mlops.local.jobs.tuning import best_trial, plan_trials, trial_count, trial_request
from cdk_mlops.local.scenario import JobKind
from cdk_mlops_testing import write_model

MODEL = "tuned-xgb"
RANGES = {
    "eta": {"min": 0.05, "max": 0.5, "scaling": "Logarithmic"},
    "max_depth": {"min": 2, "max": 8},
    "booster": {"values": ["gbtree", "dart"]},
}


def tuned_model(name: str = MODEL) -> dict[str, Any]:
    """A small built-in XGBoost model tuned on validation:auc, which its gate also reads."""
    return {
        "name": name,
        "description": "Test model for the tuning path.",
        "source": {"provider": "codecommit", "repository": f"{name}-repo", "create_repository": True},
        "framework": {"name": "xgboost", "version": "1.7-1"},
        "training": {
            "instance_type": "ml.m5.large",
            "spot": True,
            "hyperparameters": {"objective": "binary:logistic", "eval_metric": "auc", "num_round": 10},
            "tuning": {"objective_metric": "validation:auc", "max_jobs": 6, "max_parallel_jobs": 2, "ranges": RANGES},
        },
        "quality_gate": [{"metric": "validation:auc", "threshold": 0.8}],
        "endpoints": {"staging": {"serverless": True}, "production": {"serverless": True}},
        "smoke_test": {"payload": "1,2,3"},
    }


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_model(root, MODEL, tuned_model())
    return root


def run_with(models_dir: Path, scripting: Any) -> tuple[Any, LocalEngine, list[Any]]:
    """Runs the training workflow with ``scripting(engine)`` applied before the harness's own rules."""
    workflow = synthesize_workflows(models_dir, MODEL)[MODEL]["training"]
    with LocalEngine() as engine:
        scripting(engine)
        name, run_input = prepare_training_run(engine, MODEL, workflow, "approve")
        result = engine.run(
            workflow.definition_json, input=run_input, name=name, state_machine_name=workflow.logical_id
        )
        jobs = engine.sagemaker.jobs
        notifications = engine.notifications
    return result, notifications, jobs


def test_approve_tunes_describes_the_best_job_gates_and_registers(models_dir: Path) -> None:
    run = run_training_scenario(MODEL, "approve", models_dir=models_dir)
    assert run.status == "SUCCEEDED", run.result.cause
    entered = run.states_entered
    assert entered[entered.index("Tune") : entered.index("Tune") + 3] == [
        "Tune",
        "DescribeBestTrainingJob",
        "ExtractTrainingMetrics",
    ]
    assert "RegisterModel" in entered
    assert run.result.output["Metrics"] == {"validation_auc": [0.85]}


def test_the_gate_reads_the_best_jobs_metrics_and_rejects_a_best_job_below_the_threshold(models_dir: Path) -> None:
    run = run_training_scenario(MODEL, "reject", models_dir=models_dir)
    assert run.status == "FAILED"
    assert "RegisterModel" not in run.states_entered
    assert "DescribeBestTrainingJob" in run.states_entered


def test_the_best_trial_by_the_objective_is_the_one_registered(models_dir: Path) -> None:
    def three_trials(engine: LocalEngine) -> None:
        for auc in (0.82, 0.93, 0.88):
            engine.sagemaker.script_training_job(JobOutcome.completed({"validation:auc": auc}), times=1)

    result, _, jobs = run_with(models_dir, three_trials)
    trials = [job for job in jobs if job.kind is JobKind.TRAINING]
    assert result.status == "SUCCEEDED", result.cause
    assert len(trials) == 3  # max_jobs 6, at most 3 locally
    assert result.output["TrainingJobName"] == trials[1].name
    assert result.output["Metrics"] == {"validation_auc": [0.93]}
    assert result.output["ModelDataUrl"].endswith(f"/model/{trials[1].name}/output/model.tar.gz")


def test_trial_names_follow_sagemaker_and_stay_valid_job_names(models_dir: Path) -> None:
    _, _, jobs = run_with(models_dir, lambda engine: None)
    (tuning_job,) = [job for job in jobs if job.kind is JobKind.TUNING]
    for job in jobs:
        if job.kind is JobKind.TRAINING:
            assert re.fullmatch(rf"{tuning_job.name}-00[1-3]-[0-9a-f]{{8}}", job.name)
            assert len(job.name) <= 63
    assert re.fullmatch(r"[0-9a-f]{32}", tuning_job.name)


def test_the_local_trial_limit_bounds_the_training_jobs(models_dir: Path) -> None:
    _, _, jobs = run_with(models_dir, lambda engine: engine.sagemaker.limit_tuning_jobs(2))
    assert [job.kind for job in jobs].count(JobKind.TRAINING) == 2


def test_a_failed_tuning_job_is_caught_and_notified(models_dir: Path) -> None:
    def failing(engine: LocalEngine) -> None:
        engine.sagemaker.script_tuning_job(JobOutcome.failed("ResourceLimitExceeded: no ml.m5.large capacity"))

    result, notifications, jobs = run_with(models_dir, failing)
    assert result.status == "FAILED"
    assert result.states_entered[-2:] == ["NotifyFailure", "WorkflowFailed"]
    assert [job.kind for job in jobs].count(JobKind.TRAINING) == 0
    assert "no ml.m5.large capacity" in notifications[-1].message


def test_a_tuning_job_whose_trials_never_report_the_objective_fails(models_dir: Path) -> None:
    def no_objective(engine: LocalEngine) -> None:
        engine.sagemaker.script_training_job(JobOutcome.completed({"train:auc": 0.9}))

    result, notifications, _ = run_with(models_dir, no_objective)
    assert result.status == "FAILED"
    assert "DescribeBestTrainingJob" not in result.states_entered
    assert "No training job succeeded with objective metric 'validation:auc'" in notifications[-1].message


# ---- the trial plan (cdk_mlops.local.jobs.tuning) ---------------------------------------------------

CONFIG = {
    "Strategy": "Random",
    "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
    "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2},
    "ParameterRanges": {
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "8", "ScalingType": "Auto"}],
        "ContinuousParameterRanges": [
            {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
        ],
        "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
    },
}


def test_random_trials_stay_inside_their_ranges_and_repeat_for_the_same_tuning_job() -> None:
    trials = plan_trials("a" * 32, CONFIG, limit=5)
    assert trials == plan_trials("a" * 32, CONFIG, limit=5)
    assert len(trials) == 5
    for trial in trials:
        assert 2 <= int(trial.tuned["max_depth"]) <= 8
        assert 0.05 <= float(trial.tuned["eta"]) <= 0.5
        assert trial.tuned["booster"] in {"gbtree", "dart"}


def test_grid_trials_walk_the_combinations_and_count_them() -> None:
    grid = {
        "Strategy": "Grid",
        "ResourceLimits": {"MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "CategoricalParameterRanges": [
                {"Name": "booster", "Values": ["gbtree", "dart"]},
                {"Name": "max_depth", "Values": ["3", "5"]},
            ]
        },
    }
    assert trial_count(grid, limit=10) == 4
    assert [trial.tuned for trial in plan_trials("g" * 32, grid, limit=3)] == [
        {"booster": "gbtree", "max_depth": "3"},
        {"booster": "gbtree", "max_depth": "5"},
        {"booster": "dart", "max_depth": "3"},
    ]


def test_a_trial_request_is_the_definition_with_static_and_tuned_hyperparameters() -> None:
    (trial,) = plan_trials("b" * 32, CONFIG, limit=1)
    definition = {"RoleArn": "arn:aws:iam::123456789012:role/r", "StaticHyperParameters": {"num_round": "10"}}
    request = trial_request(definition, trial)
    assert request["TrainingJobName"] == trial.name
    assert request["RoleArn"] == definition["RoleArn"]
    assert request["HyperParameters"] == {"num_round": "10", **trial.tuned}


def test_the_best_trial_is_the_completed_one_with_the_best_objective() -> None:
    def metric(value: float) -> list[dict[str, Any]]:
        return [{"MetricName": "validation:rmse", "Value": value}]

    results = [("a", "Completed", metric(0.3)), ("b", "Failed", metric(0.1)), ("c", "Completed", metric(0.2))]
    assert best_trial(results, {"Type": "Minimize", "MetricName": "validation:rmse"}) == ("c", 0.2)
    assert best_trial(results, {"Type": "Maximize", "MetricName": "validation:rmse"}) == ("a", 0.3)
    assert best_trial(results, {"Type": "Maximize", "MetricName": "validation:auc"}) is None
