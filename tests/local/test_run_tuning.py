"""``cdk-mlops run`` of a tuned model: the tuning job runs a bounded number of real local training jobs
(Random over the ranges, ``--max-tuning-jobs``, default 3) through the ordinary training runner, and
the one with the best objective is the one gated and registered.

As on AWS (SageMaker API reference, DescribeHyperParameterTuningJob), ``BestTrainingJob`` is the
completed training job with the best ``FinalHyperParameterTuningJobObjectiveMetric``, and the
workflow's ``DescribeBestTrainingJob`` reads that job's ``FinalMetricDataList``. The model is written to
``tmp_path`` with synthetic sample data; its environment comes from the shared cache
(``cdk_mlops.local.environments``), so only the first run on a machine pays for the install.
"""

from __future__ import annotations

import io
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdk_mlops.cli import main
from cdk_mlops.local.run import RunReport, run_model

CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
MODEL = "tuned"


def _rows(rng: random.Random, count: int) -> str:
    """Six features; the label (first) follows a logistic model of the first two."""
    rows = []
    for _ in range(count):
        features = [rng.uniform(0, 10) for _ in range(6)]
        label = int(rng.random() < 1 / (1 + math.exp(-(features[0] - features[1]))))
        rows.append(",".join([str(label), *(f"{value:.3f}" for value in features)]))
    return "\n".join(rows) + "\n"


def _config() -> dict[str, Any]:
    return {
        "name": MODEL,
        "source": {"connection_arn": CONNECTION, "repository": "org/repo", "path": f"models/{MODEL}"},
        "framework": {"name": "xgboost", "version": "1.7-1"},
        "training": {
            "instance_type": "ml.m5.large",
            "hyperparameters": {"objective": "binary:logistic", "eval_metric": "auc", "num_round": 10},
            "tuning": {
                "objective_metric": "validation:auc",
                "max_jobs": 8,
                "max_parallel_jobs": 2,
                "ranges": {"max_depth": {"min": 1, "max": 6}, "eta": {"min": 0.05, "max": 0.5}},
            },
        },
        "quality_gate": [{"metric": "validation:auc", "threshold": 0.7}],
        "endpoints": {"staging": {"serverless": True}, "production": {"serverless": True}},
        "smoke_test": {"payload": "5,1,2,3,4,5", "content_type": "text/csv"},
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run-tuning") / "models"
    folder = root / MODEL
    rng = random.Random(11)
    for channel, count in (("train", 300), ("validation", 100)):
        (folder / "sample_data" / channel).mkdir(parents=True)
        (folder / "sample_data" / channel / f"{channel}.csv").write_text(_rows(rng, count), encoding="utf-8")
    (folder / "model.yaml").write_text(yaml.safe_dump(_config(), sort_keys=False), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def default_run(models: Path) -> tuple[RunReport, str]:
    out = io.StringIO()
    return run_model(MODEL, models_dir=models, out=out), out.getvalue()


def test_a_tuned_model_runs_three_real_trials_by_default_and_registers_the_best(default_run) -> None:
    report, output = default_run
    assert report.exit_code == 0, output
    trials = [job for job in report.jobs if job.kind == "training"]
    assert len(trials) == 3  # max_jobs 8, capped by --max-tuning-jobs' default
    assert all(job.status == "Completed" for job in trials)
    aucs = [job.metrics["validation:auc"] for job in trials]
    (gate,) = report.gates
    assert gate.value == pytest.approx(max(aucs))  # the real AUC of the best trial, gated
    assert gate.passed
    assert report.outcome.startswith("registered arn:aws:sagemaker:")


def test_the_trials_are_named_after_their_tuning_job_as_sagemaker_names_them(default_run) -> None:
    report, _ = default_run
    names = [job.name for job in report.jobs if job.kind == "training"]
    tuning_job = names[0].split("-")[0]
    assert [name.rsplit("-", 1)[0] for name in names] == [f"{tuning_job}-{index:03d}" for index in (1, 2, 3)]
    assert re.fullmatch(r"[0-9a-f]{32}", tuning_job)


def test_max_tuning_jobs_bounds_the_real_trials(models: Path) -> None:
    out = io.StringIO()
    report = run_model(MODEL, models_dir=models, out=out, max_tuning_jobs=1)
    assert report.exit_code == 0, out.getvalue()
    assert [job.kind for job in report.jobs].count("training") == 1


def test_the_command_refuses_a_max_tuning_jobs_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["run", MODEL, "--max-tuning-jobs", "0"])
    assert raised.value.code == 2
    assert "--max-tuning-jobs: must be an integer of at least 1 (got '0')" in capsys.readouterr().err
