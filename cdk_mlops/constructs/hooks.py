"""Checks what a pipeline subclass's hooks return, so that a mistake is named where it is made.

``MlPipelineBase`` is built from overridable methods (hooks). What a hook returns goes straight into
aws-cdk-lib, so an override that forgets its ``return`` used to fail deep inside jsii with a long
JavaScript traceback that named neither the hook nor the file. ``check_hook_returns(cls)`` (called for
every subclass, from ``MlPipelineBase.__init_subclass__``) wraps each hook the class defines itself:
when it returns something of the wrong kind, synthesis stops with a ``HookReturnError`` such as

    IrisPipeline.quality_gate returned None; expected an sfn.IChainable (a state or chain: the gate's
    first state) (models/iris-sklearn/pipeline.py:21; did it forget to return?)
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any


class HookReturnError(TypeError):
    """A pipeline hook returned something its caller cannot use. The message names the class, the
    hook, what it returned, what was expected, and the file and line of the override."""


@dataclasses.dataclass(frozen=True)
class HookContract:
    """What one hook must return: ``accepts(value)`` is true for a usable value; ``expected`` says what
    that is, for the error message."""

    expected: str
    accepts: Callable[[Any], bool]


def _is_chainable(value: Any) -> bool:
    # sfn.IChainable is a jsii interface (a non-runtime Protocol): check what it promises.
    return value is not None and all(hasattr(value, name) for name in ("id", "start_state", "end_states"))


def _instance_of(*kinds: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, kinds)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def hook_contracts() -> dict[str, HookContract]:
    """Each hook of ``MlPipelineBase`` and what it must return (imported late: the workflow modules
    import this one's neighbours)."""
    from cdk_mlops.constructs.batch_transform_workflow import BatchTransformWorkflow
    from cdk_mlops.constructs.drift_check import DriftCheck
    from cdk_mlops.constructs.smoke_test_workflow import SmokeTestWorkflow
    from cdk_mlops.constructs.workflow_steps import EvaluationStep, Step

    step = _instance_of(Step)
    return {
        "image_uri": HookContract("a str (an image URI)", _instance_of(str)),
        "inference_image_uri": HookContract("a str (an image URI)", _instance_of(str)),
        "build_spec": HookContract("a dict (a CodeBuild buildspec)", _instance_of(dict)),
        "preprocessing_step": HookContract("a Step or None", _optional(step)),
        "training_step": HookContract("a Step", step),
        "evaluation_step": HookContract("an EvaluationStep", _instance_of(EvaluationStep)),
        "quality_gate": HookContract("an sfn.IChainable (a state or chain: the gate's first state)", _is_chainable),
        "registration_step": HookContract("a Step", step),
        "smoke_test": HookContract("a SmokeTestWorkflow", _instance_of(SmokeTestWorkflow)),
        "drift_check": HookContract("a DriftCheck or None", _optional(_instance_of(DriftCheck))),
        "batch_transform_workflow": HookContract("a BatchTransformWorkflow", _instance_of(BatchTransformWorkflow)),
    }


def _where(function: Callable[..., Any]) -> str:
    """``<file>:<line>`` of ``function``'s definition, the file relative to the working directory when
    it is inside it."""
    try:
        file = inspect.getsourcefile(function) or "<unknown file>"
        line = inspect.getsourcelines(function)[1]
    except (OSError, TypeError):
        return "<unknown file>"
    path = Path(file)
    try:
        file = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        file = str(path)
    return f"{file}:{line}"


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__} ({text})"


def _checked(name: str, contract: HookContract, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = function(self, *args, **kwargs)
        if not contract.accepts(value):
            hint = "; did it forget to return?" if value is None else ""
            raise HookReturnError(
                f"{type(self).__name__}.{name} returned {_describe(value)}; expected {contract.expected} "
                f"({_where(function)}{hint})"
            )
        return value

    hook.__hook_checked__ = True  # type: ignore[attr-defined]
    return hook


def check_hook_returns(cls: type) -> None:
    """Wraps every hook ``cls`` defines itself (not the ones it inherits) so that a wrong return value
    raises ``HookReturnError`` naming ``cls``, the hook and where it is defined."""
    for name, contract in hook_contracts().items():
        function = cls.__dict__.get(name)
        if inspect.isfunction(function) and not getattr(function, "__hook_checked__", False):
            setattr(cls, name, _checked(name, contract, function))
