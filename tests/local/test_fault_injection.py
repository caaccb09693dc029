"""Fault injection: ``LocalEngine.fail_state`` makes a Task state fail without touching the state machine,
so every ``Catch`` edge can be taken locally.

The injected failure behaves as a task error does on AWS ("Error handling in Step Functions"): the
state's ``Retry`` rules that name the error are used up, then the first ``Catch`` whose ``ErrorEquals``
names it (or ``States.ALL``) handles it; a reserved ``States.*`` name is matched only by itself and
``States.ALL``, while ``States.TaskFailed`` matches every name except ``States.Timeout`` and other reserved ones.
"""

from __future__ import annotations

from typing import Any

from cdk_mlops.local.engine import LocalEngine, StateFault, inject_faults

DEFINITION: dict[str, Any] = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "work"},
            "Retry": [{"ErrorEquals": ["Custom.Flaky"], "MaxAttempts": 2, "IntervalSeconds": 1}],
            "Catch": [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"},
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"},
            ],
            "Next": "Done",
        },
        "TimedOut": {"Type": "Pass", "End": True},
        "Handled": {"Type": "Pass", "End": True},
        "Done": {"Type": "Succeed"},
    },
}


def _work(event: Any, context: Any) -> dict[str, bool]:
    return {"worked": True}


def test_a_failed_state_takes_its_catch_with_the_injected_error_and_cause(engine: LocalEngine) -> None:
    engine.register_lambda("work", _work)
    engine.fail_state("Call", cause="the endpoint stack is locked")

    result = engine.run(DEFINITION)

    assert result.states_entered == ["Call", "Handled"]
    assert result.output["error"] == {"Error": "States.TaskFailed", "Cause": "the endpoint stack is locked"}
    [failed] = result.events("TaskFailed")
    assert failed["taskFailedEventDetails"]["resource"] == "invoke"
    assert engine.lambda_invocations == []  # the task called nothing
    [injected] = engine.injected_faults
    assert injected.execution_arn == result.execution_arn


def test_a_fault_fails_only_the_next_entry_of_the_state(engine: LocalEngine) -> None:
    engine.register_lambda("work", _work)
    engine.fail_state("Call")

    first, second = engine.run(DEFINITION), engine.run(DEFINITION)

    assert first.states_entered == ["Call", "Handled"]
    assert second.states_entered == ["Call", "Done"]


def test_a_retried_error_fails_every_attempt_before_the_catch_takes_it(engine: LocalEngine) -> None:
    engine.register_lambda("work", _work)
    engine.fail_state("Call", error="Custom.Flaky")

    result = engine.run(DEFINITION)

    assert [event["type"] for event in result.history].count("TaskFailed") == 3  # the first try and 2 retries
    assert [wait.kind for wait in result.waits] == ["retry", "retry"]
    assert result.states_entered == ["Call", "Handled"]
    assert result.output["error"]["Error"] == "Custom.Flaky"


def test_a_reserved_error_name_takes_the_catch_that_names_it(engine: LocalEngine) -> None:
    engine.register_lambda("work", _work)
    engine.fail_state("Call", error="States.Timeout")

    assert engine.run(DEFINITION).states_entered == ["Call", "TimedOut"]


def test_a_fault_for_another_state_machine_leaves_this_one_alone(engine: LocalEngine) -> None:
    engine.register_lambda("work", _work)
    engine.fail_state("Call", state_machine="SomeOtherWorkflow")

    result = engine.run(DEFINITION, state_machine_name="ThisWorkflow")
    targeted = engine.run(DEFINITION, state_machine_name="SomeOtherWorkflow")

    assert result.states_entered == ["Call", "Done"]
    assert targeted.states_entered == ["Call", "Handled"]


def test_an_uncaught_fault_fails_the_execution_with_its_error() -> None:
    definition = {"StartAt": "Call", "States": {"Call": {**DEFINITION["States"]["Call"], "End": True}}}
    del definition["States"]["Call"]["Catch"], definition["States"]["Call"]["Next"]
    with LocalEngine() as engine:
        engine.register_lambda("work", _work)
        engine.fail_state("Call", error="Custom.Broken", cause="scripted")
        result = engine.run(definition)

    assert (result.status, result.error, result.cause) == ("FAILED", "Custom.Broken", "scripted")


def test_faults_injected_around_a_runner_apply_to_the_engine_it_starts() -> None:
    with inject_faults(StateFault("Call", error="Custom.Broken")), LocalEngine() as engine:
        engine.register_lambda("work", _work)
        result = engine.run(DEFINITION)
    with LocalEngine() as engine:  # outside the block: no fault
        engine.register_lambda("work", _work)
        after = engine.run(DEFINITION)

    assert result.states_entered == ["Call", "Handled"]
    assert after.states_entered == ["Call", "Done"]
