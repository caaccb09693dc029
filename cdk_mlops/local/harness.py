"""Run the example app's real (synthesized) workflows on the :class:`~cdk_mlops.local.engine.LocalEngine`.

:func:`synthesize_workflows` synthesizes the CDK app in-process once per process and turns each state
machine's ``DefinitionString`` into plain ASL, with CloudFormation tokens (``Ref``, ``Fn::GetAtt``,
``Fn::ImportValue``, ``Fn::Join``, ``Fn::Select``/``Fn::Split``, ``Fn::Sub``, pseudo parameters)
resolved to realistic fake values (see :class:`TokenResolver`). :func:`run_training_scenario` and
:func:`run_smoke_test_scenario` run those definitions with scripted SageMaker outcomes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cdk_mlops.local.champion import CHAMPION_SCENARIOS, champion_rules, seed_champion
from cdk_mlops.local.engine import (
    ExecutionResult,
    LambdaContext,
    LocalEngine,
    Notification,
)
from cdk_mlops.local.jobs.tuning import objective_metric_of
from cdk_mlops.local.scenario import JobOutcome

__all__ = [
    "FAKE_ACCOUNT",
    "FAKE_BUCKET",
    "FAKE_REGION",
    "SCENARIOS",
    "WORKFLOW_KINDS",
    "ResolvedWorkflow",
    "ScenarioError",
    "ScenarioResult",
    "TokenResolver",
    "load_assembly_templates",
    "prepare_training_run",
    "resolve_state_machines",
    "run_smoke_test_scenario",
    "run_training_scenario",
    "synthesize_templates",
    "synthesize_workflows",
]

FAKE_ACCOUNT = "123456789012"
FAKE_REGION = "eu-west-1"
FAKE_PARTITION = "aws"
FAKE_URL_SUFFIX = "amazonaws.com"
FAKE_BUCKET = "mlops-artifacts-fake"

PSEUDO_PARAMETERS: Mapping[str, str] = {
    "AWS::Partition": FAKE_PARTITION,
    "AWS::Region": FAKE_REGION,
    "AWS::AccountId": FAKE_ACCOUNT,
    "AWS::URLSuffix": FAKE_URL_SUFFIX,
    "AWS::StackId": f"arn:aws:cloudformation:{FAKE_REGION}:{FAKE_ACCOUNT}:stack/fake/{'0' * 8}-{'0' * 4}",
    "AWS::NoValue": "",
}

#: What a scripted trial of a tuning job reports for an objective metric that no gate reads.
TUNING_OBJECTIVE_VALUE = 0.5

#: Workflow kind -> logical id prefix of its state machine in a pipeline stack.
WORKFLOW_KINDS: Mapping[str, str] = {
    "training": "MlPipelineTraining",
    "deploy_staging": "MlPipelineDeployStaging",
    "smoke_test": "MlPipelineSmokeTest",
    "deploy_production": "MlPipelineDeployProduction",
    "batch_transform": "MlPipelineBatchTransform",
    "drift_check": "MlPipelineDrift",
}

#: Training scenarios and what they script.
SCENARIOS: Mapping[str, str] = {
    "approve": "every metric above its quality gate: the model is registered",
    "reject": "one metric below its quality gate: nothing is registered",
    "training-fails": "the training job ends Failed with a FailureReason",
    "throttled": "CreateTrainingJob is throttled twice, then the run succeeds",
    "preprocessing-fails": "the preprocessing job fails (models with preprocessing only)",
    "missing-evaluation": "evaluation.json is never written (models with an evaluation job only)",
    "metric-missing": (
        "the training job completes without reporting a gated metric: the model's topic is notified and "
        "the run fails MetricMissing (models gated on training metrics only)"
    ),
    **CHAMPION_SCENARIOS,
}


class ScenarioError(ValueError):
    """An unknown model or scenario, or a scenario that does not apply to a model."""


# -- token resolution ------------------------------------------------------------------------------


def _fake_uuid(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


class TokenResolver:
    """Resolves CloudFormation intrinsics in the templates of one cloud assembly to fake values.

    ``templates`` maps stack (artifact) name to parsed template. Buckets get :data:`FAKE_BUCKET` (the
    artifacts bucket) or ``<logical id>-fake``; topics, roles, functions, keys and state machines get
    ARNs in :data:`FAKE_ACCOUNT` / :data:`FAKE_REGION` named after their logical id.
    """

    def __init__(self, templates: Mapping[str, Mapping[str, Any]]) -> None:
        self.templates = templates
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack, template in templates.items():
            for output in template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self._exports[export] = (stack, output["Value"])

    def resolve(self, value: Any, stack: str) -> Any:
        """``value`` with every intrinsic function resolved, in the context of template ``stack``."""
        if isinstance(value, list):
            return [self.resolve(item, stack) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument, stack)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._get_att(logical_id, attribute, stack)
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(part) for part in self.resolve(parts, stack))
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items, stack)[int(self.resolve(index, stack))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text, stack)).split(separator)
            if key == "Fn::ImportValue":
                name = self.resolve(argument, stack)
                if name not in self._exports:
                    return f"fake-import-{name}"
                exporting_stack, exported = self._exports[name]
                return self.resolve(exported, exporting_stack)
            if key == "Fn::Sub":
                return self._sub(argument, stack)
        return {key: self.resolve(item, stack) for key, item in value.items()}

    def _sub(self, argument: Any, stack: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(item, stack) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self._get_att(logical_id, attribute, stack))
            return str(self._ref(name, stack))

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)

    def _resource(self, logical_id: str, stack: str) -> Mapping[str, Any]:
        resource: Mapping[str, Any] = self.templates[stack].get("Resources", {}).get(logical_id, {})
        return resource

    def bucket_name(self, logical_id: str) -> str:
        """The fake name of bucket ``logical_id``."""
        if logical_id.startswith("Artifacts"):
            return FAKE_BUCKET
        return f"{logical_id.lower()[:50]}-fake"

    def _ref(self, name: str, stack: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        parameter = self.templates[stack].get("Parameters", {}).get(name)
        if parameter is not None:
            return parameter.get("Default", f"fake-{name}")
        kind = self._resource(name, stack).get("Type", "")
        if kind == "AWS::S3::Bucket":
            return self.bucket_name(name)
        if kind == "AWS::KMS::Key":
            return _fake_uuid(name)
        if kind in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"):
            return self._get_att(name, "Arn", stack)
        return name

    def _get_att(self, logical_id: str, attribute: str, stack: str) -> Any:
        kind = self._resource(logical_id, stack).get("Type", "")
        prefix = f"arn:{FAKE_PARTITION}"
        if kind == "AWS::S3::Bucket":
            name = self.bucket_name(logical_id)
            if attribute == "Arn":
                return f"{prefix}:s3:::{name}"
            return f"{name}.s3.{FAKE_REGION}.{FAKE_URL_SUFFIX}"
        if kind == "AWS::IAM::Role":
            return f"{prefix}:iam::{FAKE_ACCOUNT}:role/{logical_id}" if attribute == "Arn" else logical_id
        if kind == "AWS::Lambda::Function":
            return f"{prefix}:lambda:{FAKE_REGION}:{FAKE_ACCOUNT}:function:{logical_id}"
        if kind == "AWS::KMS::Key":
            return f"{prefix}:kms:{FAKE_REGION}:{FAKE_ACCOUNT}:key/{_fake_uuid(logical_id)}"
        if kind == "AWS::SNS::Topic":
            return f"{prefix}:sns:{FAKE_REGION}:{FAKE_ACCOUNT}:{logical_id}"
        if kind == "AWS::StepFunctions::StateMachine":
            if attribute == "Name":
                return logical_id
            return f"{prefix}:states:{FAKE_REGION}:{FAKE_ACCOUNT}:stateMachine:{logical_id}"
        service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
        return f"{prefix}:{service}:{FAKE_REGION}:{FAKE_ACCOUNT}:{logical_id}/{attribute}"

    def state_machine_definitions(self, stack: str) -> dict[str, dict[str, Any]]:
        """Each state machine of ``stack`` (logical id -> plain ASL definition)."""
        found: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self.templates[stack].get("Resources", {}).items():
            if resource.get("Type") != "AWS::StepFunctions::StateMachine":
                continue
            properties = resource.get("Properties", {})
            if "DefinitionString" in properties:
                text = self.resolve(properties["DefinitionString"], stack)
                found[logical_id] = json.loads(text) if isinstance(text, str) else text
            elif "Definition" in properties:
                found[logical_id] = self.resolve(properties["Definition"], stack)
        return found


def load_assembly_templates(assembly: Path | str) -> dict[str, dict[str, Any]]:
    """Every ``*.template.json`` of a cloud assembly directory, by stack name (file name stem)."""
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(Path(assembly).glob("*.template.json"))
    }


def resolve_state_machines(templates: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every state machine in ``templates`` as plain ASL: ``(stack, logical id) -> definition``."""
    resolver = TokenResolver(templates)
    return {
        (stack, logical_id): definition
        for stack in templates
        for logical_id, definition in resolver.state_machine_definitions(stack).items()
    }


# -- synthesis -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResolvedWorkflow:
    """One synthesized state machine of a model, with tokens resolved to fake values."""

    model: str
    kind: str
    stack_name: str
    logical_id: str
    definition: Mapping[str, Any]

    @property
    def definition_json(self) -> str:
        """The definition as ASL JSON text."""
        return json.dumps(self.definition)

    @property
    def states(self) -> Mapping[str, Any]:
        """The top-level states by name."""
        states: Mapping[str, Any] = self.definition["States"]
        return states

    def resources(self, contains: str) -> list[str]:
        """``Resource`` of every top-level Task whose resource contains ``contains``."""
        return [s["Resource"] for s in self.states.values() if contains in str(s.get("Resource", ""))]


_SYNTH_LOCK = threading.Lock()
_SYNTH_CACHE: dict[str, dict[str, dict[str, Any]]] = {}


def synthesize_templates(models_dir: Path) -> dict[str, dict[str, Any]]:
    """Every template of the app built from ``models_dir``, by stack name (synthesized once per process)."""
    key = str(models_dir.resolve())
    with _SYNTH_LOCK:
        if key not in _SYNTH_CACHE:
            os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
            os.environ["CDK_VALIDATION"] = "false"
            import aws_cdk as cdk

            from cdk_mlops.app_builder import build_app

            with tempfile.TemporaryDirectory(prefix="cdk-mlops-synth-") as outdir:
                app = cdk.App(outdir=outdir, builtin_cloud_formation_validation=False)
                build_app(app, models_dir, region=FAKE_REGION)
                assembly = app.synth()
                _SYNTH_CACHE[key] = load_assembly_templates(assembly.directory)
        return _SYNTH_CACHE[key]


def synthesize_workflows(
    models_dir: Path | str = "models", model: str | None = None
) -> dict[str, dict[str, ResolvedWorkflow]]:
    """``{model: {kind: ResolvedWorkflow}}`` for every model in ``models_dir`` (or only ``model``).

    The app is synthesized once per process and ``models_dir``; ``kind`` is one of
    :data:`WORKFLOW_KINDS`. Raises :class:`ScenarioError` for an unknown ``model``.
    """
    templates = synthesize_templates(Path(models_dir))
    resolver = TokenResolver(templates)
    found: dict[str, dict[str, ResolvedWorkflow]] = {}
    for stack in templates:
        match = re.fullmatch(r"Mlops-(.+)-Pipeline", stack)
        if match is None:
            continue
        name = match.group(1)
        workflows: dict[str, ResolvedWorkflow] = {}
        for logical_id, definition in resolver.state_machine_definitions(stack).items():
            for kind, prefix in WORKFLOW_KINDS.items():
                if logical_id.startswith(prefix):
                    workflows[kind] = ResolvedWorkflow(name, kind, stack, logical_id, definition)
        found[name] = workflows
    if model is not None:
        if model not in found:
            raise ScenarioError(f"unknown model {model!r} (known models: {', '.join(sorted(found))})")
        return {model: found[model]}
    return found


# -- scenarios -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScenarioResult:
    """What one local run of a workflow did."""

    model: str
    scenario: str
    workflow: ResolvedWorkflow
    result: ExecutionResult
    notifications: list[Notification]
    model_packages: dict[str, dict[str, Any]]
    sagemaker_calls: list[str]
    wall_seconds: float

    @property
    def status(self) -> str:
        """The execution's final status."""
        return self.result.status

    @property
    def states_entered(self) -> list[str]:
        """Names of the states entered, in order."""
        return self.result.states_entered

    @property
    def transitions(self) -> int:
        """State transitions, as AWS bills them: one per state entered (the start counts as one)."""
        return len(self.states_entered)

    def call_count(self, action: str) -> int:
        """How many times SageMaker ``action`` was called (including failed calls)."""
        return self.sagemaker_calls.count(action)


def gate_metrics(workflow: ResolvedWorkflow) -> list[tuple[str, float, int]]:
    """``(metric path under $.evaluation.metrics, threshold, direction)`` of each quality gate Choice:
    direction 1 for ``>=`` (higher passes), -1 for ``<=`` (lower passes)."""
    gates = []
    for name, state in workflow.states.items():
        if not name.startswith("QualityGate"):
            continue
        for choice in state.get("Choices", []):
            for operator, direction in (("NumericGreaterThanEquals", 1), ("NumericLessThanEquals", -1)):
                if operator in choice:
                    path = choice["Variable"].removeprefix("$.evaluation.metrics.").removesuffix("[0]")
                    gates.append((path, float(choice[operator]), direction))
    return gates


def _nest(path: str, value: float) -> dict[str, Any]:
    keys = path.split(".")
    nested: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        nested = {key: nested}
    return nested


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def scenario_metrics(workflow: ResolvedWorkflow, reject: bool) -> dict[str, Any]:
    """Metric values for a run: each gated metric 0.05 on the passing side of its threshold (a ``>=``
    metric capped at 0.99, a ``<=`` one floored at 0), or, if ``reject``, the last gated metric 0.1 on
    the failing side, nested along the gate paths (e.g. ``{"metrics": {"accuracy": 0.95}}``; a training
    metric ``validation_auc[0]`` is keyed ``validation_auc``)."""
    values: dict[str, Any] = {}
    gates = gate_metrics(workflow)
    for index, (path, threshold, direction) in enumerate(gates):
        passing = min(threshold + 0.05, 0.99) if direction > 0 else max(threshold - 0.05, 0.0)
        value = round(passing, 4)
        if reject and index == len(gates) - 1:
            value = round(threshold - 0.1 * direction, 4)
        _merge(values, _nest(path, value))
    return values


def training_metric_names(workflow: ResolvedWorkflow) -> dict[str, str]:
    """Metric key in ``$.evaluation.metrics`` -> SageMaker metric name, from ExtractTrainingMetrics."""
    extract = workflow.states.get("ExtractTrainingMetrics", {})
    names = {}
    for key, expression in extract.get("Parameters", {}).get("metrics", {}).items():
        match = re.search(r"@\.MetricName == '([^']+)'", str(expression))
        if match:
            names[key.removesuffix(".$")] = match.group(1)
    return names


def _uses_evaluation_job(workflow: ResolvedWorkflow) -> bool:
    return any(":s3:getObject" in str(state.get("Resource", "")) for state in workflow.states.values())


def _has_preprocessing(workflow: ResolvedWorkflow) -> bool:
    return "Preprocess" in workflow.states


def _bucket_of(workflow: ResolvedWorkflow) -> str:
    for state in workflow.states.values():
        if ":s3:getObject" in str(state.get("Resource", "")):
            return str(state["Parameters"]["Bucket"])
    return FAKE_BUCKET


def prepare_training_run(
    engine: LocalEngine,
    model: str,
    workflow: ResolvedWorkflow,
    scenario: str,
    *,
    execution_name: str | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Seeds ``engine`` for one training run under ``scenario``: the model package group, the
    packaged code, scripted job outcomes and (for evaluation jobs) ``evaluation.json``. Returns the
    execution name and input to run the training workflow with.

    ``metrics`` (default: :func:`scenario_metrics` for the scenario) are the values the run reports,
    nested as the quality gates read them; a gated metric left out is not reported at all."""
    name = execution_name or f"local-{uuid.uuid4().hex[:8]}"
    evaluation_job = _uses_evaluation_job(workflow)
    if metrics is None:
        metrics = scenario_metrics(workflow, reject=scenario == "reject")
    engine.client("sagemaker").create_model_package_group(ModelPackageGroupName=model)
    seed_champion(engine.client("sagemaker"), model, champion_rules(workflow.states), metrics, scenario)
    bucket = _bucket_of(workflow)
    engine.s3_put_json(bucket, f"{model}/source/README.json", {"seeded": "by cdk_mlops.local.harness"})
    script = engine.sagemaker
    if scenario == "preprocessing-fails":
        script.script_processing_job(
            JobOutcome.failed("ClientError: preprocess.py exited with code 1: no input data"),
            name_contains="-prep",
        )
    if scenario == "training-fails":
        script.script_training_job(
            JobOutcome.failed("AlgorithmError: ExecuteUserScriptError: out of memory (exit code 137)")
        )
    else:
        training_metrics: dict[str, float] = {}
        if not evaluation_job:
            for key, metric_name in training_metric_names(workflow).items():
                if key in metrics:
                    training_metrics[metric_name] = float(metrics[key])
            if scenario == "metric-missing":  # the job reports every gated metric but the first
                training_metrics.pop(next(iter(training_metric_names(workflow).values())), None)
        objective = objective_metric_of(workflow.states)  # a tuning job's trials report its objective
        if objective is not None and objective not in training_metric_names(workflow).values():
            training_metrics[objective] = TUNING_OBJECTIVE_VALUE  # not gated: any value
        script.script_training_job(JobOutcome.completed(training_metrics))
    if scenario == "throttled":
        script.throttle("CreateTrainingJob", times=2)
    if evaluation_job and scenario != "missing-evaluation":
        engine.s3_put_json(bucket, f"{model}/runs/{name}/evaluation/evaluation.json", metrics)
    return name, {"PipelineExecutionId": "local-build-0001"}


def run_training_scenario(
    model: str,
    scenario: str,
    *,
    models_dir: Path | str = "models",
    on_event: Callable[[dict[str, Any]], None] | None = None,
    execution_name: str | None = None,
) -> ScenarioResult:
    """Runs ``model``'s synthesized training workflow under ``scenario`` (one of :data:`SCENARIOS`).

    Raises :class:`ScenarioError` for an unknown model or scenario, or one that does not apply.
    """
    if scenario not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {scenario!r} (known scenarios: {', '.join(SCENARIOS)})")
    workflow = synthesize_workflows(models_dir, model)[model]["training"]
    evaluation_job = _uses_evaluation_job(workflow)
    if scenario == "preprocessing-fails" and not _has_preprocessing(workflow):
        raise ScenarioError(f"scenario {scenario!r} needs a model with preprocessing; {model} has none")
    if scenario == "missing-evaluation" and not evaluation_job:
        raise ScenarioError(f"scenario {scenario!r} needs a model with an evaluation job; {model} has none")
    if scenario == "metric-missing" and (evaluation_job or not training_metric_names(workflow)):
        raise ScenarioError(
            f"scenario {scenario!r} needs a model gated on training metrics (evaluation.source: "
            f"training_metrics); {model} is gated on an evaluation job"
            if evaluation_job
            else f"scenario {scenario!r} needs a model with a quality gate on training metrics; {model} has none"
        )

    if scenario in CHAMPION_SCENARIOS and not champion_rules(workflow.states):
        raise ScenarioError(
            f"scenario {scenario!r} needs a model with a champion rule (quality_gate: beat_champion_by or "
            f"within_champion_by); {model} has none"
        )

    name = execution_name or f"local-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    with LocalEngine() as engine:
        name, run_input = prepare_training_run(engine, model, workflow, scenario, execution_name=name)
        script = engine.sagemaker
        result = engine.run(
            workflow.definition_json,
            input=run_input,
            name=name,
            state_machine_name=workflow.logical_id,
            on_event=on_event,
        )
        notifications = engine.notifications
        packages = engine.sagemaker_state()["model_packages"]
        calls = script.calls()
    return ScenarioResult(
        model, scenario, workflow, result, notifications, packages, calls, time.perf_counter() - start
    )


def run_smoke_test_scenario(
    model: str,
    passed: bool,
    *,
    models_dir: Path | str = "models",
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> ScenarioResult:
    """Runs ``model``'s smoke-test workflow with its Lambda replaced by a handler returning ``passed``."""
    workflow = synthesize_workflows(models_dir, model)[model]["smoke_test"]
    functions = [
        str(state["Parameters"]["FunctionName"])
        for state in workflow.states.values()
        if ":lambda:invoke" in str(state.get("Resource", ""))
    ]
    reason = "all checks passed" if passed else "endpoint returned HTTP 500 for the smoke-test payload"

    def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
        return {"passed": passed, "reason": reason, "stack": event.get("StackName")}

    start = time.perf_counter()
    with LocalEngine() as engine:
        for function in functions:
            engine.register_lambda(function, handler)
        result = engine.run(
            workflow.definition_json,
            input={"ModelPackageArn": f"arn:aws:sagemaker:{FAKE_REGION}:{FAKE_ACCOUNT}:model-package/{model}/1"},
            state_machine_name=workflow.logical_id,
            on_event=on_event,
        )
        notifications = engine.notifications
        calls = engine.sagemaker.calls()
    return ScenarioResult(
        model,
        "smoke-test-passes" if passed else "smoke-test-fails",
        workflow,
        result,
        notifications,
        {},
        calls,
        time.perf_counter() - start,
    )
