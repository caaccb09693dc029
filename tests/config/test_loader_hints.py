"""The loader refuses a mapping key given twice (YAML itself keeps the last one silently, and the error
then blames a field that is present) and suggests the nearest field or value for a typo."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdk_mlops.config import ModelConfigError, load_model_config
from cdk_mlops.config.loader import did_you_mean, read_model_data
from cdk_mlops_testing import MODELS_DIR


def problems(path: Path) -> list[str]:
    with pytest.raises(ModelConfigError) as raised:
        load_model_config(path)
    assert raised.value.path == path
    return raised.value.problems


def test_a_section_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        "name: churn\ntraining:\n  spot: true\nframework: {name: xgboost, version: '1.7-1'}\ntraining:\n  max_runtime_minutes: 5\n"
    )

    assert problems(path) == [
        "training: is given twice (lines 2 and 5); YAML would silently keep only the second, so merge the two "
        "into one (got 'training' twice)"
    ]


def test_a_nested_key_given_twice_is_named_by_its_full_path(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text("name: churn\nendpoints:\n  production:\n    instance_count: 2\n    instance_count: 3\n")

    (problem,) = problems(path)
    assert problem.startswith("endpoints.production.instance_count: is given twice (lines 4 and 5)")


def test_a_key_repeated_in_different_sections_or_list_items_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n")

    assert read_model_data(path) == {"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 2}]}


def test_the_example_models_have_no_duplicate_keys() -> None:
    for path in sorted(MODELS_DIR.glob("*/model.yaml")):
        assert isinstance(read_model_data(path), dict), path


def test_an_unknown_key_gets_the_nearest_field_of_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        (MODELS_DIR / "churn-xgb" / "model.yaml").read_text().replace("  spot: true\n", "  spto: true\n")
        + "notificaton_email: a@example.com\n"
    )

    assert sorted(problems(path)) == [
        "notificaton_email: is not a known field; did you mean 'notification_email'? (got 'a@example.com')",
        "training.spto: is not a known field; did you mean 'spot'? (got True)",
    ]


def test_an_unknown_key_far_from_every_field_gets_no_guess() -> None:
    assert did_you_mean("colour", ["name", "framework", "training"]) == ""
    assert did_you_mean(3, ["name"]) == ""
