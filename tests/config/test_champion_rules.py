"""Quality-gate rules against the champion: ``beat_champion_by`` / ``within_champion_by`` in model.yaml,
refused with the file, the field and the value where they make no sense. Nothing here reads ``models/``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cdk_mlops.config import ModelConfigError, parse_model_config

FILE = "models/champ/model.yaml"
BASE: dict[str, Any] = {
    "name": "champ",
    "source": {"provider": "codecommit", "repository": "champ-repo", "create_repository": True},
    "framework": {"name": "xgboost", "version": "1.7-1"},
    "training": {"hyperparameters": {"objective": "binary:logistic", "num_round": 10}},
    "quality_gate": [{"metric": "validation:auc", "threshold": 0.8, "beat_champion_by": 0.005}],
}


def with_rule(**rule: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["quality_gate"] = [{"metric": "validation:auc", **rule}]
    return data


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ModelConfigError) as caught:
        parse_model_config(data, FILE)
    assert FILE in str(caught.value)
    return caught.value.problems


def test_rule_combines_a_threshold_and_a_champion_margin() -> None:
    [rule] = parse_model_config(copy.deepcopy(BASE), FILE).quality_gate
    assert (rule.threshold, rule.beat_champion_by, rule.champion_margin) == (0.8, 0.005, 0.005)


def test_champion_only_rule_needs_no_threshold() -> None:
    [rule] = parse_model_config(with_rule(within_champion_by=0.01, comparison="<="), FILE).quality_gate
    assert rule.threshold is None
    assert rule.champion_margin == -0.01  # within: the candidate may be this much worse


def test_rule_without_threshold_or_champion_margin_is_refused() -> None:
    assert problems(with_rule()) == [
        "quality_gate.0.threshold: is required unless the rule sets beat_champion_by or within_champion_by (got None)"
    ]


def test_negative_margin_is_refused() -> None:
    [problem] = problems(with_rule(beat_champion_by=-0.01))
    assert problem.startswith("quality_gate.0.beat_champion_by:")
    assert "-0.01" in problem


def test_beat_and_within_on_one_rule_are_refused() -> None:
    [problem] = problems(with_rule(beat_champion_by=0.01, within_champion_by=0.02))
    assert problem.startswith("quality_gate.0.within_champion_by: a rule either beats the champion or stays within it")
    assert "(got 0.02)" in problem


def test_margin_given_as_text_is_refused() -> None:
    [problem] = problems(with_rule(threshold=0.8, within_champion_by="a little"))
    assert problem == "quality_gate.0.within_champion_by: threshold must be a number (got 'a little')"


def test_batch_models_may_compare_with_the_champion_too() -> None:
    data = copy.deepcopy(BASE)
    data["inference"] = "batch"
    [rule] = parse_model_config(data, FILE).quality_gate
    assert rule.beat_champion_by == 0.005
