"""``build_app`` validates every model folder before it creates a stack, and reports problems only the
app can see (duplicate names, pipeline classes, container images, ``-c models=``) as ``ModelConfigError``
naming the file, the field and the value received, without jsii traceback text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from cdk_mlops.app_builder import build_app, selected_models
from cdk_mlops.config import ModelConfigError
from cdk_mlops_testing import example_config_data, write_model, write_model_with_code


def build_error(models_dir: Path, **context: Any) -> ModelConfigError:
    app = cdk.App(builtin_cloud_formation_validation=False, context=context or None)
    with pytest.raises(ModelConfigError) as raised:
        build_app(app, models_dir, only=selected_models(app), region="eu-west-1")
    message = str(raised.value)
    assert "jsii" not in message.lower()
    assert "program.js" not in message
    assert "Traceback" not in message
    assert app.node.children == []  # nothing was created
    return raised.value


def test_invalid_file_among_valid_ones_fails_the_whole_app(tmp_path: Path) -> None:
    write_model(tmp_path, "churn-xgb", example_config_data("churn-xgb"))
    broken = example_config_data("iris-sklearn")
    broken["training"]["instance_type"] = "m5.large"
    broken_path = write_model(tmp_path, "iris-sklearn", broken)

    error = build_error(tmp_path)

    assert error.path == broken_path
    assert error.problems == [
        "training.instance_type: must be a SageMaker instance type of the form 'ml.<family>.<size>', "
        "e.g. 'ml.m5.large' (got 'm5.large')"
    ]


def test_duplicate_model_names_across_folders_name_both_files(tmp_path: Path) -> None:
    first = write_model(tmp_path, "a-churn", example_config_data("churn-xgb"))
    second = write_model(tmp_path, "b-churn", example_config_data("churn-xgb"))

    error = build_error(tmp_path)

    assert str(first) in str(error)
    assert str(second) in str(error)
    assert error.problems == [f"name: model 'churn-xgb' is already defined in {first} (got 'churn-xgb')"]


def test_pipeline_class_in_a_missing_file_is_rejected(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data["pipeline_class"] = "pipeline.py:ChurnPipeline"
    path = write_model(tmp_path, "churn-xgb", data)

    error = build_error(tmp_path)

    assert error.path == path
    assert str(path) in str(error)
    assert error.problems == [
        f"pipeline_class: no file {path.parent / 'pipeline.py'} (got 'pipeline.py:ChurnPipeline')"
    ]


def test_pipeline_class_that_is_not_an_ml_pipeline_is_rejected(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data["pipeline_class"] = "pipeline.py:NotAPipeline"
    path = write_model_with_code(tmp_path / "models", data)
    (path.parent / "pipeline.py").write_text("class NotAPipeline:\n    pass\n", encoding="utf-8")

    error = build_error(tmp_path / "models")

    assert error.path == path
    assert error.problems == [
        f"pipeline_class: NotAPipeline in {path.parent / 'pipeline.py'} is not an MlPipeline subclass "
        "(got 'pipeline.py:NotAPipeline')"
    ]


def test_framework_version_the_sagemaker_sdk_does_not_know_is_rejected(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data["framework"]["version"] = "9.9-9"
    path = write_model(tmp_path, "churn-xgb", data)

    error = build_error(tmp_path)

    assert error.path == path
    assert str(path) in str(error)
    assert len(error.problems) == 1
    assert error.problems[0].startswith(
        "framework.version: no SageMaker image for framework 'xgboost' version '9.9-9' in eu-west-1 ("
    )
    assert error.problems[0].endswith("(got '9.9-9')")


def test_models_context_naming_an_unknown_model_is_rejected(tmp_path: Path) -> None:
    write_model(tmp_path, "churn-xgb", example_config_data("churn-xgb"))
    iris = example_config_data("iris-sklearn")
    del iris["pipeline_class"]  # its pipeline.py is not copied here
    write_model(tmp_path, "iris-sklearn", iris)

    error = build_error(tmp_path, models="churn-xgb,fraud-detector")

    assert error.path == tmp_path
    assert error.problems == ["models: no model named fraud-detector (known: churn-xgb, iris-sklearn)"]


def test_models_context_still_validates_the_files_it_does_not_build(tmp_path: Path) -> None:
    write_model(tmp_path, "churn-xgb", example_config_data("churn-xgb"))
    broken = example_config_data("iris-sklearn")
    broken["framework"]["name"] = "keras"
    broken_path = write_model(tmp_path, "iris-sklearn", broken)

    error = build_error(tmp_path, models="churn-xgb")

    assert error.path == broken_path
    assert error.problems[0].startswith("framework.name: unknown framework;")
    assert error.problems[0].endswith("(got 'keras')")


def test_pipeline_class_file_that_fails_to_import_is_reported_as_a_config_error(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data["pipeline_class"] = "pipeline.py:ChurnPipeline"
    path = write_model_with_code(tmp_path / "models", data)
    (path.parent / "pipeline.py").write_text("class ChurnPipeline(MlPipeline:\n    pass\n", encoding="utf-8")

    error = build_error(tmp_path / "models")

    assert error.path == path
    assert len(error.problems) == 1
    assert error.problems[0].startswith("pipeline_class: ")
    assert str(path.parent / "pipeline.py") in error.problems[0]
    assert error.problems[0].endswith("(got 'pipeline.py:ChurnPipeline')")
