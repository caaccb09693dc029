"""Pre-flight of ``cdk-mlops run``: mistakes that pass synthesis and dry runs are named (file, field,
value) before anything runs. Models are built in tmp_path; nothing here reads models/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cdk_mlops.config.loader import load_model_config
from cdk_mlops.local.preflight import PreflightError, preflight, raise_for_problems

CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"


def _script_model(name: str = "flowers") -> dict[str, Any]:
    return {
        "name": name,
        "source": {"connection_arn": CONNECTION, "repository": "org/repo", "path": f"models/{name}"},
        "framework": {"name": "sklearn", "version": "1.2-1"},
        "training": {"entry_point": "train.py"},
        "preprocessing": {"script": "preprocess.py"},
        "evaluation": {"source": "evaluation_job", "job": {"script": "evaluate.py"}},
        "quality_gate": [{"metric": "metrics.accuracy", "threshold": 0.9}],
    }


def _builtin_model(name: str = "churn", **training: Any) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"connection_arn": CONNECTION, "repository": "org/repo", "path": f"models/{name}"},
        "framework": {"name": "xgboost", "version": "1.7-1"},
        "training": {"hyperparameters": {"objective": "binary:logistic", "eval_metric": "auc", **training}},
        "quality_gate": [{"metric": "validation:auc", "threshold": 0.8}],
    }


def _write(root: Path, data: dict[str, Any], files: dict[str, str]) -> Path:
    folder = root / "models" / data["name"]
    folder.mkdir(parents=True)
    (folder / "model.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    return folder


SCRIPT_FILES = {
    "src/train.py": "",
    "src/preprocess.py": "",
    "src/evaluate.py": "",
    "sample_data/raw.csv": "0,1.0\n",
}
BUILTIN_FILES = {"sample_data/train/a.csv": "0,1\n", "sample_data/validation/b.csv": "1,2\n"}


def _problems(folder: Path) -> list[str]:
    return [str(problem) for problem in preflight(folder, load_model_config(folder / "model.yaml"))]


def test_a_complete_model_has_no_problems(tmp_path: Path) -> None:
    assert _problems(_write(tmp_path, _script_model(), SCRIPT_FILES)) == []
    assert _problems(_write(tmp_path, _builtin_model(), BUILTIN_FILES)) == []


def test_an_entry_point_missing_from_src_is_named_with_its_file_field_and_value(tmp_path: Path) -> None:
    data = _script_model()
    data["training"]["entry_point"] = "trian.py"
    folder = _write(tmp_path, data, SCRIPT_FILES)

    (problem,) = _problems(folder)

    assert problem.startswith(f"{folder / 'model.yaml'}: training.entry_point 'trian.py': no file src/trian.py in")


def test_every_script_model_yaml_names_must_be_in_src(tmp_path: Path) -> None:
    files = {**SCRIPT_FILES}
    del files["src/preprocess.py"], files["src/evaluate.py"]
    folder = _write(tmp_path, _script_model(), files)

    problems = _problems(folder)

    assert [problem.split(" ")[1] for problem in problems] == ["preprocessing.script", "evaluation.job.script"]


def test_a_source_path_that_is_not_the_models_folder_is_refused(tmp_path: Path) -> None:
    data = _script_model()
    data["source"]["path"] = "models/flowerz"

    (problem,) = _problems(_write(tmp_path, data, SCRIPT_FILES))

    assert "source.path 'models/flowerz': must be this model's folder" in problem


def test_a_source_path_naming_another_models_folder_is_refused_too(tmp_path: Path) -> None:
    _write(tmp_path, _builtin_model("churn"), BUILTIN_FILES)
    data = _script_model()
    data["source"]["path"] = "models/churn"

    (problem,) = _problems(_write(tmp_path, data, SCRIPT_FILES))

    assert "source.path 'models/churn': must be this model's folder" in problem


def test_a_channel_without_sample_data_is_named(tmp_path: Path) -> None:
    folder = _write(tmp_path, _builtin_model(), {"sample_data/train/a.csv": "0,1\n"})

    (problem,) = _problems(folder)

    assert problem.startswith(f"{folder / 'sample_data' / 'validation'}: data.channels 'validation': no sample data")


def test_a_model_with_preprocessing_needs_some_raw_sample_data(tmp_path: Path) -> None:
    files = {key: value for key, value in SCRIPT_FILES.items() if not key.startswith("sample_data")}

    (problem,) = _problems(_write(tmp_path, _script_model(), files))

    assert "preprocessing.script 'preprocess.py': reads the whole data prefix" in problem


def test_a_batch_model_needs_a_sample_batch_input(tmp_path: Path) -> None:
    data = {**_builtin_model(), "inference": "batch", "batch": {"input_prefix": "churn/in/"}}

    (problem,) = _problems(_write(tmp_path, data, BUILTIN_FILES))

    assert "batch.input_prefix 'churn/in/': no sample batch input" in problem


def test_a_gate_on_a_metric_the_builtin_algorithm_never_emits_is_refused(tmp_path: Path) -> None:
    """The built-in XGBoost reports ``<channel>:<eval_metric>`` only (aws/sagemaker-xgboost-container,
    docs.aws.amazon.com/sagemaker/latest/dg/xgboost-tuning.html)."""
    data = _builtin_model()
    data["quality_gate"] = [{"metric": "validation:acuracy", "threshold": 0.8}]

    (problem,) = _problems(_write(tmp_path, data, BUILTIN_FILES))

    assert "quality_gate.metric 'validation:acuracy': the built-in XGBoost algorithm never emits it" in problem
    assert "(it emits train:auc, validation:auc)" in problem


def test_a_gate_on_a_metric_not_in_eval_metric_is_refused(tmp_path: Path) -> None:
    data = _builtin_model(eval_metric="aucpr")

    (problem,) = _problems(_write(tmp_path, data, BUILTIN_FILES))

    assert "quality_gate.metric 'validation:auc'" in problem
    assert "did you mean 'validation:aucpr'?" in problem


def test_raise_for_problems_lists_every_problem(tmp_path: Path) -> None:
    data = _builtin_model()
    data["quality_gate"] = [{"metric": "validation:acuracy", "threshold": 0.8}]
    folder = _write(tmp_path, data, {})

    with pytest.raises(PreflightError) as raised:
        raise_for_problems(folder, load_model_config(folder / "model.yaml"))

    assert len(raised.value.problems) == 3
    assert str(raised.value).count("\n") == 2


def test_a_model_whose_folder_is_not_its_name_is_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path, _script_model("flowers"), SCRIPT_FILES).rename(tmp_path / "models" / "flower")

    problems = _problems(folder)

    assert any(problem.startswith(f"{folder / 'model.yaml'}: name 'flowers': must be the name") for problem in problems)
