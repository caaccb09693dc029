"""``cdk-mlops run``: a model's own code through its synthesized workflows, every SageMaker job for real.

The models are written here, into one models folder per module (synthesized once): a scikit-learn
script-mode model with preprocessing, training, evaluation and serving code (``flowers``), copies of it
with one mistake each, a built-in XGBoost model (``churn``) and a batch one (``fraud``) with synthetic
sample data. Their environments come from the shared cache (built once per machine), so only the first
run on a machine pays for the installs.
"""

from __future__ import annotations

import io
import json
import math
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdk_mlops.local.run import RunReport, run_model

CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"

PREPROCESS = '''"""Splits the raw CSV into train and validation."""
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = Path("/opt/ml/processing")
data = pd.concat(pd.read_csv(path, header=None) for path in sorted((ROOT / "input/raw").rglob("*.csv")))
train, validation = train_test_split(data, test_size=0.3, random_state=0, stratify=data[0])
for name, frame in (("train", train), ("validation", validation)):
    (ROOT / "output" / name).mkdir(parents=True, exist_ok=True)
    frame.to_csv(ROOT / "output" / name / f"{name}.csv", header=False, index=False)
'''

TRAIN = '''"""Trains a random forest (script mode)."""
import argparse
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier


def model_fn(model_dir):
    return joblib.load(Path(model_dir) / "model.joblib")


def input_fn(body, content_type):
    text = body.decode() if isinstance(body, bytes) else body
    return np.array([[float(cell) for cell in line.split(",")] for line in text.splitlines() if line.strip()])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_estimators", type=int, default=10)
    args = parser.parse_args()
    data = pd.concat(pd.read_csv(p, header=None) for p in sorted(Path(os.environ["SM_CHANNEL_TRAIN"]).glob("*.csv")))
    model = RandomForestClassifier(n_estimators=args.n_estimators, random_state=0).fit(data.iloc[:, 1:], data[0])
    joblib.dump(model, Path(os.environ["SM_MODEL_DIR"]) / "model.joblib")
    print(f"train accuracy={model.score(data.iloc[:, 1:], data[0]):.4f}")
'''

EVALUATE = '''"""Writes evaluation.json from the trained model and the validation data."""
import json
import tarfile
from pathlib import Path

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score

ROOT = Path("/opt/ml/processing")
with tarfile.open(ROOT / "input/model/model.tar.gz") as archive:
    archive.extractall(ROOT / "model")
model = joblib.load(ROOT / "model/model.joblib")
data = pd.concat(pd.read_csv(path, header=None) for path in sorted((ROOT / "input/test").glob("*.csv")))
accuracy = accuracy_score(data[0], model.predict(data.iloc[:, 1:]))
(ROOT / "output/evaluation").mkdir(parents=True, exist_ok=True)
(ROOT / "output/evaluation/evaluation.json").write_text(json.dumps({"metrics": {"accuracy": accuracy}}))
'''


def _flowers_rows(rng: random.Random) -> list[str]:
    """Three well-separated classes of four measurements, label first (like iris)."""
    rows = []
    for label, centre in enumerate((1.0, 3.0, 5.0)):
        for _ in range(40):
            rows.append(",".join([str(label), *(f"{rng.gauss(centre + i * 0.5, 0.4):.2f}" for i in range(4))]))
    return rows


def _tabular_rows(rng: random.Random, count: int, *, labelled: bool = True) -> list[str]:
    """Six features; the label (first) follows a logistic model of the first two."""
    rows = []
    for _ in range(count):
        features = [rng.uniform(0, 10) for _ in range(6)]
        label = int(rng.random() < 1 / (1 + math.exp(-(features[0] - features[1]))))
        cells = [f"{value:.3f}" for value in features]
        rows.append(",".join([str(label), *cells] if labelled else cells))
    return rows


def _write(folder: Path, config: dict[str, Any], files: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    (folder / "model.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")


def _base(name: str, framework: str, version: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"connection_arn": CONNECTION, "repository": "org/repo", "path": f"models/{name}"},
        "framework": {"name": framework, "version": version},
    }


def _flowers(models: Path, rng: random.Random) -> None:
    config = {
        **_base("flowers", "sklearn", "1.2-1"),
        "training": {
            "instance_type": "ml.m5.large",
            "entry_point": "train.py",
            "hyperparameters": {"n_estimators": 10},
        },
        "preprocessing": {"script": "preprocess.py"},
        "evaluation": {"source": "evaluation_job", "job": {"script": "evaluate.py"}},
        "quality_gate": [{"metric": "metrics.accuracy", "threshold": 0.9}],
        "endpoints": {"staging": {"serverless": True}, "production": {"serverless": True}, "content_type": "text/csv"},
        "smoke_test": {"payload": "1.0,1.5,2.0,2.5"},
    }
    files = {
        "requirements.txt": "scikit-learn>=1.2\npandas>=1.5\njoblib\n",
        "src/preprocess.py": PREPROCESS,
        "src/train.py": TRAIN,
        "src/evaluate.py": EVALUATE,
        "sample_data/flowers.csv": "\n".join(_flowers_rows(rng)) + "\n",
    }
    _write(models / "flowers", config, files)


def _variant(models: Path, name: str, replace: dict[str, str], config_change: dict[str, Any] | None = None) -> None:
    """A copy of ``flowers`` named ``name`` with some files replaced (and model.yaml sections changed)."""
    folder = models / name
    shutil.copytree(models / "flowers", folder)
    config = yaml.safe_load((folder / "model.yaml").read_text(encoding="utf-8"))
    config.update({"name": name, **(config_change or {})})
    config["source"]["path"] = f"models/{name}"
    (folder / "model.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    for relative, text in replace.items():
        (folder / relative).write_text(text, encoding="utf-8")


def _builtin(models: Path, name: str, rng: random.Random, *, batch_input: str | None = None) -> None:
    config = {
        **_base(name, "xgboost", "1.7-1"),
        "training": {
            "instance_type": "ml.m5.large",
            "hyperparameters": {"objective": "binary:logistic", "eval_metric": "auc", "num_round": 20},
        },
        "quality_gate": [{"metric": "validation:auc", "threshold": 0.8}],
    }
    if batch_input is None:
        config["endpoints"] = {"staging": {"serverless": True}, "production": {"serverless": True}}
        config["smoke_test"] = {"payload": "5,1,2,3,4,5", "content_type": "text/csv"}
    else:
        config["inference"] = "batch"
        config["batch"] = {"content_type": "text/csv", "split_type": "Line"}
    files = {
        "sample_data/train/train.csv": "\n".join(_tabular_rows(rng, 300)) + "\n",
        "sample_data/validation/validation.csv": "\n".join(_tabular_rows(rng, 100)) + "\n",
    }
    if batch_input is not None:
        files["sample_data/batch_input/day.csv"] = batch_input
    _write(models / name, config, files)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models folder holding every model these tests run (one synthesis for all of them)."""
    root = tmp_path_factory.mktemp("run") / "models"
    rng = random.Random(7)
    _flowers(root, rng)
    _variant(root, "flowers-raises", {"src/train.py": 'raise RuntimeError("the forest caught fire")\n'})
    _variant(root, "flowers-silent", {"src/evaluate.py": '"""Writes nothing."""\nprint("evaluated")\n'})
    _variant(
        root,
        "flowers-mute",
        {},
        {
            "evaluation": {"source": "training_metrics"},
            "training": {
                "instance_type": "ml.m5.large",
                "entry_point": "train.py",
                "metric_definitions": {"validation:f1": "validation f1=([0-9.]+)"},
            },
            "quality_gate": [{"metric": "validation:f1", "threshold": 0.5}],
        },
    )
    _variant(
        root,
        "flowers-unloadable",
        {
            "src/train.py": TRAIN.replace(
                '    return joblib.load(Path(model_dir) / "model.joblib")',
                '    raise ValueError("no model in " + model_dir)',
            )
        },
    )
    _builtin(root, "churn", rng)
    batch_rows = "\n".join(_tabular_rows(rng, 20, labelled=False)) + "\n"
    _builtin(root, "fraud", rng, batch_input=batch_rows)
    _builtin(root, "fraud-garbage", rng, batch_input="not,a,number,at,all,here\n\x00\x01\n")
    return root


@pytest.fixture(scope="module")
def runs(models: Path) -> Iterator[dict[str, tuple[RunReport, str]]]:
    """Each model's run, made at most once per module: ``name -> (report, printed output)``."""
    done: dict[str, tuple[RunReport, str]] = {}
    yield done


def _run(models: Path, runs: dict[str, tuple[RunReport, str]], name: str, **options: Any) -> tuple[RunReport, str]:
    if name not in runs or options:
        out = io.StringIO()
        report = run_model(name, models_dir=models, out=out, **options)
        if options:
            return report, out.getvalue()
        runs[name] = (report, out.getvalue())
    return runs[name]


# -- successful runs -------------------------------------------------------------------------------


def test_a_script_mode_model_is_registered_with_the_accuracy_its_evaluation_script_computed(
    models: Path, runs: dict[str, tuple[RunReport, str]], tmp_path: Path
) -> None:
    report, output = _run(models, runs, "flowers", report=tmp_path / "report.json")

    assert report.exit_code == 0, output
    assert report.outcome.startswith("registered arn:aws:sagemaker:"), report.outcome
    (gate,) = report.gates
    assert gate.metric == "metrics.accuracy" and gate.passed
    # the evaluation script's number: accuracy on the 36 validation rows is a multiple of 1/36
    assert gate.value is not None and round(gate.value * 36, 6) == round(gate.value * 36)
    assert [job.kind for job in report.jobs] == ["processing", "training", "processing"]
    assert all(job.status == "Completed" for job in report.jobs)
    written = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert written["outcome"] == report.outcome and written["exit_code"] == 0
    assert {state["stage"] for state in written["states"]} == {
        "training",
        "deploy_staging",
        "smoke_test",
        "deploy_production",
    }


def test_the_smoke_test_reaches_the_trained_model(models: Path, runs: dict[str, tuple[RunReport, str]]) -> None:
    report, output = _run(models, runs, "flowers")

    smoke = [state for state in report.states if state.stage == "smoke_test"]
    assert smoke and not any(state.failed for state in smoke), output
    assert report.split["serving"] > 0


def test_the_run_prints_a_line_per_state_and_job_and_the_gate_table(
    models: Path, runs: dict[str, tuple[RunReport, str]]
) -> None:
    _, output = _run(models, runs, "flowers")

    assert "start Train" in output and "end   Train (" in output
    assert "training job flowers-" in output and ": Completed (" in output
    assert "metrics.accuracy" in output and ">= 0.9  pass" in output
    assert "Outcome: registered arn:aws:sagemaker:" in output


def test_a_builtin_xgboost_model_is_registered_with_the_auc_the_algorithm_reported(
    models: Path, runs: dict[str, tuple[RunReport, str]]
) -> None:
    report, output = _run(models, runs, "churn")

    assert report.exit_code == 0, output
    (gate,) = report.gates
    (training,) = [job for job in report.jobs if job.kind == "training"]
    assert gate.value == pytest.approx(training.metrics["validation:auc"])
    assert gate.value is not None and gate.value >= 0.8


def test_a_batch_model_transforms_its_sample_input(models: Path, runs: dict[str, tuple[RunReport, str]]) -> None:
    report, output = _run(models, runs, "fraud")

    assert report.exit_code == 0, output
    assert [job.kind for job in report.jobs] == ["training", "transform"]
    assert report.jobs[-1].status == "Completed"


def test_keep_keeps_each_jobs_output_and_says_where(models: Path, tmp_path: Path) -> None:
    report, output = _run(models, {}, "flowers-raises", keep=True, workspace=tmp_path / "ws")

    assert f"Job output kept in {tmp_path / 'ws'}" in output
    (job,) = [job for job in report.jobs if job.kind == "training"]
    assert job.log_path is not None and job.log_path.startswith(str(tmp_path / "ws"))
    assert "the forest caught fire" in Path(job.log_path).read_text(encoding="utf-8")


# -- failures --------------------------------------------------------------------------------------


def test_a_training_script_that_raises_fails_the_run_with_its_exception_text(
    models: Path, runs: dict[str, tuple[RunReport, str]]
) -> None:
    report, output = _run(models, runs, "flowers-raises")

    assert report.exit_code == 1
    assert report.outcome.startswith("failed at training/Train: AlgorithmError"), report.outcome
    assert "RuntimeError: the forest caught fire" in report.outcome
    assert any("the forest caught fire" in notification["message"] for notification in report.notifications)
    assert "Outcome: failed at training/Train" in output


def test_a_gated_metric_the_script_never_prints_takes_the_metric_missing_path(
    models: Path, runs: dict[str, tuple[RunReport, str]]
) -> None:
    report, output = _run(models, runs, "flowers-mute")

    assert report.exit_code == 1, output
    (gate,) = report.gates
    assert gate.value is None and not gate.passed
    assert "MetricMissing" in report.outcome, report.outcome
    assert not any(state.name == "RegisterModel" for state in report.states)


def test_an_evaluation_script_that_writes_nothing_fails_reading_the_report(
    models: Path, runs: dict[str, tuple[RunReport, str]]
) -> None:
    report, output = _run(models, runs, "flowers-silent")

    assert report.exit_code == 1, output
    assert report.outcome.startswith("failed at training/ReadEvaluationReport"), report.outcome
    assert "The specified key does not exist" in report.outcome


def test_a_model_fn_that_raises_fails_the_smoke_test(models: Path, runs: dict[str, tuple[RunReport, str]]) -> None:
    report, output = _run(models, runs, "flowers-unloadable")

    assert report.exit_code == 1, output
    assert report.outcome.startswith("failed at smoke_test/"), report.outcome
    assert "no model in" in report.outcome
    assert not any(state.stage == "deploy_production" for state in report.states)


def test_a_batch_input_the_model_cannot_parse_fails_the_transform(
    models: Path, runs: dict[str, tuple[RunReport, str]]
) -> None:
    report, output = _run(models, runs, "fraud-garbage")

    assert report.exit_code == 1, output
    (transform,) = [job for job in report.jobs if job.kind == "transform"]
    assert transform.status == "Failed"
    assert report.outcome.startswith("failed at batch_transform/"), report.outcome
    assert " ".join(str(transform.failure_reason).split()) in report.outcome  # on one line
    assert "could not convert string to float: 'not'" in report.outcome


def test_an_unknown_model_is_refused_before_synthesis(models: Path) -> None:
    out = io.StringIO()

    report = run_model("flowerz", models_dir=models, out=out)

    assert report.exit_code == 2
    assert "unknown model 'flowerz'" in out.getvalue() and "did you mean 'flowers'?" in out.getvalue()
    assert "Synthesizing" not in out.getvalue()


def test_a_preflight_problem_stops_the_run_before_synthesis(models: Path, tmp_path: Path) -> None:
    broken = tmp_path / "models"
    shutil.copytree(models / "churn", broken / "churn")
    config = yaml.safe_load((broken / "churn" / "model.yaml").read_text(encoding="utf-8"))
    config["quality_gate"] = [{"metric": "validation:acuracy", "threshold": 0.8}]
    (broken / "churn" / "model.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    out = io.StringIO()

    report = run_model("churn", models_dir=broken, out=out)

    assert report.exit_code == 2
    assert "quality_gate.metric 'validation:acuracy'" in out.getvalue()
    assert "Synthesizing" not in out.getvalue()


def test_the_run_command_refuses_an_unknown_model_with_exit_2(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cdk_mlops.cli import main

    assert main(["run", "flowerz", "--models-dir", str(models)]) == 2
    assert "unknown model 'flowerz'" in capsys.readouterr().err


def test_the_run_command_exits_1_when_the_release_fails(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cdk_mlops.cli import main

    assert main(["run", "flowers-raises", "--models-dir", str(models)]) == 1
    assert "Outcome: failed at training/Train: AlgorithmError" in capsys.readouterr().out
