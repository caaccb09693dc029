"""``cdk-mlops run <model>``: the model's own code, end to end, through its synthesized workflows.

Order: pre-flight (:mod:`cdk_mlops.local.preflight`), synthesis (the in-process one ``dry-run`` uses),
the model's cached environment (:mod:`cdk_mlops.local.environments`), then the workflows on the local
engine in pipeline order, exactly as a dry run of the ``release`` (or, for a batch model, ``batch``)
scenario runs them (:mod:`cdk_mlops.local.release`, :mod:`cdk_mlops.local.batch`), except that every
SageMaker job runs for real (:class:`cdk_mlops.local.jobs.LocalJobRunner`) on the model's sample data
and the packaged ``src/``, and the staging endpoint serves the model package its stack was updated to.

What it prints: a line per state and job as they start and end, then the quality gate (each metric,
its value, its threshold, pass or fail) and the outcome: ``registered <package ARN>``, ``rejected:
...`` or ``failed at <state>: <reason>``. :func:`run_model` returns 0 only when the release succeeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
import shutil
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from cdk_mlops.config.loader import ModelConfigError, find_model_files, load_model_config
from cdk_mlops.config.model_config import BatchConfig, ModelConfig
from cdk_mlops.constructs.workflow_context import data_prefix_of
from cdk_mlops.local.champion import champion_table
from cdk_mlops.local.preflight import BATCH_INPUT_FOLDER, SAMPLE_DATA_FOLDER, SOURCE_FOLDER, PreflightError

__all__ = ["GateDecision", "JobRecord", "RunReport", "StateRecord", "find_model", "run_model"]

#: Exit codes: the release succeeded, it did not, the model cannot run (unknown, pre-flight, environment).
SUCCEEDED, FAILED, UNRUNNABLE = 0, 1, 2
#: The build id the run's code is "packaged" under (``<model>/source/<id>/``), as a pipeline execution's.
BUILD_ID = "local-run"
#: A wall-clock limit for one workflow execution (real jobs run inside it).
EXECUTION_TIMEOUT_SECONDS = 3600.0


@dataclasses.dataclass(frozen=True)
class StateRecord:
    """One state a workflow entered: its workflow (``training``, ``smoke_test``, ...), name, start
    (seconds since the run started), duration, and whether it failed."""

    stage: str
    name: str
    started: float
    seconds: float | None
    failed: bool = False


@dataclasses.dataclass(frozen=True)
class JobRecord:
    """One SageMaker job run for real: kind, name, status, duration, its log file, its final metrics
    (training) and its ``FailureReason`` (failed jobs)."""

    kind: str
    name: str
    status: str
    seconds: float
    log_path: str | None
    metrics: Mapping[str, float]
    failure_reason: str | None


@dataclasses.dataclass(frozen=True)
class GateDecision:
    """One quality-gate rule of the synthesized workflow: the metric, the value the run produced (None:
    missing), the threshold, the comparison and whether it passed."""

    metric: str
    value: float | None
    threshold: float
    comparison: str
    passed: bool


@dataclasses.dataclass
class RunReport:
    """Everything ``cdk-mlops run`` found out; :meth:`to_json` is what ``--report`` writes."""

    model: str
    outcome: str
    succeeded: bool
    states: list[StateRecord] = dataclasses.field(default_factory=list)
    jobs: list[JobRecord] = dataclasses.field(default_factory=list)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    gates: list[GateDecision] = dataclasses.field(default_factory=list)
    notifications: list[dict[str, str]] = dataclasses.field(default_factory=list)
    split: dict[str, float] = dataclasses.field(default_factory=dict)
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)
    workspace: str | None = None
    exit_code: int = FAILED

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        return {
            "model": self.model,
            "outcome": self.outcome,
            "succeeded": self.succeeded,
            "exit_code": self.exit_code,
            "states": [dataclasses.asdict(state) for state in self.states],
            "jobs": [dataclasses.asdict(job) for job in self.jobs],
            "metrics": self.metrics,
            "gates": [dataclasses.asdict(gate) for gate in self.gates],
            "notifications": self.notifications,
            "split_seconds": self.split,
            "environment": self.environment,
            "workspace": self.workspace,
        }


def find_model(models_dir: Path | str, model: str) -> tuple[Path, ModelConfig]:
    """The folder and configuration of the model named ``model`` in ``models_dir``. Raises
    :class:`ModelConfigError` when its model.yaml is invalid, :class:`LookupError` when there is none."""
    for path in find_model_files(models_dir):
        try:
            config = load_model_config(path)
        except ModelConfigError:
            if path.parent.name == model:
                raise
            continue
        if config.name == model:
            return path.parent, config
    raise LookupError(f"unknown model {model!r} in {models_dir}")


# -- seeding the local AWS -------------------------------------------------------------------------


def _artifact_bucket(training: Any) -> str:
    """The artifact bucket, from the ``source_dir`` the training workflow's ``Initialize`` computes."""
    for state in training.states.values():
        text = json.dumps(state.get("Parameters", {}))
        marker = text.find("/source/{}/sourcedir.tar.gz")
        if marker != -1:
            start = text.rfind("s3://", 0, marker)
            return text[start + len("s3://") : marker].split("/", 1)[0]
    raise ValueError(f"{training.logical_id}: no state computes the source directory (Initialize)")


def _sourcedir(source: Path) -> bytes:
    """``src/`` as the build stage packs it (``tar -czf sourcedir.tar.gz -C src .``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.add(path, arcname=str(path.relative_to(source)))
    return buffer.getvalue()


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []


def seed(engine: Any, model_dir: Path, config: ModelConfig, artifact_bucket: str, today: datetime.date) -> None:
    """Puts what the build stage and the data producers would have put in S3: the packaged code under
    ``<model>/source/<build>/`` and the sample data at the model's data prefix (a batch model's sample
    input at its ``batch.input_prefix``, in ``today``'s partition when it is date-partitioned)."""
    source = model_dir / SOURCE_FOLDER
    code = f"{config.name}/source/{BUILD_ID}/"
    engine.s3_put_object(artifact_bucket, f"{code}sourcedir.tar.gz", _sourcedir(source))
    for path in _files(source):
        if "__pycache__" not in path.parts:
            engine.s3_put_object(artifact_bucket, f"{code}src/{path.relative_to(source).as_posix()}", path.read_bytes())
    data_bucket = config.data.bucket or artifact_bucket
    prefix = data_prefix_of(config.name, config.data.prefix)
    sample = model_dir / SAMPLE_DATA_FOLDER
    batch = config.batch or BatchConfig()
    input_prefix, _ = batch.prefixes(config.name)
    if batch.date_partition:
        input_prefix += f"{today.isoformat()}/"
    for path in _files(sample):
        relative = path.relative_to(sample)
        if relative.parts[0] == BATCH_INPUT_FOLDER:
            key = input_prefix + Path(*relative.parts[1:]).as_posix()
        else:
            key = prefix + relative.as_posix()
        engine.s3_put_object(data_bucket, key, path.read_bytes())


class _PackageContainers:
    """A SageMaker client whose ``DescribeModel`` gives, for a container made from a model package
    (``{"ModelPackageName": ...}``, as the batch transform workflow creates its model), that package's
    inference container (image, model data, environment; the model's own environment on top): what
    SageMaker runs for such a model. moto keeps only the package's name. Everything else is the client's."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def describe_model(self, **kwargs: Any) -> dict[str, Any]:
        """``DescribeModel``, with package containers resolved."""
        model = dict(self._client.describe_model(**kwargs))
        if model.get("PrimaryContainer"):
            model["PrimaryContainer"] = self._resolved(model["PrimaryContainer"])
        if model.get("Containers"):
            model["Containers"] = [self._resolved(container) for container in model["Containers"]]
        return model

    def _resolved(self, container: Mapping[str, Any]) -> dict[str, Any]:
        package = container.get("ModelPackageName")
        if not package:
            return dict(container)
        described = self._client.describe_model_package(ModelPackageName=package)
        served = dict(described["InferenceSpecification"]["Containers"][0])
        environment = {**served.get("Environment", {}), **container.get("Environment", {})}
        own = {
            key: value for key, value in container.items() if value and key not in ("Environment", "ModelPackageName")
        }
        return {**served, **own, "Environment": environment}


class _RunnerView:
    """The engine as :class:`~cdk_mlops.local.jobs.LocalJobRunner` sees it: its script and clients, the
    SageMaker one resolving package containers (:class:`_PackageContainers`)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    @property
    def sagemaker(self) -> Any:
        """The engine's SageMaker script."""
        return self._engine.sagemaker

    def client(self, service: str, account: str | None = None, region: str | None = None) -> Any:
        """The engine's client for ``service``."""
        client = self._engine.client(service, account, region)
        return _PackageContainers(client) if service == "sagemaker" else client


def _warm_before_smoke_test(engine: Any, smoke_test: Any, invoke: Callable[..., Any]) -> None:
    """Registers the smoke test's real handler behind one untimed request to the endpoint first: on
    SageMaker an endpoint is InService only once its container is up, so the handler's latency limit
    must not count the local model worker's start (seconds, for importing the framework)."""
    from cdk_mlops.lambda_code import load_handler
    from cdk_mlops.local.release import lambda_functions  # the functions the release registered

    handler = load_handler("smoke_test", "cdk_mlops_local_run_smoke_test_handler")
    handler.reset_clients()

    def warm_then_test(event: Any, context: Any) -> Any:
        stacks = engine.client("cloudformation").describe_stacks(StackName=str(event.get("StackName")))["Stacks"]
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
        endpoint = event.get("EndpointName") or outputs.get(event.get("EndpointOutputKey", "EndpointName"))
        if endpoint:
            payload = str(event.get("Payload", "")).encode()
            with contextlib.suppress(Exception):  # a model that cannot answer fails the real test below
                invoke(str(endpoint), payload, event.get("ContentType"), event.get("Accept"))
        return handler.handler(event, context)

    for function in lambda_functions(smoke_test):
        engine.register_lambda(function, warm_then_test)


def _endpoint_resolver(engine: Any) -> Callable[[str], Mapping[str, Any]]:
    """``endpoint name -> container``: the container of the model package that the stack whose
    ``EndpointName`` output is that endpoint was last updated to (its ``ModelPackageArn``)."""

    def resolve(endpoint_name: str) -> Mapping[str, Any]:
        cloudformation = engine.client("cloudformation")
        for stack in cloudformation.describe_stacks()["Stacks"]:
            outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
            if outputs.get("EndpointName") != endpoint_name:
                continue
            parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
            package = parameters.get("ModelPackageArn")
            if not package:
                raise LookupError(f"stack {stack['StackName']} serves no model package (ModelPackageArn is empty)")
            described = engine.client("sagemaker").describe_model_package(ModelPackageName=package)
            container: Mapping[str, Any] = described["InferenceSpecification"]["Containers"][0]
            return container
        raise LookupError(f"no endpoint stack outputs EndpointName {endpoint_name!r}")

    return resolve


# -- reading the results ---------------------------------------------------------------------------


def _states(stage: str, history: Sequence[Mapping[str, Any]], origin: datetime.datetime | None) -> list[StateRecord]:
    records: list[StateRecord] = []
    open_states: dict[str, tuple[int, datetime.datetime | None]] = {}
    failed: set[str] = set()
    current: str | None = None
    for event in history:
        kind = str(event["type"])
        stamp = event.get("timestamp")
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            current = name
            started = (stamp - origin).total_seconds() if origin and stamp else 0.0
            open_states[name] = (len(records), stamp)
            records.append(StateRecord(stage, name, started, None))
        elif (kind == "TaskFailed" or (kind == "ExecutionFailed" and not failed)) and current is not None:
            failed.add(current)
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in open_states:
                index, entered = open_states.pop(name)
                seconds = (stamp - entered).total_seconds() if stamp and entered else None
                records[index] = dataclasses.replace(records[index], seconds=seconds, failed=name in failed)
    return [dataclasses.replace(record, failed=True) if record.name in failed else record for record in records]


def _evaluation(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The last ``$.evaluation`` a state of the training workflow output (its ``metrics``)."""
    found: dict[str, Any] = {}
    for event in history:
        details = event.get("stateExitedEventDetails")
        if not details or not details.get("output"):
            continue
        try:
            output = json.loads(details["output"])
        except ValueError:
            continue
        if isinstance(output, dict) and isinstance(output.get("evaluation"), dict):
            found = output["evaluation"]
    metrics = found.get("metrics", {})
    return metrics if isinstance(metrics, dict) else {}


def _lookup(metrics: Mapping[str, Any], path: str) -> float | None:
    value: Any = metrics
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if isinstance(value, list):
        value = value[0] if value else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def gate_decisions(training: Any, metrics: Mapping[str, Any]) -> list[GateDecision]:
    """Each quality-gate Choice of the synthesized training workflow, decided on ``metrics``."""
    from cdk_mlops.local.harness import gate_metrics, training_metric_names  # as dry-run's scenarios read them

    names = training_metric_names(training)  # validation_auc -> validation:auc, for gates on training metrics
    decisions = []
    for path, threshold, direction in gate_metrics(training):
        value = _lookup(metrics, path)
        passed = value is not None and (value >= threshold if direction > 0 else value <= threshold)
        decisions.append(GateDecision(names.get(path, path), value, threshold, ">=" if direction > 0 else "<=", passed))
    return decisions


def _failure(stage: str, execution: Any, jobs: Sequence[JobRecord], notifications: Sequence[Any]) -> str:
    """``failed at <stage>/<state>: <reason>`` for a failed execution, on one line. The state is the
    first whose task failed (else the Fail state it ended in); the reason is the failed job's
    ``FailureReason`` when a job failed, else the workflow's last notification (what the team would
    read), else the execution's error and cause."""
    records = _states(stage, execution.history, None)
    state = next(
        (record.name for record in records if record.failed),
        execution.states_entered[-1] if execution.states_entered else "?",
    )
    failed_jobs = [job for job in jobs if job.status == "Failed"]
    sent = [n.message for n in notifications if getattr(n, "execution_arn", None) == execution.execution_arn]
    if failed_jobs:
        reason = str(failed_jobs[-1].failure_reason)
    elif sent:
        reason = str(sent[-1])
    else:
        reason = f"{execution.error}: {_short_cause(execution.cause)}" if execution.cause else str(execution.error)
    return f"failed at {stage}/{state}: {' '.join(reason.split())}"


def _short_cause(cause: str, limit: int = 400) -> str:
    """A failure's cause in one line: a Lambda error's ``errorType: errorMessage``, a job's
    ``FailureReason``, else the text, cut at ``limit`` characters."""
    text = cause
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        if "errorMessage" in parsed:
            text = f"{parsed.get('errorType', 'Error')}: {parsed['errorMessage']}"
        elif "FailureReason" in parsed:
            text = str(parsed["FailureReason"])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _outcome(
    stages: Sequence[str],
    executions: Mapping[str, Any],
    gates: Sequence[GateDecision],
    jobs: Sequence[JobRecord],
    notifications: Sequence[Any],
) -> str:
    training = executions.get("training")
    package = training.output.get("ModelPackageArn") if training is not None and training.succeeded else None
    if training is not None and not training.succeeded and training.error == "QualityGateRejected":
        failing = [gate for gate in gates if not gate.passed]
        reasons = ", ".join(
            f"{gate.metric} {'missing' if gate.value is None else f'{gate.value:.4g}'} "
            f"(needs {gate.comparison} {gate.threshold:g})"
            for gate in failing
        )
        return f"rejected: {reasons or training.cause}"
    for stage in stages:
        run = executions.get(stage)
        if run is not None and not run.succeeded:
            return _failure(stage, run, jobs, notifications)
    return f"registered {package}" if package else "failed: nothing was registered"


# -- printing --------------------------------------------------------------------------------------


def _table(gates: Sequence[GateDecision]) -> list[str]:
    if not gates:
        return ["Quality gate: (no rules)"]
    width = max(len("metric"), *(len(gate.metric) for gate in gates))
    lines = ["Quality gate:", f"  {'metric':<{width}}  {'value':>8}  {'threshold':>11}  result"]
    for gate in gates:
        value = "missing" if gate.value is None else f"{gate.value:.4f}"
        lines.append(
            f"  {gate.metric:<{width}}  {value:>8}  {gate.comparison + ' ' + f'{gate.threshold:g}':>11}  "
            f"{'pass' if gate.passed else 'FAIL'}"
        )
    return lines


class _Progress:
    """Prints a line when a state starts and when it ends (with its duration), per workflow."""

    def __init__(self, emit: Callable[[str], None], origin: float) -> None:
        self.emit = emit
        self.origin = origin
        self.entered: dict[tuple[str, str], float] = {}
        self.stage: str | None = None

    def __call__(self, stage: str, event: Mapping[str, Any]) -> None:
        kind = str(event.get("type", ""))
        now = time.perf_counter()
        if stage != self.stage:
            self.stage = stage
            self.emit(f"[{stage}]")
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            self.entered[(stage, name)] = now
            self.emit(f"  {now - self.origin:7.2f} s  start {name}")
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            took = now - self.entered.pop((stage, name), now)
            self.emit(f"  {now - self.origin:7.2f} s  end   {name} ({took:.2f} s)")
        elif kind in ("TaskFailed", "ExecutionFailed"):
            details = event.get("taskFailedEventDetails") or event.get("executionFailedEventDetails") or {}
            self.emit(f"  {now - self.origin:7.2f} s  {kind} {details.get('error', '')}")


# -- the run ---------------------------------------------------------------------------------------


def run_model(
    model: str,
    *,
    models_dir: Path | str = "models",
    keep: bool = False,
    report: Path | str | None = None,
    out: TextIO | None = None,
    cache_dir: Path | str | None = None,
    workspace: Path | str | None = None,
    max_tuning_jobs: int = 3,
) -> RunReport:
    """Runs ``model`` of ``models_dir`` for real (see the module docstring) and returns its report;
    ``report.exit_code`` is 0 when the release succeeded, 1 when it did not, 2 when the model cannot run
    (unknown, a pre-flight problem, an environment that cannot be built).

    ``keep`` keeps the workspace (each job's folder and ``output.log``; default: deleted at the end);
    ``report`` writes :meth:`RunReport.to_json` there; ``out`` receives the progress (default stdout);
    ``cache_dir`` holds the environments (default :func:`~cdk_mlops.local.environments.default_cache_dir`);
    ``workspace`` is where jobs run (default: a new temporary folder); a tuning job runs at most
    ``max_tuning_jobs`` real trials (default 3, see :mod:`cdk_mlops.local.jobs.tuning`)."""
    stream = out or sys.stdout
    started = time.perf_counter()

    def emit(text: str) -> None:
        print(text, file=stream, flush=True)

    result = _run(model, Path(models_dir), keep, cache_dir, workspace, emit, started, max_tuning_jobs)
    if report is not None:
        Path(report).write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    return result


def _unrunnable(model: str, reason: str, emit: Callable[[str], None]) -> RunReport:
    emit(f"error: {reason}")
    return RunReport(model, f"not run: {reason}", False, exit_code=UNRUNNABLE)


def _run(
    model: str,
    models_dir: Path,
    keep: bool,
    cache_dir: Path | str | None,
    workspace: Path | str | None,
    emit: Callable[[str], None],
    started: float,
    max_tuning_jobs: int = 3,
) -> RunReport:
    from cdk_mlops.commands.preflight import unknown_model
    from cdk_mlops.local.preflight import raise_for_problems

    problem = unknown_model(models_dir, model)
    if problem is not None:
        return _unrunnable(model, problem, emit)
    try:
        model_dir, config = find_model(models_dir, model)
        raise_for_problems(model_dir, config)
    except (ModelConfigError, LookupError) as error:
        return _unrunnable(model, str(error), emit)
    except PreflightError as error:
        return _unrunnable(model, f"{model} cannot run:\n" + "\n".join(f"  {p}" for p in error.problems), emit)

    from cdk_mlops.local.environments import EnvironmentBuildError, ensure_environment
    from cdk_mlops.local.harness import synthesize_workflows

    split: dict[str, float] = {}
    emit(f"Synthesizing {models_dir} ...")
    mark = time.perf_counter()
    workflows = synthesize_workflows(models_dir, model)[model]
    split["synthesis"] = time.perf_counter() - mark
    emit(f"  {split['synthesis']:.2f} s")
    emit(f"Environment for {model} ({config.framework.name} {config.framework.version}) ...")
    try:
        environment = ensure_environment(
            model_dir, config.framework.name, config.framework.version, cache_dir=cache_dir
        )
    except EnvironmentBuildError as error:
        return _unrunnable(model, str(error), emit)
    split["environment"] = environment.seconds
    emit(f"  {'built' if environment.built else 'cached'} {environment.python} ({environment.seconds:.2f} s)")
    for note in environment.notes:
        emit(f"  note: {note}")

    root = Path(workspace) if workspace is not None else Path(tempfile.mkdtemp(prefix=f"cdk-mlops-run-{model}-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        result = _execute(
            model, models_dir, model_dir, config, workflows, environment.python, root, emit, split, max_tuning_jobs
        )
    finally:
        if keep:
            emit(f"Job output kept in {root}")
        elif workspace is None:
            shutil.rmtree(root, ignore_errors=True)
    result.environment = {
        "python": str(environment.python),
        "key": environment.key,
        "built": environment.built,
        "notes": environment.notes,
    }
    result.workspace = str(root) if keep or workspace is not None else None
    split["total"] = time.perf_counter() - started
    emit(f"Time: {', '.join(f'{name} {seconds:.2f} s' for name, seconds in split.items())}")
    return result


def _execute(
    model: str,
    models_dir: Path,
    model_dir: Path,
    config: ModelConfig,
    workflows: Mapping[str, Any],
    python: Path,
    workspace: Path,
    emit: Callable[[str], None],
    split: dict[str, float],
    max_tuning_jobs: int = 3,
) -> RunReport:
    from cdk_mlops.local.batch import BATCH_STAGES, run_batch_scenario
    from cdk_mlops.local.engine import LocalEngine
    from cdk_mlops.local.jobs import LocalJobRunner
    from cdk_mlops.local.release import STAGES, run_release_scenario

    batch = "batch_transform" in workflows
    stages = BATCH_STAGES if batch else STAGES
    serving = {"seconds": 0.0}

    def job_line(line: str) -> None:
        if not line.startswith("["):  # the runner's start and end lines; a job's own output goes to its log
            emit(f"    {line}")

    engine = LocalEngine(execution_timeout_seconds=EXECUTION_TIMEOUT_SECONDS)
    runner = LocalJobRunner(python=python, workspace=workspace, on_line=job_line)

    def prepare(engine: Any, training: Any) -> tuple[str, dict[str, Any]]:
        runner.install(_RunnerView(engine))
        runner.resolve_endpoints_with(_endpoint_resolver(engine))
        engine.sagemaker.limit_tuning_jobs(max_tuning_jobs)  # real trials of a tuning job

        def invoke(endpoint: str, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
            mark = time.perf_counter()
            try:
                return runner.invoke(endpoint, body, content_type, accept)
            finally:
                serving["seconds"] += time.perf_counter() - mark

        engine.sagemaker.use_endpoint_invoker(invoke)
        if "smoke_test" in workflows:
            _warm_before_smoke_test(engine, workflows["smoke_test"], invoke)
        engine.client("sagemaker").create_model_package_group(ModelPackageGroupName=model)
        seed(engine, model_dir, config, _artifact_bucket(training), datetime.datetime.now(datetime.timezone.utc).date())
        return f"local-{uuid.uuid4().hex[:8]}", {"PipelineExecutionId": BUILD_ID}

    origin = time.perf_counter()
    progress = _Progress(emit, origin)
    label = "batch" if batch else "release"
    emit(f"Running {model} ({label}: {', '.join(stages)}), jobs for real in {workspace}")
    with runner:
        if batch:
            run: Any = run_batch_scenario(
                model, "batch", models_dir=str(models_dir), on_event=progress, engine=engine, prepare=prepare
            )
        else:
            run = run_release_scenario(
                model, "release", models_dir=str(models_dir), on_event=progress, engine=engine, prepare=prepare
            )
    executions = run.executions
    jobs = [
        JobRecord(
            job.kind.value,
            job.name,
            job.status,
            job.seconds,
            str(job.log_path) if job.log_path else None,
            dict(job.metrics),
            job.failure_reason,
        )
        for job in runner.runs
    ]
    first: Sequence[Mapping[str, Any]] = next((executions[s].history for s in stages if s in executions), [])
    states = [
        record
        for stage in stages
        if stage in executions
        for record in _states(stage, executions[stage].history, _first_stamp(first))
    ]
    training = executions.get("training")
    metrics = _evaluation(training.history) if training is not None else {}
    gates = gate_decisions(workflows["training"], metrics)
    outcome = _outcome(stages, executions, gates, jobs, run.notifications)
    job_seconds = sum(job.seconds for job in jobs)
    executing = sum(_duration(execution.history) for execution in executions.values())
    split["setup"] = max(run.wall_seconds - executing, 0.0)
    split.update({f"job {job.name}": job.seconds for job in jobs})
    split["serving"] = serving["seconds"]
    overhead = max(executing - job_seconds - serving["seconds"], 0.0)
    split["engine"] = overhead
    split["engine per state"] = overhead / max(len(states), 1)

    emit("")
    for stage in stages:
        execution = executions.get(stage)
        emit(f"{stage:<18} {execution.status if execution else 'not run'}")
    for job in jobs:
        emit(f"job {job.name}: {job.status} ({job.seconds:.2f} s) log {job.log_path}")
    for line in _table(gates):
        emit(line)
    if training is not None:  # candidate vs champion, for models with champion rules
        for line in champion_table(workflows["training"].states, training.history):
            emit(line)
    for notification in run.notifications:
        emit(f"Notification [{notification.subject}] {notification.message}")
    emit(f"Outcome: {outcome}")
    succeeded = bool(run.succeeded)
    return RunReport(
        model,
        outcome,
        succeeded,
        states,
        jobs,
        metrics,
        gates,
        [{"subject": str(n.subject), "message": str(n.message)} for n in run.notifications],
        split,
        exit_code=SUCCEEDED if succeeded else FAILED,
    )


def _duration(history: Sequence[Mapping[str, Any]]) -> float:
    """Seconds from an execution's first history event to its last."""
    stamps = [event["timestamp"] for event in history if isinstance(event.get("timestamp"), datetime.datetime)]
    return (stamps[-1] - stamps[0]).total_seconds() if stamps else 0.0


def _first_stamp(history: Sequence[Mapping[str, Any]]) -> datetime.datetime | None:
    stamp = history[0].get("timestamp") if history else None
    return stamp if isinstance(stamp, datetime.datetime) else None
