"""Tests of ``scripts/check_state_machines.py`` on hand-written and synthesized definitions."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = ROOT / "tests" / "fixtures" / "models"  # frozen copies, not models/ (tests/fixtures/README.md)


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_state_machines", ROOT / "scripts" / "check_state_machines.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checker = _load_checker()
pytestmark = pytest.mark.skipif(not checker.VALIDATOR.exists(), reason="node_modules/.bin/asl-validator missing")

TRAIN = "arn:aws:states:::sagemaker:createTrainingJob.sync"


def good_definition() -> dict[str, Any]:
    return {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": TRAIN,
                "Parameters": {"TrainingJobName.$": "$.name"},
                "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "TrainingFailed"},
        },
    }


def test_good_definition_has_no_problems() -> None:
    assert checker.check_definition(good_definition()) == []


def test_missing_targets_and_unguarded_sagemaker_task_are_reported() -> None:
    broken = good_definition()
    train = broken["States"]["Train"]
    del train["Retry"]
    train["Catch"][0]["Next"] = "Nowhere"
    train["Next"] = "Missing"

    problems = checker.transition_problems(broken)

    assert "state 'Train': Next 'Missing' is not a state" in problems
    assert "state 'Train': Catch Next 'Nowhere' is not a state" in problems
    assert "SageMaker task 'Train' has no Retry" in problems


def test_a_retry_name_the_integration_never_reports_is_reported() -> None:
    """The optimized SageMaker integration reports a throttle as ``SageMaker.AmazonSageMakerException``
    (cdk_mlops.constructs.error_names), so ``SageMaker.ThrottlingException`` there never matches."""
    stale = good_definition()
    stale["States"]["Train"]["Retry"][0]["ErrorEquals"] = ["SageMaker.ThrottlingException"]

    assert checker.check_definition(stale) == [
        "state 'Train' (optimized sagemaker): Retry names 'SageMaker.ThrottlingException', not in the error table"
    ]


def test_asl_validator_rejects_an_invalid_definition() -> None:
    invalid = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed", "Next": "Done"}}}

    assert checker.validator_problems(invalid)


def test_command_exits_nonzero_listing_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = good_definition()
    del broken["States"]["Train"]["Catch"]
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "DefinitionString": {
                        "Fn::Join": ["", [json.dumps(broken)[:-2], ', "Extra": {"Type": "Pass", "End": true}}}']]
                    }
                },
            }
        }
    }
    (tmp_path / "Stack.template.json").write_text(json.dumps(template))

    code = checker.main([str(tmp_path)])

    assert code == 1
    assert "Stack/Machine: SageMaker task 'Train' has no Catch" in capsys.readouterr().out


def test_synthesized_example_app_passes(tmp_path: Path) -> None:
    from cdk_mlops.local.harness import synthesize_templates

    for stack, template in synthesize_templates(MODELS_DIR).items():
        (tmp_path / f"{stack}.template.json").write_text(json.dumps(template))

    count, problems = checker.check_assembly(tmp_path)

    # 4 workflows per endpoint model, churn-xgb's drift check, fraud-batch's training and batch transform
    assert count == 11
    assert problems == []
