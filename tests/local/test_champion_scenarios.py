"""The champion/challenger gate on the local engine: ``champion-wins``, ``champion-loses`` and
``no-champion`` end to end (``cdk-mlops dry-run``), and the two Step Functions behaviours the gate rests
on, pinned as AWS documents them:

* ``States.MathAdd`` rounds non-integer arguments to the nearest integer (Step Functions developer guide,
  "Intrinsic functions", https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html),
  so a fractional margin cannot be added in JSONPath;
* a JSONata state in a JSONPath state machine (``"QueryLanguage": "JSONata"``, "Transforming data with
  JSONata in Step Functions", https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html)
  converts a string with ``$number`` and adds fractions; moto 5.2.5 needs a JVM for it, which
  :mod:`cdk_mlops.local.jsonata_eval` replaces.

The model is written to ``tmp_path``; nothing here reads ``models/``.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.cli import main
from cdk_mlops.local.champion import champion_rules, champion_table, champion_values
from cdk_mlops.local.engine import LocalEngine
from cdk_mlops.local.harness import (
    SCENARIOS,
    ScenarioError,
    prepare_training_run,
    run_training_scenario,
    synthesize_workflows,
)
from cdk_mlops_testing import write_model

MODEL = "champ"


def model_config(quality_gate: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": MODEL,
        "source": {"provider": "codecommit", "repository": "champ-repo", "create_repository": True},
        "framework": {"name": "xgboost", "version": "1.7-1"},
        "training": {"hyperparameters": {"objective": "binary:logistic", "num_round": 10}},
        "quality_gate": quality_gate,
        "endpoints": {"staging": {"serverless": True}, "production": {"serverless": True}},
        "smoke_test": {"payload": "1,2,3"},
        "notification_email": "ml-team@example.com",
    }


GATE = [
    {"metric": "validation:auc", "threshold": 0.8, "beat_champion_by": 0.005},
    {"metric": "validation:logloss", "threshold": 0.5, "comparison": "<=", "within_champion_by": 0.02},
]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_model(root, MODEL, model_config(GATE))
    return root


def dry_run(models_dir: Path, scenario: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["dry-run", MODEL, "--scenario", scenario, "--models-dir", str(models_dir)])
    return code, out.getvalue()


def test_champion_scenarios_are_training_scenarios() -> None:
    assert {"champion-wins", "champion-loses", "no-champion"} <= set(SCENARIOS)


def test_champion_rules_are_read_from_the_synthesized_workflow(models_dir: Path) -> None:
    workflow = synthesize_workflows(models_dir, MODEL)[MODEL]["training"]
    rules = champion_rules(workflow.states)
    assert [(rule.metric, rule.offset, rule.direction) for rule in rules] == [
        ("validation:auc", 0.005, 1),
        ("validation:logloss", 0.02, -1),
    ]


def test_candidate_that_beats_the_champion_is_registered_and_the_table_shows_both(models_dir: Path) -> None:
    code, out = dry_run(models_dir, "champion-wins")

    assert code == 0
    assert "Final status: SUCCEEDED" in out
    assert "Champion: version 1 (arn:aws:sagemaker:" in out
    [auc] = [line for line in out.splitlines() if line.strip().startswith("validation:auc ")]
    # candidate 0.85 (0.05 above the threshold), champion 0.835: needs >= 0.84
    assert auc.split() == ["validation:auc", "0.8500", "0.8350", ">=", "0.84", "pass"]
    [logloss] = [line for line in out.splitlines() if line.strip().startswith("validation:logloss ")]
    assert logloss.split() == ["validation:logloss", "0.4500", "0.4400", "<=", "0.46", "pass"]
    assert "(PendingManualApproval)" in out


def test_candidate_below_the_champion_notifies_candidate_vs_champion_and_registers_nothing(models_dir: Path) -> None:
    run = run_training_scenario(MODEL, "champion-loses", models_dir=models_dir)

    assert run.status == "FAILED"
    assert run.result.error == "QualityGateRejected"
    assert run.states_entered[-4:] == [
        "QualityGate validation_auc",
        "ChampionGate validation_auc",
        "NotifyBelowChampion0",
        "BelowChampion0",
    ]
    [notification] = run.notifications
    assert notification.message.splitlines()[0] == (
        "champ training workflow stopped at ChampionGate validation_auc: candidate validation:auc = 0.85 vs "
        "champion version 1 = 0.855: does not beat the champion by 0.005 (higher is better) (needs 0.86); "
        "nothing was registered"
    )
    # only the seeded champion: the candidate was not registered
    assert [package["ModelApprovalStatus"] for package in run.model_packages.values()] == ["Approved"]


def test_no_champion_yet_passes_the_champion_rules_and_says_so(models_dir: Path) -> None:
    code, out = dry_run(models_dir, "no-champion")

    assert code == 0
    assert "Final status: SUCCEEDED" in out
    assert (
        "champ training workflow found no champion at HasChampion: no Approved package in model package group "
        "champ yet, so there is no champion: the champion comparison of validation:auc, validation:logloss passes"
    ) in out
    assert "Champion: none (no Approved package yet)" in out


def test_champion_scenarios_are_refused_for_models_without_champion_rules(tmp_path: Path) -> None:
    write_model(tmp_path, MODEL, model_config([{"metric": "validation:auc", "threshold": 0.8}]))
    with pytest.raises(ScenarioError, match="needs a model with a champion rule"):
        run_training_scenario(MODEL, "champion-wins", models_dir=tmp_path)


def _run_pass(parameters: dict[str, Any], query_language: str | None = None) -> Any:
    state: dict[str, Any] = {"Type": "Pass", "End": True}
    if query_language == "JSONata":
        state.update({"QueryLanguage": "JSONata", "Output": parameters})
    else:
        state["Parameters"] = parameters
    definition = {"StartAt": "Compute", "States": {"Compute": state}}
    with LocalEngine() as engine:
        result = engine.run(json.dumps(definition), input={"champion": "0.93", "whole": 2.5}, name="pin")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return result.output


def test_math_add_rounds_fractions_to_integers_as_aws_documents() -> None:
    assert _run_pass({"sum.$": "States.MathAdd($.whole, 1)"}) == {"sum": 4}


def test_string_to_json_turns_a_registered_metric_string_into_a_number() -> None:
    assert _run_pass({"value.$": "States.StringToJson($.champion)"}) == {"value": 0.93}


def test_jsonata_state_converts_the_string_and_adds_a_fractional_margin() -> None:
    output = _run_pass("{% {'bar': $number($states.input.champion) + 0.005} %}", query_language="JSONata")
    assert output == {"bar": pytest.approx(0.935)}


def test_a_champion_registered_without_the_metric_sets_no_bar_so_the_rule_passes(models_dir: Path) -> None:
    workflow = synthesize_workflows(models_dir, MODEL)[MODEL]["training"]
    with LocalEngine() as engine:
        name, run_input = prepare_training_run(engine, MODEL, workflow, "no-champion")
        engine.client("sagemaker").create_model_package(
            ModelPackageGroupName=MODEL,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/old:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
        result = engine.run(workflow.definition_json, input=run_input, name=name)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert "DescribeChampion" in result.states_entered
    assert table_rows(champion_table(workflow.states, result.history)) == [
        ["validation:auc", "0.8500", "-", "-", "pass", "(champion", "has", "no", "value)"],
        ["validation:logloss", "0.4500", "-", "-", "pass", "(champion", "has", "no", "value)"],
    ]


def table_rows(lines: list[str]) -> list[list[str]]:
    return [line.split() for line in lines[2:]]


def test_champion_loses_can_stop_at_a_later_rule(models_dir: Path) -> None:
    workflow = synthesize_workflows(models_dir, MODEL)[MODEL]["training"]
    rules = champion_rules(workflow.states)
    metrics = {"validation_auc": 0.85, "validation_logloss": 0.45}
    values = champion_values(rules, metrics, "champion-loses", losing_rule=1)
    # auc: 0.85 beats 0.835 + 0.005; logloss: 0.45 is more than 0.02 worse than 0.42
    assert values == {"validation:auc": 0.835, "validation:logloss": 0.42}


def test_a_model_gated_on_an_evaluation_job_compares_its_report_with_the_champion(tmp_path: Path) -> None:
    data = model_config([{"metric": "metrics.accuracy", "threshold": 0.8, "within_champion_by": 0.01}])
    data["framework"] = {"name": "sklearn", "version": "1.2-1"}
    data["training"] = {"entry_point": "train.py", "metric_definitions": {}}
    data["evaluation"] = {"source": "evaluation_job", "job": {"script": "evaluate.py", "instance_type": "ml.m5.large"}}
    write_model(tmp_path, MODEL, data)
    for script in ("train.py", "evaluate.py"):
        (tmp_path / MODEL / "src").mkdir(exist_ok=True)
        (tmp_path / MODEL / "src" / script).write_text("print('stand-in')\n", encoding="utf-8")

    run = run_training_scenario(MODEL, "champion-loses", models_dir=tmp_path)

    assert run.result.error == "QualityGateRejected"
    [notification] = run.notifications
    assert (
        "candidate metrics.accuracy = 0.85 vs champion version 1 = 0.87: does not stay within 0.01 of the "
        "champion (higher is better) (needs 0.86)"
    ) in notification.message


def test_a_jsonata_expression_that_raises_fails_the_state_with_query_evaluation_error() -> None:
    # Step Functions developer guide, "Handling errors in Step Functions workflows": States.QueryEvaluationError
    definition = {
        "StartAt": "Compute",
        "States": {
            "Compute": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": "{% $number($states.input.champion) + 0.005 %}",
                "End": True,
            }
        },
    }
    with LocalEngine() as engine:
        result = engine.run(json.dumps(definition), input={"champion": "not a number"}, name="bad-number")

    assert result.error == "States.QueryEvaluationError"
    assert "$number($states.input.champion) + 0.005' failed" in (result.cause or "")
