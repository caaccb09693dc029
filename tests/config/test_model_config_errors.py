"""A bad model.yaml fails before any construct exists, with one ``ModelConfigError`` whose message names
the file, the field path and the value received, and never shows a jsii/JavaScript traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.config import ModelConfigError, load_model_config, load_model_configs, parse_model_config
from cdk_mlops_testing import example_config_data, write_model

FILE = "models/x/model.yaml"


def error_of(data: Any, path: str = FILE) -> ModelConfigError:
    with pytest.raises(ModelConfigError) as raised:
        parse_model_config(data, path)
    return raised.value


def assert_readable(error: ModelConfigError) -> str:
    """The message, after checking it carries no traceback text of the jsii runtime."""
    message = str(error)
    assert "jsii" not in message.lower()
    assert "program.js" not in message
    assert "Traceback" not in message
    return message


@pytest.fixture
def churn() -> dict[str, Any]:
    """The churn-xgb example configuration, free to modify."""
    return example_config_data("churn-xgb")


# ---- parse_model_config ----------------------------------------------------------------------------


def test_valid_example_configuration_parses(churn: dict[str, Any]) -> None:
    config = parse_model_config(churn, FILE)

    assert config.name == "churn-xgb"
    assert config.framework.name == "xgboost"
    assert config.training.spot is True


def test_unknown_framework_is_reported_with_file_field_and_value(churn: dict[str, Any]) -> None:
    churn["framework"]["name"] = "keras"

    error = error_of(churn)

    message = assert_readable(error)
    assert message.startswith(f"invalid model configuration {FILE}:")
    assert error.problems == [
        "framework.name: unknown framework; expected one of xgboost, sklearn, pytorch, tensorflow or "
        "'custom' (got 'keras')"
    ]
    assert error.path == Path(FILE)


def test_training_instance_type_without_ml_prefix_is_rejected(churn: dict[str, Any]) -> None:
    churn["training"]["instance_type"] = "m5.large"

    error = error_of(churn)

    message = assert_readable(error)
    assert FILE in message
    assert error.problems == [
        "training.instance_type: must be a SageMaker instance type of the form 'ml.<family>.<size>', "
        "e.g. 'ml.m5.large' (got 'm5.large')"
    ]


def test_production_endpoint_instance_type_without_ml_prefix_is_rejected(churn: dict[str, Any]) -> None:
    churn["endpoints"]["production"]["instance_type"] = "m5.large"

    error = error_of(churn)

    assert FILE in assert_readable(error)
    assert error.problems == [
        "endpoints.production.instance_type: must be a SageMaker instance type of the form "
        "'ml.<family>.<size>', e.g. 'ml.m5.large' (got 'm5.large')"
    ]


def test_threshold_given_as_a_word_is_rejected(churn: dict[str, Any]) -> None:
    churn["quality_gate"][0]["threshold"] = "high"

    error = error_of(churn)

    assert FILE in assert_readable(error)
    assert error.problems == ["quality_gate.0.threshold: threshold must be a number (got 'high')"]


def test_threshold_given_as_a_boolean_is_rejected_not_read_as_one(churn: dict[str, Any]) -> None:
    churn["quality_gate"][0]["threshold"] = True

    error = error_of(churn)

    assert FILE in assert_readable(error)
    assert error.problems == ["quality_gate.0.threshold: threshold must be a number (got True)"]


def test_codeconnections_source_without_connection_arn_is_rejected(churn: dict[str, Any]) -> None:
    del churn["source"]["connection_arn"]

    error = error_of(churn)

    assert FILE in assert_readable(error)
    assert error.problems == [
        "source.connection_arn: is required for the codeconnections provider "
        "(arn:aws:codeconnections:<region>:<account>:connection/<id>) (got None)"
    ]


def test_unknown_top_level_field_is_rejected(churn: dict[str, Any]) -> None:
    churn["colour"] = "blue"

    error = error_of(churn)

    assert FILE in assert_readable(error)
    assert error.problems == ["colour: is not a known field (got 'blue')"]


def test_unknown_nested_field_is_rejected_with_its_path(churn: dict[str, Any]) -> None:
    churn["training"]["gpus"] = 2

    error = error_of(churn)

    assert FILE in assert_readable(error)
    assert error.problems == ["training.gpus: is not a known field (got 2)"]


@pytest.mark.parametrize("name", ["churn-xgb-with-a-long-name", "Churn_XGB", "9lives"])
def test_model_name_that_cannot_prefix_job_names_is_rejected(churn: dict[str, Any], name: str) -> None:
    churn["name"] = name

    error = error_of(churn)

    assert FILE in assert_readable(error)
    assert error.problems == [
        "name: model names are 1 to 20 lowercase letters, digits or hyphens, starting with a letter "
        f"(they prefix SageMaker job names, which are limited to 63 characters) (got {name!r})"
    ]


def test_serverless_endpoint_with_autoscaling_is_rejected_showing_the_autoscaling_received(
    churn: dict[str, Any],
) -> None:
    churn["endpoints"]["staging"]["autoscaling"] = {"min_capacity": 1, "max_capacity": 3}

    error = error_of(churn)

    message = assert_readable(error)
    assert FILE in message
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.startswith(
        "endpoints.staging.autoscaling: does not apply to serverless endpoints (they scale by concurrency) (got "
    )
    # The value received is the autoscaling section, not a placeholder.
    assert "min_capacity" in problem
    assert "max_capacity" in problem


def test_every_problem_of_a_file_is_listed_in_one_error(churn: dict[str, Any]) -> None:
    churn["training"]["instance_type"] = "m5.large"
    churn["colour"] = "blue"

    error = error_of(churn)

    assert_readable(error)
    assert sorted(error.problems) == [
        "colour: is not a known field (got 'blue')",
        "training.instance_type: must be a SageMaker instance type of the form 'ml.<family>.<size>', "
        "e.g. 'ml.m5.large' (got 'm5.large')",
    ]
    assert str(error).count("\n  - ") == 2


def test_a_file_that_is_not_a_mapping_is_rejected() -> None:
    error = error_of(["name", "churn"])

    assert FILE in assert_readable(error)
    assert error.problems == ["<file>: must be a YAML mapping (got ['name', 'churn'])"]


# ---- load_model_config / load_model_configs --------------------------------------------------------


def test_invalid_yaml_names_the_file_and_the_offending_line(tmp_path: Path) -> None:
    path = write_model(tmp_path, "broken", "name: [churn-xgb\nframework: xgboost\n")

    with pytest.raises(ModelConfigError) as raised:
        load_model_config(path)

    message = assert_readable(raised.value)
    assert message.startswith(f"invalid model configuration {path}:")
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith("<file>: is not valid YAML (")
    assert "name: [churn-xgb" in raised.value.problems[0]
    assert "line 2" in raised.value.problems[0]


def test_missing_file_is_reported_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "model.yaml"

    with pytest.raises(ModelConfigError) as raised:
        load_model_config(path)

    assert str(path) in assert_readable(raised.value)
    assert raised.value.problems == ["<file>: cannot be read (No such file or directory)"]


def test_load_model_config_reports_the_path_it_read(tmp_path: Path) -> None:
    data = example_config_data("churn-xgb")
    data["framework"]["name"] = "keras"
    path = write_model(tmp_path, "churn-xgb", data)

    with pytest.raises(ModelConfigError) as raised:
        load_model_config(path)

    assert raised.value.path == path
    assert str(path) in assert_readable(raised.value)
    assert "framework.name" in raised.value.problems[0]
    assert "(got 'keras')" in raised.value.problems[0]


def test_duplicate_model_names_in_two_files_name_both_files(tmp_path: Path) -> None:
    first = write_model(tmp_path, "churn-a", example_config_data("churn-xgb"))
    second = write_model(tmp_path, "churn-b", example_config_data("churn-xgb"))

    with pytest.raises(ModelConfigError) as raised:
        load_model_configs([first, second])

    message = assert_readable(raised.value)
    assert str(first) in message
    assert str(second) in message
    assert raised.value.problems == [f"name: model 'churn-xgb' is already defined in {first} (got 'churn-xgb')"]


def test_script_mode_gate_on_a_training_metric_it_does_not_define_is_rejected() -> None:
    iris = example_config_data("iris-sklearn")
    iris["evaluation"] = {"source": "training_metrics"}
    iris["training"]["metric_definitions"] = {"validation:accuracy": "accuracy=([0-9.]+)"}

    message = assert_readable(error_of(iris))

    assert "quality_gate.0.metric" in message
    assert "metrics.accuracy" in message
    assert "training.metric_definitions" in message
    assert "(defined: validation:accuracy)" in message


def test_script_mode_gate_on_a_defined_training_metric_is_accepted() -> None:
    iris = example_config_data("iris-sklearn")
    iris["evaluation"] = {"source": "training_metrics"}
    iris["quality_gate"] = [{"metric": "validation:accuracy", "threshold": 0.9}]
    iris["training"]["metric_definitions"] = {"validation:accuracy": "accuracy=([0-9.]+)"}

    config = parse_model_config(iris, FILE)

    assert [rule.metric for rule in config.quality_gate] == ["validation:accuracy"]
