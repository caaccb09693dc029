"""Workflow variables in JSONPath states, read without a JVM.

AWS lets a JSONPath state read a variable that an ``Assign`` set (``"Message.$": "$failedState"``, or
``$failedState`` as an intrinsic function's argument), per the Step Functions documentation "Passing
data between states with variables" (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html).
moto 5.2.5's interpreter evaluates every variable reference as a JSONata expression, which needs a
Java VM (``jpype``) that is not installed, so the state failed with ``States.Runtime``. This patch
reads ``$name`` and ``$name.field.field`` references of JSONPath states from the execution's variable
store; JSONata states keep moto's evaluation.
"""

from __future__ import annotations

import re
from typing import Any, Final

from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringVariableSample
from moto.stepfunctions.parser.asl.eval.environment import Environment

__all__ = ["ORIGINAL_VARIABLE_SAMPLE", "variable_sample_eval_body"]

ORIGINAL_VARIABLE_SAMPLE: Final = StringVariableSample._eval_body
_REFERENCE: Final = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+)*)$")


class UnsupportedVariableReferenceError(ValueError):
    """A JSONPath variable reference other than ``$name`` or ``$name.field...``."""


def _read(env: Environment, expression: str) -> Any:
    match = _REFERENCE.match(expression)
    if match is None:
        raise UnsupportedVariableReferenceError(
            f"variable reference {expression!r}: the local engine reads $name and $name.field.field only"
        )
    value = env.variable_store.get(match.group(1))
    for field in filter(None, match.group(2).split(".")):
        if not isinstance(value, dict) or field not in value:
            raise KeyError(f"variable reference {expression!r}: no field {field!r}")
        value = value[field]
    return value


def variable_sample_eval_body(self: StringVariableSample, env: Environment) -> None:
    """``StringVariableSample._eval_body`` that reads JSONPath variable references in Python."""
    if self.query_language_mode != QueryLanguageMode.JSONPath:
        ORIGINAL_VARIABLE_SAMPLE(self, env)
        return
    env.stack.append(_read(env, self.expression))
