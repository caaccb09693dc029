"""The local runs that cover every state, Choice branch and Catch edge of a models folder's workflows.

:func:`measure_coverage` synthesizes a models folder once and, for each model, runs:

1. every scenario that applies to it: the training scenarios (:data:`~cdk_mlops.local.harness.SCENARIOS`),
   the release scenarios (:data:`~cdk_mlops.local.release.RELEASE_SCENARIOS`) for endpoint models, the
   batch scenarios for batch models, a drift check for models with one, and a training run started
   without its input (the input check's failure branch);
2. for each quality gate whose reject or metric-missing branch is still untaken, a training run with
   that gate's metric failing or unreported;
3. for each Catch edge still untaken, the cheapest run so far that entered the catching state, again
   with that state failing (:class:`~cdk_mlops.local.engine.StateFault`), with an error the catcher
   takes and no earlier catcher does. Runs made this way can reach further states, so this step
   repeats until it adds nothing;
4. for each Choice branch still untaken that a caught failure reaches (through Pass and Choice states
   only: the states that read the failure's cause), that failure again with each kind of cause a
   failed task carries on AWS (:data:`CAUSE_SHAPES`) until the branch is taken.

Everything is derived from the synthesized definitions, so new states are picked up without changes
here; what no run can reach shows up as missing, unless :data:`EXCUSES` gives the reason.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cdk_mlops.local.batch import BATCH_SCENARIOS, run_batch_scenario
from cdk_mlops.local.champion import champion_rules, seed_champion
from cdk_mlops.local.coverage import CoverageTracker, Excuse
from cdk_mlops.local.engine import ExecutionResult, JobOutcome, LocalEngine, StateFault, inject_faults
from cdk_mlops.local.harness import (
    FAKE_BUCKET,
    SCENARIOS,
    ResolvedWorkflow,
    ScenarioError,
    prepare_training_run,
    run_training_scenario,
    scenario_metrics,
    synthesize_workflows,
)
from cdk_mlops.local.release import RELEASE_SCENARIOS, STAGES, run_release_scenario

__all__ = ["EXCUSES", "CoverageRun", "CoverageSuite", "measure_coverage"]

#: Items no local run can reach, with the reason why it cannot (none today: every item is taken).
EXCUSES: tuple[Excuse, ...] = ()

#: Executions of one run, as ``(workflow kind, execution)``.
Executions = list[tuple[str, ExecutionResult]]

_INJECTED_CAUSE = "injected by the coverage suite (cdk_mlops.local.coverage_runs)"
#: The causes a failed task carries on AWS, by where the failure comes from: an AWS SDK call's error
#: message, a Lambda function's error (JSON with errorMessage and errorType), a ``.sync`` job's
#: ``Describe*Job`` response (JSON with FailureReason), some other JSON, and none at all.
CAUSE_SHAPES: tuple[str, ...] = (
    "Rate exceeded (Service: SageMaker, Status Code: 400, Request ID: 00000000-0000-0000-0000-000000000000)",
    "",
    json.dumps({"message": "a JSON cause with neither FailureReason nor errorMessage"}),
    json.dumps({"errorMessage": "the endpoint answered HTTP 500", "errorType": "RuntimeError"}),
    json.dumps(
        {
            "TrainingJobName": "local-train",
            "TrainingJobStatus": "Failed",
            "FailureReason": "AlgorithmError: ExecuteUserScriptError: out of memory (exit code 137)",
        }
    ),
    json.dumps(
        {
            "ProcessingJobName": "local-prep",
            "ProcessingJobStatus": "Failed",
            "FailureReason": "AlgorithmError: preprocess.py exited with code 1",
        }
    ),
    json.dumps(
        {
            "TransformJobName": "local-batch",
            "TransformJobStatus": "Failed",
            "FailureReason": "ClientError: line 17 of the input has 5 columns, the model 6",
        }
    ),
)
#: Error names tried, in order, for a catcher on States.ALL: one that no earlier catcher takes.
_WILDCARD_ERRORS = ("States.TaskFailed", "Local.InjectedFault", "States.Timeout")


@dataclasses.dataclass(frozen=True)
class CoverageRun:
    """One local run: ``execute(kind)`` runs it (in its own engine) and returns its executions; with a
    workflow ``kind`` it may skip the workflows that one does not need (a release runs only training and
    that stage), with None it runs them all."""

    label: str
    model: str
    execute: Callable[[str | None], Executions]
    faults: tuple[StateFault, ...] = ()
    kind: str | None = None

    def with_cause(self, cause: str) -> CoverageRun:
        """The same run with its last fault's cause replaced by ``cause``."""
        *earlier, last = self.faults
        label = f"{self.label} (cause {cause[:24]!r})"
        return dataclasses.replace(self, label=label, faults=(*earlier, dataclasses.replace(last, cause=cause)))

    def with_fault(self, fault: StateFault, kind: str) -> CoverageRun:
        """The same run with ``fault`` injected too, in the ``kind`` workflow (the one it needs to run)."""
        label = f"{self.label} + {fault.state_name} fails ({fault.error})"
        return dataclasses.replace(self, label=label, faults=(*self.faults, fault), kind=kind)

    def run(self) -> Executions:
        """Executes the run with its faults injected."""
        with inject_faults(*self.faults):
            return self.execute(self.kind)


@dataclasses.dataclass
class _Done:
    run: CoverageRun
    executions: Executions
    seconds: float


def _machine(model: str, kind: str) -> str:
    return f"{model}/{kind}"


# -- the runs ----------------------------------------------------------------------------------------


def _training_scenario(models_dir: Path, model: str, scenario: str) -> Callable[[str | None], Executions]:
    def execute(kind: str | None) -> Executions:
        try:
            return [("training", run_training_scenario(model, scenario, models_dir=models_dir).result)]
        except ScenarioError:  # the scenario does not apply to this model
            return []

    return execute


def _training_run(
    model: str,
    workflow: ResolvedWorkflow,
    *,
    metrics: Mapping[str, Any] | None = None,
    run_input: Mapping[str, Any] | None = None,
) -> Callable[[str | None], Executions]:
    """A training run of ``workflow`` with the given reported ``metrics`` or execution input."""

    def execute(kind: str | None) -> Executions:
        with LocalEngine() as engine:
            name, default_input = prepare_training_run(engine, model, workflow, "approve", metrics=metrics)
            result = engine.run(
                workflow.definition_json,
                input=default_input if run_input is None else dict(run_input),
                name=name,
                state_machine_name=workflow.logical_id,
            )
        return [("training", result)]

    return execute


def _champion_loses_on(model: str, workflow: ResolvedWorkflow, losing_rule: int) -> Callable[[str | None], Executions]:
    """A training run whose seeded champion the candidate beats on every champion rule before
    ``losing_rule`` and loses to on that one (``champion-loses`` covers only the first rule)."""

    def execute(kind: str | None) -> Executions:
        metrics = scenario_metrics(workflow, reject=False)
        with LocalEngine() as engine:
            name, run_input = prepare_training_run(engine, model, workflow, "approve", metrics=metrics)
            rules = champion_rules(workflow.states)
            seed_champion(engine.client("sagemaker"), model, rules, metrics, "champion-loses", losing_rule=losing_rule)
            result = engine.run(
                workflow.definition_json, input=run_input, name=name, state_machine_name=workflow.logical_id
            )
        return [("training", result)]

    return execute


def champion_runs(model: str, workflow: ResolvedWorkflow) -> list[CoverageRun]:
    """One losing run per champion rule after the first (the ``champion-loses`` scenario loses on the first)."""
    return [
        CoverageRun(f"{model} champion-loses on rule {index}", model, _champion_loses_on(model, workflow, index))
        for index in range(1, len(champion_rules(workflow.states)))
    ]


def _release_scenario(models_dir: Path, model: str, scenario: str) -> Callable[[str | None], Executions]:
    def execute(kind: str | None) -> Executions:
        stages = STAGES if kind is None else ("training", kind)
        release = run_release_scenario(model, scenario, models_dir=str(models_dir), stages=stages)
        return list(release.executions.items())

    return execute


def _batch_scenario(models_dir: Path, model: str, scenario: str) -> Callable[[str | None], Executions]:
    def execute(kind: str | None) -> Executions:
        return list(run_batch_scenario(model, scenario, models_dir=str(models_dir)).executions.items())

    return execute


def _drift_check(model: str, workflow: ResolvedWorkflow) -> Callable[[str | None], Executions]:
    """The drift check as its schedule starts it: the processing job completes and writes its score."""

    def execute(kind: str | None) -> Executions:
        name = f"drift-{uuid.uuid4().hex[:8]}"
        with LocalEngine() as engine:
            engine.sagemaker.script_processing_job(JobOutcome.completed({}))
            bucket, key = _drift_score_location(workflow, model, name)
            engine.s3_put_json(bucket, key, {"drift_score": 0.31})
            result = engine.run(workflow.definition_json, input={}, name=name, state_machine_name=workflow.logical_id)
        return [("drift_check", result)]

    return execute


def _drift_score_location(workflow: ResolvedWorkflow, model: str, name: str) -> tuple[str, str]:
    """Where the drift job writes its score for execution ``name``: the bucket and key its score-reading
    task reads (the key built by ``States.Format('...{}...', $$.Execution.Name)``)."""
    for state in workflow.states.values():
        parameters = state.get("Parameters") or {}
        if ":s3:getObject" in str(state.get("Resource", "")):
            bucket = str(parameters.get("Bucket", FAKE_BUCKET))
            break
    else:
        bucket = FAKE_BUCKET
    text = str(workflow.definition)
    match = re.search(r"States\.Format\('([^']*\{\}[^']*drift\.json)', \$\$\.Execution\.Name\)", text)
    key = match.group(1).replace("{}", name) if match else f"{model}/drift/{name}/drift.json"
    return bucket, key


#: The shadow scenarios script a shadow test: on a model whose production workflow has no shadow test
#: (no ``StartShadow`` state) they take the same path as ``release`` and add nothing, so they are skipped.
_SHADOW_PREFIX = "shadow-"
_SHADOW_STATE = "StartShadow"


def scenario_runs(models_dir: Path, model: str, workflows: Mapping[str, ResolvedWorkflow]) -> list[CoverageRun]:
    """Every scenario that can apply to ``model``, plus a training run started without its input."""
    runs: list[CoverageRun] = []
    if "training" in workflows:
        runs += [
            CoverageRun(f"{model} {scenario}", model, _training_scenario(models_dir, model, scenario))
            for scenario in SCENARIOS
            # a release's training run is this scenario's: run it once
            if not (scenario == "approve" and "deploy_staging" in workflows)
        ]
        runs.append(
            CoverageRun(
                f"{model} started-without-input", model, _training_run(model, workflows["training"], run_input={})
            )
        )
    if "deploy_staging" in workflows:
        production = set(workflows["deploy_production"].states) if "deploy_production" in workflows else set()
        runs += [
            CoverageRun(f"{model} {scenario}", model, _release_scenario(models_dir, model, scenario))
            for scenario in RELEASE_SCENARIOS
            if not scenario.startswith(_SHADOW_PREFIX) or _SHADOW_STATE in production
        ]
    if "batch_transform" in workflows:
        runs += [
            CoverageRun(f"{model} {scenario}", model, _batch_scenario(models_dir, model, scenario))
            for scenario in BATCH_SCENARIOS
        ]
    if "drift_check" in workflows:
        runs.append(CoverageRun(f"{model} drift-check", model, _drift_check(model, workflows["drift_check"])))
    return runs


# -- quality gate fill-ins ------------------------------------------------------------------------------

_GATE_OPERATORS = {
    "NumericGreaterThanEquals": 1,
    "NumericGreaterThan": 1,
    "NumericLessThanEquals": -1,
    "NumericLessThan": -1,
}
_METRICS_PREFIX = "$.evaluation.metrics."


@dataclasses.dataclass(frozen=True)
class _Gate:
    state: str
    path: tuple[str, ...]  # under $.evaluation.metrics, without a trailing [0]
    threshold: float
    direction: int  # 1: higher passes
    missing_target: str | None
    rejected_target: str | None


def _gates(workflow: ResolvedWorkflow) -> list[_Gate]:
    """Choice states comparing a metric under ``$.evaluation.metrics`` with a number: the quality gates."""
    gates = []
    for name, state in workflow.states.items():
        if state.get("Type") != "Choice":
            continue
        missing = comparison = None
        for rule in state.get("Choices", []):
            if "Not" in rule and rule["Not"].get("IsPresent") is True:
                missing = rule["Next"]
            for operator, direction in _GATE_OPERATORS.items():
                if operator in rule and str(rule.get("Variable", "")).startswith(_METRICS_PREFIX):
                    comparison = (rule, operator, direction)
        if comparison is None:
            continue
        rule, operator, direction = comparison
        path = str(rule["Variable"]).removeprefix(_METRICS_PREFIX).removesuffix("[0]")
        gates.append(
            _Gate(name, tuple(path.split(".")), float(rule[operator]), direction, missing, state.get("Default"))
        )
    return gates


def _with_metric(metrics: Mapping[str, Any], path: Sequence[str], value: float | None) -> dict[str, Any]:
    """``metrics`` with the metric at ``path`` set to ``value``, or removed when ``value`` is None."""
    changed = copy.deepcopy(dict(metrics))
    node = changed
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return changed


def gate_runs(model: str, workflow: ResolvedWorkflow) -> list[tuple[str, CoverageRun]]:
    """``(branch id, run)`` for each quality gate: its metric failing the threshold, and not reported."""
    passing = scenario_metrics(workflow, reject=False)
    runs = []
    for gate in _gates(workflow):
        failing = round(gate.threshold - 0.1 * gate.direction, 4)
        for target, value, what in ((gate.rejected_target, failing, "fails"), (gate.missing_target, None, "missing")):
            if target is None:
                continue
            metrics = _with_metric(passing, gate.path, value)
            label = f"{model} gate {'.'.join(gate.path)} {what}"
            runs.append(
                (
                    f"branch:{gate.state} -> {target}",
                    CoverageRun(label, model, _training_run(model, workflow, metrics=metrics)),
                )
            )
    return runs


# -- fault injection -------------------------------------------------------------------------------------


def _takes(error_equals: Sequence[str], error: str) -> bool:
    """Whether a catcher's ``ErrorEquals`` takes ``error`` (Step Functions "Error names": States.ALL takes
    every error; States.TaskFailed every error but States.Timeout and the other reserved States.* names)."""
    if "States.ALL" in error_equals or error in error_equals:
        return True
    return "States.TaskFailed" in error_equals and not error.startswith("States.")


def catch_fault(workflow: ResolvedWorkflow, state_name: str, target: str) -> StateFault | None:
    """A fault that makes ``state_name`` take its catcher leading to ``target``, or None if every error that
    catcher takes is taken by an earlier one."""
    state = _find_state(workflow.definition, state_name)
    catchers = (state or {}).get("Catch", [])
    for index, catcher in enumerate(catchers):
        if catcher.get("Next") != target:
            continue
        names = [name for name in catcher.get("ErrorEquals", []) if name != "States.ALL"]
        candidates = names or list(_WILDCARD_ERRORS)
        if "States.TaskFailed" in names:
            candidates.append("Local.InjectedFault")
        for error in candidates:
            if _takes(catcher["ErrorEquals"], error) and not any(
                _takes(earlier.get("ErrorEquals", []), error) for earlier in catchers[:index]
            ):
                return StateFault(state_name, error, _INJECTED_CAUSE, workflow.logical_id)
    return None


def _find_state(container: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    states: Mapping[str, Any] = container.get("States", {})
    if name in states:
        found: Mapping[str, Any] = states[name]
        return found
    for state in states.values():
        for nested in [*state.get("Branches", []), *(state[k] for k in ("ItemProcessor", "Iterator") if k in state)]:
            inner = _find_state(nested, name)
            if inner is not None:
                return inner
    return None


# -- the suite -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class CoverageSuite:
    """The outcome of :func:`measure_coverage`: the tracker (coverage per state machine), every run made
    with its wall time, and the total time (synthesis included)."""

    models_dir: Path
    tracker: CoverageTracker
    runs: list[tuple[str, float]]
    synthesis_seconds: float
    seconds: float

    def report(self) -> str:
        """The coverage table, titled with the folder, the number of runs and the time taken."""
        title = (
            f"State machine coverage of {self.models_dir} ({len(self.runs)} local runs, "
            f"{self.seconds:.1f} s, synthesis {self.synthesis_seconds:.1f} s)"
        )
        return self.tracker.report(title)


def measure_coverage(
    models_dir: Path | str,
    *,
    excuses: Iterable[Excuse] = EXCUSES,
    max_fault_rounds: int = 3,
) -> CoverageSuite:
    """Runs the scenarios, gate fill-ins and fault injections for every model of ``models_dir`` (see the
    module docstring) and returns their coverage of every synthesized state machine."""
    started = time.perf_counter()
    folder = Path(models_dir)
    all_workflows = synthesize_workflows(folder)
    synthesis = time.perf_counter() - started
    tracker = CoverageTracker(excuses)
    for model, workflows in all_workflows.items():
        for kind, workflow in workflows.items():
            tracker.add_machine(_machine(model, kind), kind, workflow.definition)
    done: list[_Done] = []

    def execute(run: CoverageRun) -> None:
        mark = time.perf_counter()
        executions = run.run()
        done.append(_Done(run, executions, time.perf_counter() - mark))
        for kind, execution in executions:
            tracker.record(_machine(run.model, kind), execution.history)

    for model, workflows in all_workflows.items():
        for run in scenario_runs(folder, model, workflows):
            execute(run)
        if "training" in workflows:
            for run in champion_runs(model, workflows["training"]):
                execute(run)
            training = _machine(model, "training")
            for gate_branch, run in gate_runs(model, workflows["training"]):
                if gate_branch not in tracker.taken(training).labels():
                    execute(run)

    for _ in range(max_fault_rounds):
        added = 0
        for machine in tracker.coverage():
            model, kind = machine.machine.rsplit("/", 1)
            workflow = all_workflows[model][kind]
            for source, target in sorted(machine.expected.catches - tracker.taken(machine.machine).catches):
                if (source, target) in tracker.taken(machine.machine).catches:
                    continue  # an earlier fault run of this round took it on the way
                base = _cheapest_entering(done, model, kind, source)
                fault = catch_fault(workflow, source, target)
                if base is None or fault is None:
                    continue
                execute(base.run.with_fault(fault, kind))
                added += 1
        if not added:
            break

    for machine in tracker.coverage():
        model, kind = machine.machine.rsplit("/", 1)
        workflow = all_workflows[model][kind]
        for branch in sorted(machine.expected.branches - tracker.taken(machine.machine).branches):
            for source, catch_target in _catches_reaching(workflow.definition, branch[0]):
                base = _cheapest_entering(done, model, kind, source)
                fault = catch_fault(workflow, source, catch_target)
                if base is None or fault is None:
                    continue
                for cause in _causes_for(workflow.definition, branch):
                    if branch in tracker.taken(machine.machine).branches:
                        break
                    faults = base.run.faults
                    if faults and faults[-1].state_name == source and faults[-1].state_machine == fault.state_machine:
                        execute(base.run.with_cause(cause))
                    else:
                        execute(base.run.with_fault(dataclasses.replace(fault, cause=cause), kind))
    return CoverageSuite(
        folder, tracker, [(d.run.label, d.seconds) for d in done], synthesis, time.perf_counter() - started
    )


def _fields(rule: Any) -> set[str]:
    """The last member name of every ``Variable`` path in a Choice rule (nested And/Or/Not included)."""
    if isinstance(rule, list):
        return set().union(*(_fields(item) for item in rule)) if rule else set()
    if not isinstance(rule, Mapping):
        return set()
    names = {str(rule["Variable"]).rsplit(".", 1)[-1]} if "Variable" in rule else set()
    return names.union(*(_fields(rule[key]) for key in ("And", "Or", "Not") if key in rule))


def _causes_for(definition: Mapping[str, Any], branch: tuple[str, str]) -> list[str]:
    """:data:`CAUSE_SHAPES` in the order most likely to take ``branch``: for a rule's branch, JSON causes
    with the most members the rule reads first; for the Default, those with the fewest members any rule reads."""
    choice = _find_state(definition, branch[0]) or {}
    rules = choice.get("Choices", [])
    wanted = _fields([rule for rule in rules if rule.get("Next") == branch[1]])
    read = _fields(rules)

    def members(cause: str) -> set[str]:
        try:
            parsed = json.loads(cause)
        except ValueError:
            return set()
        return set(parsed) if isinstance(parsed, dict) else set()

    if wanted:
        return sorted(CAUSE_SHAPES, key=lambda cause: -len(members(cause) & wanted))
    return sorted(CAUSE_SHAPES, key=lambda cause: len(members(cause) & read))


def _catches_reaching(definition: Mapping[str, Any], choice: str) -> list[tuple[str, str]]:
    """``(state, catch target)`` of every Catch edge from which ``choice`` is reached through Pass and
    Choice states only (where a failure's cause is examined before anything else runs)."""
    states: Mapping[str, Any] = definition.get("States", {})
    found = []
    for name, state in states.items():
        for catcher in state.get("Catch", []):
            target = catcher.get("Next")
            seen: set[str] = set()
            queue = [target]
            while queue:
                current = queue.pop()
                if current in seen or current not in states:
                    continue
                seen.add(current)
                if current == choice:
                    found.append((name, target))
                    break
                step = states[current]
                if step.get("Type") == "Pass" and step.get("Next"):
                    queue.append(step["Next"])
                elif step.get("Type") == "Choice":
                    queue += [rule.get("Next") for rule in step.get("Choices", [])] + [step.get("Default")]
    return found


def _cheapest_entering(done: Sequence[_Done], model: str, kind: str, state: str) -> _Done | None:
    """The finished run of ``model`` whose ``kind`` execution entered ``state`` with the fewest injected
    faults (a state some fault led to needs that fault), the fastest of those."""
    entering = [
        d
        for d in done
        if d.run.model == model
        and any(k == kind and state in execution.states_entered for k, execution in d.executions)
    ]
    return min(entering, key=lambda d: (len(d.run.faults), d.seconds), default=None)
