"""The champion/challenger gate: rules with ``beat_champion_by`` / ``within_champion_by`` compare the
candidate with the newest Approved package of the model's group, read with native AWS SDK integrations.

The request follows ListModelPackages and DescribeModelPackage in the SageMaker API reference; the
margin is added in one JSONata state because ``States.MathAdd`` rounds its arguments to integers (Step
Functions developer guide, "Intrinsic functions"). The models are built here; nothing reads ``models/``.
"""

from __future__ import annotations

import copy
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_mlops.config import parse_model_config
from cdk_mlops.constructs import error_names
from cdk_mlops.constructs.ml_pipeline import MlPipeline
from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
from cdk_mlops_testing import (
    ACCOUNT,
    BUCKET_ARN,
    KEY_ARN,
    REGION,
    definition,
    happy_path,
    render,
    role_statements,
    state_machine,
)

BASE: dict[str, Any] = {
    "name": "champ",
    "source": {"provider": "codecommit", "repository": "champ-repo", "create_repository": True},
    "framework": {"name": "xgboost", "version": "1.7-1"},
    "training": {"hyperparameters": {"objective": "binary:logistic", "num_round": 10}},
    "quality_gate": [
        {"metric": "validation:auc", "threshold": 0.8, "beat_champion_by": 0.005},
        {"metric": "validation:logloss", "threshold": 0.5, "comparison": "<=", "within_champion_by": 0.02},
    ],
    "endpoints": {"staging": {"serverless": True}, "production": {"serverless": True}},
}


def _synth(data: dict[str, Any]) -> dict[str, Any]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = ModelPipelineStack(
        app,
        "Champion",
        model=parse_model_config(data, f"models/{data['name']}/model.yaml"),
        artifact_bucket_arn=BUCKET_ARN,
        encryption_key_arn=KEY_ARN,
        staging_stack_name=f"{data['name']}-Staging",
        production_stack_name=f"{data['name']}-Production",
        pipeline_class=MlPipeline,
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return _synth(copy.deepcopy(BASE))


@pytest.fixture(scope="module")
def workflow(template) -> dict[str, Any]:
    return definition(template, "MlPipelineTraining")


def test_champion_lookup_runs_before_the_gate_and_each_champion_rule_follows_its_threshold(workflow) -> None:
    path = happy_path(workflow, {"HasChampion": "DescribeChampion"})
    start = path.index("ExtractTrainingMetrics") + 1
    assert path[start : path.index("RegisterModel")] == [
        "FindChampion",
        "HasChampion",
        "DescribeChampion",
        "ReadChampion",
        "QualityGate validation_auc",
        "ChampionGate validation_auc",
        "QualityGate validation_logloss",
        "ChampionGate validation_logloss",
    ]
    assert workflow["States"]["HasChampion"]["Default"] == "NotifyNoChampion"
    assert workflow["States"]["NotifyNoChampion"]["Next"] == "QualityGate validation_auc"


def test_find_champion_lists_the_newest_approved_package_of_the_models_group(workflow) -> None:
    find = workflow["States"]["FindChampion"]
    assert find["Resource"].endswith(":states:::aws-sdk:sagemaker:listModelPackages")
    assert find["Parameters"] == {
        "ModelPackageGroupName": "champ",
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 1,
    }
    describe = workflow["States"]["DescribeChampion"]
    assert describe["Resource"].endswith(":states:::aws-sdk:sagemaker:describeModelPackage")
    assert describe["Parameters"] == {"ModelPackageName.$": "$.championSearch.packages[0].ModelPackageArn"}


def test_champion_calls_retry_sagemaker_throttling_and_are_caught_into_the_failure_notification(workflow) -> None:
    throttle = error_names.aws_sdk("sagemaker").throttling
    for name in ("FindChampion", "DescribeChampion", "NotifyNoChampion"):
        state = workflow["States"][name]
        assert [catch["ErrorEquals"] for catch in state["Catch"]] == [["States.ALL"]]
        assert state["Catch"][0]["Next"] == "DescribeFailure"
    for name in ("FindChampion", "DescribeChampion"):
        assert workflow["States"][name]["Retry"][0]["ErrorEquals"] == list(throttle)


def test_read_champion_turns_registered_strings_into_numbers_and_adds_the_margin_in_jsonata(workflow) -> None:
    read = workflow["States"]["ReadChampion"]
    assert read["Type"] == "Pass"
    assert read["QueryLanguage"] == "JSONata"
    output = read["Output"]
    assert '"validation_auc": $number($m.`validation:auc`) + (0.005)' in output
    # within 0.02, lower is better: the candidate may be up to 0.02 above the champion
    assert '"validation_logloss": $number($m.`validation:logloss`) + (0.02)' in output


def test_beat_rule_passes_without_a_bar_or_when_the_candidate_reaches_it(workflow) -> None:
    gate = workflow["States"]["ChampionGate validation_auc"]
    assert gate["Choices"] == [
        {
            "Not": {"Variable": "$.champion.bars.validation_auc", "IsPresent": True},
            "Next": "QualityGate validation_logloss",
        },
        {
            "Variable": "$.evaluation.metrics.validation_auc[0]",
            "NumericGreaterThanEqualsPath": "$.champion.bars.validation_auc",
            "Next": "QualityGate validation_logloss",
        },
    ]
    assert gate["Default"] == "NotifyBelowChampion0"
    assert workflow["States"]["BelowChampion0"] == {
        "Type": "Fail",
        "Error": "QualityGateRejected",
        "Cause": "validation:auc does not beat the champion by 0.005 (higher is better)",
    }


def test_lower_is_better_rule_compares_with_at_most(workflow) -> None:
    gate = workflow["States"]["ChampionGate validation_logloss"]
    assert gate["Choices"][1]["NumericLessThanEqualsPath"] == "$.champion.bars.validation_logloss"
    assert gate["Choices"][1]["Next"] == "RegisterModel"


def test_below_champion_notification_shows_candidate_champion_and_bar(workflow) -> None:
    message = render(workflow["States"]["NotifyBelowChampion0"]["Parameters"]["Message.$"])
    assert "candidate validation:auc = {} vs champion version {} = {}: does not beat the champion by 0.005" in message
    assert (
        "$.evaluation.metrics.validation_auc[0], $.champion.ModelPackageVersion, "
        "$.champion.metrics.validation_auc, $.champion.bars.validation_auc"
    ) in message


def test_no_champion_notification_says_the_champion_rules_pass(workflow) -> None:
    message = render(workflow["States"]["NotifyNoChampion"]["Parameters"]["Message.$"])
    assert "no Approved package in model package group champ yet" in message
    assert "the champion comparison of validation:auc, validation:logloss passes" in message


def test_champion_only_rule_checks_presence_then_the_champion(template) -> None:
    data = copy.deepcopy(BASE)
    data["quality_gate"] = [{"metric": "validation:auc", "beat_champion_by": 0.01}]
    workflow = definition(_synth(data), "MlPipelineTraining")
    gate = workflow["States"]["QualityGate validation_auc"]
    assert gate["Choices"] == [
        {
            "Not": {"Variable": "$.evaluation.metrics.validation_auc[0]", "IsPresent": True},
            "Next": "NotifyMetricMissing0",
        }
    ]
    assert gate["Default"] == "ChampionGate validation_auc"
    assert "NotifyRejected0" not in workflow["States"]


def test_models_without_champion_rules_have_no_champion_states() -> None:
    data = copy.deepcopy(BASE)
    data["quality_gate"] = [{"metric": "validation:auc", "threshold": 0.8}]
    workflow = definition(_synth(data), "MlPipelineTraining")
    assert not [name for name in workflow["States"] if "Champion" in name]


def test_iam_lists_packages_and_describes_only_the_models_group(template) -> None:
    role = state_machine(template, "MlPipelineTraining")["RoleArn"]["Fn::GetAtt"][0]
    statements = role_statements(template, role)
    [listing] = [s for s in statements if s.allows("sagemaker:ListModelPackages")]
    assert listing.resources == ["*"]  # ListModelPackages has no resource type (service authorization reference)
    [describe] = [s for s in statements if s.allows("sagemaker:DescribeModelPackage")]
    assert [render(resource) for resource in describe.resources] == [
        "arn:${AWS::Partition}:sagemaker:eu-west-1:123456789012:model-package/champ/*"
    ]
