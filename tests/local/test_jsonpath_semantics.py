"""The local engine evaluates JSONPath as AWS Step Functions does (Jayway's implementation).

AWS documents its paths in the Step Functions developer guide, "Paths" (Reference paths), which names
Jayway JsonPath: <https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html>.
Jayway returns a list for every indefinite path (a filter or a wildcard), ``[]`` when nothing matches,
and its filters accept ``&&`` and ``||``. moto 5.2.5's interpreter raised ``States.Runtime`` on an empty
filter and rejected ``&&`` (getmoto/moto issue 10078); these tests pin AWS's behaviour in our engine.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_mlops.local import jsonpath
from cdk_mlops.local.engine import LocalEngine

METRICS = {
    "FinalMetricDataList": [
        {"MetricName": "validation:auc", "Value": 0.91},
        {"MetricName": "validation:logloss", "Value": 0.3},
        {"MetricName": "train:auc", "Value": 0.97},
    ]
}


def extract(path: str) -> str:
    """A one-state machine whose output is ``{"value": <path applied to the input>}``."""
    return json.dumps(
        {"StartAt": "Extract", "States": {"Extract": {"Type": "Pass", "Parameters": {"value.$": path}, "End": True}}}
    )


def run_extract(engine: LocalEngine, path: str, data: Any = METRICS) -> Any:
    result = engine.run(extract(path), data)
    assert result.succeeded, (result.error, result.cause)
    return result.output["value"]


def test_a_filter_that_matches_nothing_yields_an_empty_list(engine: LocalEngine) -> None:
    assert run_extract(engine, "$.FinalMetricDataList[?(@.MetricName == 'validation:aucpr')].Value") == []


def test_a_filter_that_matches_one_element_still_yields_a_list(engine: LocalEngine) -> None:
    assert run_extract(engine, "$.FinalMetricDataList[?(@.MetricName == 'validation:auc')].Value") == [0.91]


def test_a_filter_accepts_and(engine: LocalEngine) -> None:
    path = "$.FinalMetricDataList[?(@.Value > 0.5 && @.MetricName != 'train:auc')].MetricName"
    assert run_extract(engine, path) == ["validation:auc"]


def test_a_filter_accepts_or_and_keeps_document_order(engine: LocalEngine) -> None:
    path = "$.FinalMetricDataList[?(@.MetricName == 'train:auc' || @.MetricName == 'validation:auc')].Value"
    assert run_extract(engine, path) == [0.91, 0.97]


def test_a_filter_accepts_parentheses_and_negation(engine: LocalEngine) -> None:
    path = "$.FinalMetricDataList[?(!(@.Value < 0.5) && (@.MetricName == 'train:auc' || @.Value < 0.95))].MetricName"
    assert run_extract(engine, path) == ["validation:auc", "train:auc"]


def test_a_wildcard_yields_a_list_and_an_empty_one_on_an_empty_array(engine: LocalEngine) -> None:
    assert run_extract(engine, "$.FinalMetricDataList[*].Value") == [0.91, 0.3, 0.97]
    assert run_extract(engine, "$.FinalMetricDataList[*].Value", {"FinalMetricDataList": []}) == []


def test_a_definite_path_yields_its_value_not_a_list(engine: LocalEngine) -> None:
    assert run_extract(engine, "$.FinalMetricDataList[1].MetricName") == "validation:logloss"


def test_a_definite_path_that_does_not_exist_fails_with_states_runtime(engine: LocalEngine) -> None:
    result = engine.run(extract("$.FinalMetricDataList[5].Value"), METRICS)

    assert result.status == "FAILED"
    assert result.error == "States.Runtime"


def test_is_present_on_the_first_item_of_an_empty_filter_result_is_false(engine: LocalEngine) -> None:
    """The quality gate's pattern: extract with a filter, then ``IsPresent`` on ``[0]`` (AWS: "Choice
    Rules", IsPresent is false when the path does not exist)."""
    definition = {
        "StartAt": "Extract",
        "States": {
            "Extract": {
                "Type": "Pass",
                "Parameters": {"auc.$": "$.FinalMetricDataList[?(@.MetricName == 'validation:aucpr')].Value"},
                "ResultPath": "$.metrics",
                "Next": "Gate",
            },
            "Gate": {
                "Type": "Choice",
                "Choices": [{"Not": {"Variable": "$.metrics.auc[0]", "IsPresent": True}, "Next": "Missing"}],
                "Default": "Present",
            },
            "Missing": {"Type": "Fail", "Error": "MetricMissing", "Cause": "no aucpr"},
            "Present": {"Type": "Succeed"},
        },
    }

    result = engine.run(json.dumps(definition), METRICS)

    assert result.states_entered == ["Extract", "Gate", "Missing"]
    assert result.error == "MetricMissing"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.items[?(@.name)]", [{"name": "a", "n": 1}]),
        ("$.items[?(@.n == 2)].tag", ["x"]),
        ("$.items[?(@.n >= 1)].n", [1, 2]),
        ("$.items[?(@.tag =~ /X/i)].n", [2]),
        ("$.items[?(@.missing == 1)]", []),
    ],
)
def test_filter_expressions_follow_jayway(path: str, expected: Any) -> None:
    data = {"items": [{"name": "a", "n": 1}, {"n": 2, "tag": "x"}]}
    assert jsonpath.find(path, data) == expected


def test_an_unparseable_filter_names_the_path() -> None:
    with pytest.raises(jsonpath.JsonPathSyntaxError, match=r"\$\.items\[\?\(@\.n === 1\)\]"):
        jsonpath.find("$.items[?(@.n === 1)]", {"items": []})
