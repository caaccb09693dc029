"""JSONata states evaluated in Python, as AWS evaluates them.

Step Functions lets one state of a JSONPath state machine use JSONata (``"QueryLanguage": "JSONata"``,
Step Functions developer guide, "Transforming data with JSONata in Step Functions",
https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html); the champion gate's
``ReadChampion`` does, for the arithmetic JSONPath lacks. moto 5.2.5's vendored interpreter hands each
JSONata expression to dashjoin's jsonata-java through a Java VM (``jpype``), which is not installed
here, and in this build its evaluator is not wired at all (``eval_jsonata_expression`` calls ``None``),
so every JSONata state failed. This patch evaluates the same expression string with ``jsonata-python``
(a Python port of that same jsonata-java), and reports failures as moto's bridge does
(``JSONataException``).

An expression that raises (``$number("abc")``) fails the state with ``States.QueryEvaluationError``, as
on AWS (Step Functions developer guide, "Handling errors in Step Functions workflows": "States.
QueryEvaluationError: Query evaluation failed in a JSONata expression"); moto reported any
``JSONataException`` as ``States.Runtime``, which :func:`string_jsonata_eval_body` corrects. An expression
that yields nothing fails with ``States.QueryEvaluationError`` too (moto checks that itself).
"""

from __future__ import annotations

from typing import Any, Final, cast

from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringJSONata
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata

__all__ = [
    "ORIGINAL_EVAL_JSONATA_EXPRESSION",
    "ORIGINAL_STRING_JSONATA_EVAL",
    "eval_jsonata_expression",
    "string_jsonata_eval_body",
]

ORIGINAL_EVAL_JSONATA_EXPRESSION: Final = moto_jsonata.eval_jsonata_expression
ORIGINAL_STRING_JSONATA_EVAL: Final = StringJSONata._eval_body


def eval_jsonata_expression(expression: str) -> Any:
    """The value of the JSONata ``expression`` (moto has already bound ``$states`` and the variables in
    it), or :class:`JSONataException` when it fails to parse or evaluate."""
    try:
        import jsonata
    except ImportError as error:  # a dev dependency (pyproject.toml)
        raise moto_jsonata.JSONataException(
            "UNKNOWN", "JSONata states need the jsonata-python package: pip install -e '.[dev]'"
        ) from error
    try:
        return jsonata.Jsonata(expression).evaluate(None)
    except Exception as error:  # every evaluation error is a JSONata failure on AWS too
        raise moto_jsonata.JSONataException("UNKNOWN", str(error)) from error


def string_jsonata_eval_body(self: StringJSONata, env: Environment) -> None:
    """``StringJSONata._eval_body`` that fails the state with ``States.QueryEvaluationError`` when the
    expression raises, naming the expression and JSONata's message in the cause."""
    try:
        ORIGINAL_STRING_JSONATA_EVAL(self, env)
    except moto_jsonata.JSONataException as error:
        name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=name,
                event_type=HistoryEventType.EvaluationFailed,
                event_details=cast(
                    EventDetails,
                    {
                        "evaluationFailedEventDetails": EvaluationFailedEventDetails(
                            error=name.error_name,
                            cause=f"The JSONata expression '{self.expression}' failed: {error.details}",
                        )
                    },
                ),
            )
        ) from error
