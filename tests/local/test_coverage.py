"""Local runs take every state, Choice branch and Catch edge of every synthesized workflow.

The first part pins how coverage is read from a definition and from ``GetExecutionHistory`` events
(each event's ``previousEventId`` names the event before it in the same branch; a Choice's exit is
followed by the state it chose; a caught failure's ``...Failed`` event is followed by the state's exit
and the catcher's ``Next``; AWS Step Functions API Reference, "HistoryEvent"). The second part runs the
scenarios, gate fill-ins and fault injections of :mod:`cdk_mlops.local.coverage_runs` for the app built
from ``models/`` and from ``examples/``, whatever models they hold, prints the coverage per state
machine (in the terminal summary) and fails below 100%.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.local.coverage import CoverageItems, CoverageTracker, Excuse, definition_items, history_items
from cdk_mlops.local.coverage_runs import EXCUSES, CoverageSuite, catch_fault, measure_coverage
from cdk_mlops.local.engine import LocalEngine
from cdk_mlops.local.harness import ResolvedWorkflow
from cdk_mlops_testing import REPO_ROOT

CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}]
DEFINITION: dict[str, Any] = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Pick",
                    "States": {
                        "Pick": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.x", "NumericEquals": 1, "Next": "One"},
                                {"Variable": "$.x", "NumericEquals": 2, "Next": "One"},
                            ],
                            "Default": "Other",
                        },
                        "One": {"Type": "Pass", "End": True},
                        "Other": {"Type": "Pass", "End": True},
                    },
                },
                {
                    "StartAt": "Call",
                    "States": {
                        "Call": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "work"},
                            "Catch": CATCH_ALL,
                            "Next": "Handled",
                        },
                        "Handled": {"Type": "Pass", "End": True},
                    },
                },
            ],
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$[0].items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Item",
                "States": {"Item": {"Type": "Pass", "End": True}},
            },
            "End": True,
        },
    },
}


def test_a_definition_has_every_nested_state_one_branch_per_choosable_state_and_its_catch_edges() -> None:
    items = definition_items(DEFINITION)

    assert items.states == {"Fan", "Pick", "One", "Other", "Call", "Handled", "Each", "Item"}
    # The two rules leading to One are one branch: the history only shows which state followed.
    assert items.branches == {("Pick", "One"), ("Pick", "Other")}
    assert items.catches == {("Call", "Handled")}


def test_a_history_shows_the_branch_taken_inside_a_parallel_and_a_caught_failure(engine: LocalEngine) -> None:
    def fail(event: Any, context: Any) -> None:
        raise RuntimeError("the work failed")

    engine.register_lambda("work", fail)
    result = engine.run(DEFINITION, {"x": 2, "items": [1, 2]})

    taken = history_items(result.history)
    assert taken.states == {"Fan", "Pick", "One", "Call", "Handled", "Each", "Item"}
    assert taken.branches == {("Pick", "One")}
    assert taken.catches == {("Call", "Handled")}


def test_a_task_that_succeeds_into_its_catch_target_takes_no_catch_edge(engine: LocalEngine) -> None:
    engine.register_lambda("work", lambda event, context: {"worked": True})

    taken = history_items(engine.run(DEFINITION, {"x": 5, "items": []}).history)

    assert ("Pick", "Other") in taken.branches
    assert "Handled" in taken.states
    assert taken.catches == frozenset()


def test_the_report_counts_items_per_machine_and_lists_the_missing_and_the_excused() -> None:
    tracker = CoverageTracker([Excuse("demo", "state:Other", "no local input reaches it")])
    tracker.add_machine("model/demo", "demo", DEFINITION)
    history = [
        {"id": 1, "previousEventId": 0, "type": "ParallelStateEntered", "stateEnteredEventDetails": {"name": "Fan"}},
        {"id": 2, "previousEventId": 1, "type": "ChoiceStateEntered", "stateEnteredEventDetails": {"name": "Pick"}},
        {"id": 3, "previousEventId": 2, "type": "ChoiceStateExited", "stateExitedEventDetails": {"name": "Pick"}},
        {"id": 4, "previousEventId": 3, "type": "PassStateEntered", "stateEnteredEventDetails": {"name": "One"}},
    ]

    new = tracker.record("model/demo", history)
    [machine] = tracker.coverage()
    report = tracker.report()

    assert new == CoverageItems(frozenset({"Fan", "Pick", "One"}), frozenset({("Pick", "One")}))
    assert machine.counts() == {"states": (4, 8), "branches": (1, 2), "catches": (0, 1)}
    assert not tracker.complete
    assert "model/demo  1     4/8     1/2       0/1      45.5%" in report
    assert "MISSING model/demo: branch:Pick -> Other" in report
    assert "MISSING model/demo: catch:Call -> Handled" in report
    assert "excused model/demo: state:Other (no local input reaches it)" in report


def test_an_item_id_that_is_not_a_state_branch_or_catch_is_refused_with_its_text() -> None:
    with pytest.raises(ValueError, match="coverage item 'step:Pick' is not"):
        CoverageItems.from_labels(["step:Pick"])


def test_a_fault_for_a_catch_edge_uses_an_error_no_earlier_catcher_takes() -> None:
    catchers = [
        {"ErrorEquals": ["States.TaskFailed"], "Next": "Generic"},
        {"ErrorEquals": ["States.ALL"], "Next": "Last"},
    ]
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Catch": catchers, "End": True},
            "Generic": {"Type": "Pass", "End": True},
            "Last": {"Type": "Pass", "End": True},
        },
    }
    workflow = ResolvedWorkflow("m", "training", "Stack", "Machine", definition)

    generic, last = catch_fault(workflow, "Call", "Generic"), catch_fault(workflow, "Call", "Last")

    assert generic is not None and (generic.error, generic.state_machine) == ("States.TaskFailed", "Machine")
    assert last is not None and last.error == "States.Timeout"  # States.TaskFailed takes every custom name


def test_no_item_of_the_synthesized_workflows_is_excused() -> None:
    # Every state, branch and catch is reached by a local run; a new excuse must say why one cannot be.
    assert EXCUSES == ()


@pytest.fixture(scope="module", params=["models", "examples"])
def suite(request: pytest.FixtureRequest) -> CoverageSuite:
    """One synthesis and one coverage measurement per folder, shared by the module's tests."""
    folder: Path = REPO_ROOT / request.param
    return measure_coverage(folder)


def test_every_state_branch_and_catch_of_every_synthesized_workflow_is_taken_locally(
    suite: CoverageSuite, coverage_reports: list[str]
) -> None:
    report = suite.report()
    coverage_reports.append(report)
    missing = [f"{m.machine}: {item}" for m in suite.tracker.coverage() for item in m.missing]

    assert suite.tracker.machines, f"no state machine was synthesized from {suite.models_dir}"
    assert not missing, report
