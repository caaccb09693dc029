"""``training.tuning`` in model.yaml: defaults, and every combination SageMaker refuses, each refused
through the loader naming the file, the field and the value received.

The rules follow CreateHyperParameterTuningJob in the SageMaker API reference
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperParameterTuningJobConfig.html,
API_HyperbandStrategyConfig.html, API_ContinuousParameterRange.html) and "How hyperparameter tuning
works" (Grid: categorical ranges only, the number of jobs is the grid's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.config import ModelConfigError, load_model_config
from cdk_mlops_testing import example_config_data, write_model


@pytest.fixture
def churn() -> dict[str, Any]:
    """The built-in XGBoost example with a small tuning section, free to modify."""
    data = example_config_data("churn-xgb")
    data["training"]["tuning"] = {
        "objective_metric": "validation:auc",
        "ranges": {"eta": {"min": 0.05, "max": 0.5}, "max_depth": {"min": 2, "max": 8}},
    }
    return data


@pytest.fixture
def iris() -> dict[str, Any]:
    """The script-mode example (metric_definitions) with a tuning section, free to modify."""
    data = example_config_data("iris-sklearn")
    data["training"]["tuning"] = {
        "objective_metric": "validation:accuracy",
        "ranges": {"n_estimators": {"min": 10, "max": 100}},
    }
    return data


def problems_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    """The problems the loader reports for ``data``, after checking that the message names the file."""
    path = write_model(tmp_path, data["name"], data)
    with pytest.raises(ModelConfigError) as raised:
        load_model_config(path)
    assert str(raised.value).startswith(f"invalid model configuration {path}:")
    return raised.value.problems


def tuning(data: dict[str, Any]) -> dict[str, Any]:
    return data["training"]["tuning"]


def test_tuning_defaults_to_bayesian_maximize_ten_jobs_one_at_a_time_without_early_stopping(tmp_path, churn) -> None:
    config = load_model_config(write_model(tmp_path, "churn-xgb", churn)).training.tuning
    assert config is not None
    assert (config.strategy, config.type, config.max_training_jobs, config.max_parallel_jobs) == (
        "Bayesian",
        "Maximize",
        10,
        1,
    )
    assert config.early_stopping is False


def test_integer_bounds_make_an_integer_range_and_decimals_a_continuous_one(tmp_path, churn) -> None:
    ranges = load_model_config(write_model(tmp_path, "churn-xgb", churn)).training.tuning.ranges  # type: ignore[union-attr]
    assert (ranges["max_depth"].kind, ranges["eta"].kind) == ("Integer", "Continuous")


def test_a_model_without_tuning_dumps_as_before_the_field_existed(tmp_path) -> None:
    config = load_model_config(write_model(tmp_path, "churn-xgb", example_config_data("churn-xgb")))
    assert "tuning" not in config.model_dump()["training"]


def test_objective_must_be_a_metric_the_builtin_xgboost_algorithm_emits(tmp_path, churn) -> None:
    tuning(churn)["objective_metric"] = "validation:acuracy"
    assert problems_of(tmp_path, churn) == [
        "training.tuning.objective_metric: is not a metric the built-in XGBoost algorithm emits with these "
        "hyperparameters (eval_metric/objective) and channels: it emits train:auc, validation:auc "
        "(got 'validation:acuracy')"
    ]


def test_objective_of_a_training_script_must_be_one_of_its_metric_definitions(tmp_path, iris) -> None:
    tuning(iris)["objective_metric"] = "validation:f1"
    (problem,) = problems_of(tmp_path, iris)
    assert problem.startswith("training.tuning.objective_metric: is not a metric the training job reports")
    assert "(got 'validation:f1')" in problem


def test_grid_search_refuses_numeric_ranges(tmp_path, churn) -> None:
    tuning(churn)["strategy"] = "Grid"
    (problem,) = problems_of(tmp_path, churn)
    assert problem.startswith("training.tuning.ranges.eta: Grid searches categorical ranges only")


def test_grid_search_refuses_max_jobs(tmp_path, churn) -> None:
    tuning(churn).update(strategy="Grid", max_jobs=4, ranges={"booster": {"values": ["gbtree", "dart"]}})
    assert problems_of(tmp_path, churn) == [
        "training.tuning.max_jobs: is not allowed with Grid: SageMaker runs every combination (2 here) (got 4)"
    ]


@pytest.mark.parametrize("strategy", ["Grid", "Hyperband"])
def test_early_stopping_is_for_bayesian_and_random_only(tmp_path, churn, strategy: str) -> None:
    tuning(churn).update(strategy=strategy, early_stopping=True, max_resource=50)
    if strategy == "Grid":
        tuning(churn).update(ranges={"booster": {"values": ["gbtree", "dart"]}})
        del tuning(churn)["max_resource"]
    problems = problems_of(tmp_path, churn)
    assert any(p.startswith("training.tuning.early_stopping: applies to the Bayesian and Random") for p in problems)


def test_hyperband_needs_max_resource_without_an_epochs_hyperparameter(tmp_path, churn) -> None:
    tuning(churn)["strategy"] = "Hyperband"
    assert problems_of(tmp_path, churn) == [
        "training.tuning.max_resource: is required with Hyperband unless training.hyperparameters has one of "
        "epochs, numepochs, n-epochs, n_epochs, num_epochs (SageMaker infers it from them) (got None)"
    ]


def test_hyperband_resources_are_refused_with_another_strategy(tmp_path, churn) -> None:
    tuning(churn)["max_resource"] = 50
    assert problems_of(tmp_path, churn) == [
        "training.tuning.max_resource: applies to Hyperband only (strategy is Bayesian) (got 50)"
    ]


def test_logarithmic_scaling_needs_a_positive_minimum(tmp_path, churn) -> None:
    tuning(churn)["ranges"]["eta"] = {"min": 0, "max": 0.5, "scaling": "Logarithmic"}
    assert problems_of(tmp_path, churn) == [
        "training.tuning.ranges.eta.scaling: Logarithmic scaling needs min > 0 (min is 0) (got 'Logarithmic')"
    ]


def test_reverse_logarithmic_scaling_is_for_continuous_ranges_below_one(tmp_path, churn) -> None:
    tuning(churn)["ranges"]["max_depth"]["scaling"] = "ReverseLogarithmic"
    assert problems_of(tmp_path, churn) == [
        "training.tuning.ranges.max_depth.scaling: ReverseLogarithmic applies to continuous ranges only "
        "(got 'ReverseLogarithmic')"
    ]


def test_an_unknown_scaling_is_refused_with_a_suggestion(tmp_path, churn) -> None:
    tuning(churn)["ranges"]["eta"]["scaling"] = "Logarithmc"
    (problem,) = problems_of(tmp_path, churn)
    assert problem.startswith("training.tuning.ranges.eta.scaling: ")
    assert "did you mean 'Logarithmic'?" in problem


def test_a_range_is_numeric_or_categorical_not_both(tmp_path, churn) -> None:
    tuning(churn)["ranges"]["eta"]["values"] = [0.1]
    assert problems_of(tmp_path, churn) == [
        "training.tuning.ranges.eta.values: a range is either {min, max} or {values}, not both (got [0.1])"
    ]


def test_max_must_be_greater_than_min(tmp_path, churn) -> None:
    tuning(churn)["ranges"]["max_depth"] = {"min": 8, "max": 8}
    assert problems_of(tmp_path, churn) == [
        "training.tuning.ranges.max_depth.max: must be greater than min (8) (got 8)"
    ]


def test_parallel_jobs_cannot_exceed_the_jobs(tmp_path, churn) -> None:
    tuning(churn).update(max_jobs=4, max_parallel_jobs=5)
    assert problems_of(tmp_path, churn) == [
        "training.tuning.max_parallel_jobs: must be at most the number of training jobs (4) (got 5)"
    ]


def test_tuning_needs_at_least_one_range(tmp_path, churn) -> None:
    tuning(churn)["ranges"] = {}
    assert problems_of(tmp_path, churn) == [
        "training.tuning.ranges: needs at least one hyperparameter to tune (got {})"
    ]


def test_eval_metric_cannot_be_tuned(tmp_path, churn) -> None:
    tuning(churn)["ranges"]["eval_metric"] = {"values": ["auc", "logloss"]}
    (problem,) = problems_of(tmp_path, churn)
    assert problem.startswith("training.tuning.ranges.eval_metric: cannot be tuned")
