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

Known gap: an expression that raises (``$number("abc")``) fails the state with ``States.Runtime`` here,
as moto reports any ``JSONataException``; AWS names it ``States.QueryEvaluationError``. An expression that
yields nothing fails with ``States.QueryEvaluationError`` here as on AWS (moto checks that itself).
"""

from __future__ import annotations

from typing import Any, Final

from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata

__all__ = ["ORIGINAL_EVAL_JSONATA_EXPRESSION", "eval_jsonata_expression"]

ORIGINAL_EVAL_JSONATA_EXPRESSION: Final = moto_jsonata.eval_jsonata_expression


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
