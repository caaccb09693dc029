"""Run Amazon States Language state machines offline, with scripted SageMaker outcomes.

:class:`LocalEngine` starts moto (``mock_aws`` with ``execute_state_machine``), extends moto's Step
Functions interpreter (see :mod:`cdk_mlops.local.moto_patches`) and runs plain ASL JSON definitions
against moto's S3, SageMaker, SNS, CloudFormation and Step Functions, with Lambda tasks dispatched to
Python handlers in this process. No call can reach AWS: the engine sets fake credentials and a region,
hides profiles, config files and endpoint overrides, and restores the environment when it stops.

Example::

    with LocalEngine() as engine:
        engine.sagemaker.script_training_job(JobOutcome.completed({"validation:auc": 0.91}))
        engine.s3_put_json("my-bucket", "config.json", {"threshold": 0.8})
        engine.register_lambda("smoke-test", handler)
        result = engine.run(definition_json, input={"runId": "r1"})
        assert result.status == "SUCCEEDED", result.cause
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError

from cdk_mlops.local.scenario import JobKind, JobOutcome, JobRecord, SageMakerScript

if TYPE_CHECKING:
    from cdk_mlops.local.moto_patches import StepContext, WaitKind

__all__ = [
    "DEFAULT_REGION",
    "ExecutionResult",
    "ExecutionTimeoutError",
    "InjectedFault",
    "InvalidDefinitionError",
    "JobKind",
    "JobOutcome",
    "JobRecord",
    "LambdaContext",
    "LambdaHandler",
    "LambdaInvocation",
    "LocalEngine",
    "LocalEngineError",
    "Notification",
    "SageMakerScript",
    "StateFault",
    "WaitRecord",
    "check_transitions",
    "inject_faults",
    "summarize_event",
]

DEFAULT_REGION: Final = "eu-west-1"
DEFAULT_ACCOUNT_ID: Final = "123456789012"  # moto's account for any access key

#: A Lambda handler: ``handler(event, context) -> JSON-serialisable result``.
LambdaHandler = Callable[[Any, "LambdaContext"], Any]
#: Called with each raw history event (a ``GetExecutionHistory`` event dict) as it happens.
EventCallback = Callable[[dict[str, Any]], None]

_FAKE_ENVIRONMENT: Final[Mapping[str, str]] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
#: Variables that could make boto3 pick other credentials or send requests elsewhere.
_HIDDEN_VARIABLE_PREFIXES: Final = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS",
)


class LocalEngineError(RuntimeError):
    """The local engine could not run what it was asked to (not a failure of the state machine)."""


class InvalidDefinitionError(LocalEngineError):
    """The definition was rejected: by moto's parser, or because a transition names a missing state."""


class ExecutionTimeoutError(LocalEngineError):
    """An execution was still running after the engine's wall-clock limit; it has been stopped."""


@dataclasses.dataclass(frozen=True)
class Notification:
    """A message published by an ``sns:publish`` task."""

    topic_arn: str | None
    subject: str | None
    message: str
    message_attributes: Mapping[str, Any]
    state_name: str | None
    execution_arn: str

    def json(self) -> Any:
        """The message parsed as JSON (raises ``ValueError`` if it is plain text)."""
        return json.loads(self.message)


@dataclasses.dataclass(frozen=True)
class WaitRecord:
    """A wait the state machine asked for: a ``Wait`` state or the interval before a ``Retry``."""

    kind: WaitKind
    seconds: float
    state_name: str | None
    execution_arn: str


@dataclasses.dataclass(frozen=True)
class StateFault:
    """A scripted failure of one Task state, without touching the state machine.

    The next time a Task state named ``state_name`` is entered (in the state machine named
    ``state_machine``, default: any), every attempt of it fails with ``error`` and ``cause`` before the
    task calls anything: the history shows ``TaskFailed``, a matching ``Retry`` is used up, and the
    state's ``Catch`` (or the execution's failure) follows, as when the service call itself fails.
    ``error`` defaults to ``States.TaskFailed``, which a ``Catch`` on ``States.ALL`` or
    ``States.TaskFailed`` takes.
    """

    state_name: str
    error: str = "States.TaskFailed"
    cause: str = "injected by LocalEngine.fail_state"
    state_machine: str | None = None

    def matches(self, state_machine: str, state_name: str) -> bool:
        """True if this fault is for ``state_name`` of ``state_machine``."""
        return self.state_name == state_name and self.state_machine in (None, state_machine)


@dataclasses.dataclass(frozen=True)
class InjectedFault:
    """A :class:`StateFault` that took effect: the execution and state it failed."""

    fault: StateFault
    execution_arn: str


_AMBIENT_FAULTS: list[StateFault] = []
_AMBIENT_LOCK = threading.Lock()


@contextlib.contextmanager
def inject_faults(*faults: StateFault) -> Iterator[None]:
    """Every :class:`LocalEngine` started inside the block begins with ``faults`` scheduled, as if
    :meth:`LocalEngine.fail_state` had been called on it: for scenario runners that start their own
    engine (``run_release_scenario``, ``run_training_scenario``...)."""
    with _AMBIENT_LOCK:
        _AMBIENT_FAULTS.extend(faults)
    try:
        yield
    finally:
        with _AMBIENT_LOCK:
            for fault in faults:
                _AMBIENT_FAULTS.remove(fault)


@dataclasses.dataclass(frozen=True)
class LambdaInvocation:
    """One call of a registered Lambda handler, with its event and its result or error type."""

    function_name: str
    event: Any
    result: Any
    error_type: str | None
    state_name: str | None
    execution_arn: str


@dataclasses.dataclass(frozen=True)
class LambdaContext:
    """The ``context`` argument given to Lambda handlers (the commonly used attributes of AWS's)."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        """Always 15 minutes: local handlers are not timed."""
        return 900_000


@dataclasses.dataclass(frozen=True)
class ExecutionResult:
    """The end state of one execution, with its history.

    ``output`` is the parsed JSON output (``None`` unless ``SUCCEEDED``); ``error`` and ``cause`` are set
    when the execution ``FAILED``. ``history`` holds the raw ``GetExecutionHistory`` events in order.
    """

    execution_arn: str
    name: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: Sequence[dict[str, Any]]
    waits: Sequence[WaitRecord]

    @property
    def succeeded(self) -> bool:
        """True if the execution ended ``SUCCEEDED``."""
        return self.status == "SUCCEEDED"

    @property
    def states_entered(self) -> list[str]:
        """Names of the states entered, in order (a state retried inside a Task counts once)."""
        names: list[str] = []
        for event in self.history:
            if event["type"].endswith("StateEntered"):
                names.append(event["stateEnteredEventDetails"]["name"])
        return names

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """History events of one type, e.g. ``"TaskFailed"``."""
        return [event for event in self.history if event["type"] == event_type]

    def cause_json(self) -> Any:
        """The execution's ``cause`` parsed as JSON (for causes that are JSON, like a failed job's)."""
        if self.cause is None:
            raise ValueError("the execution has no cause")
        return json.loads(self.cause)


def summarize_event(event: Mapping[str, Any]) -> str:
    """A one-line description of a history event, for progress output.

    >>> summarize_event({"id": 2, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Train"}})
    '#2 TaskStateEntered Train'
    """
    text = f"#{event.get('id', '?')} {event.get('type', '?')}"
    for key, details in event.items():
        if not key.endswith("EventDetails") or not isinstance(details, Mapping):
            continue
        if "name" in details:
            text += f" {details['name']}"
        if details.get("error"):
            text += f" error={details['error']}"
        if details.get("resource"):
            text += f" resource={details.get('resourceType', '')}:{details['resource']}"
    return text


@contextlib.contextmanager
def _logger_level(name: str, level: int) -> Iterator[None]:
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def check_transitions(definition: str | Mapping[str, Any]) -> None:
    """Raises :class:`InvalidDefinitionError` if ``StartAt`` or a transition names a missing state.

    AWS rejects such a definition at creation; moto accepts it and fails (or not) at run time. Nested
    ``Parallel`` branches and ``Map`` processors are checked against their own states.
    """
    try:
        document = json.loads(definition) if isinstance(definition, str) else definition
    except ValueError as error:
        raise InvalidDefinitionError(f"the definition is not JSON: {error}") from error
    problems: list[str] = []
    _check_container(document, "", problems)
    if problems:
        raise InvalidDefinitionError("; ".join(problems))


def _check_container(container: Any, where: str, problems: list[str]) -> None:
    if not isinstance(container, Mapping) or not isinstance(container.get("States"), Mapping):
        problems.append(f"{where or 'the definition'} has no States object")
        return
    states: Mapping[str, Any] = container["States"]
    if container.get("StartAt") not in states:
        problems.append(f"{where}StartAt names a missing state {container.get('StartAt')!r}")
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        targets = [("Next", state.get("Next")), ("Default", state.get("Default"))]
        targets += [(f"Choices[{i}].Next", c.get("Next")) for i, c in enumerate(state.get("Choices", []))]
        targets += [(f"Catch[{i}].Next", c.get("Next")) for i, c in enumerate(state.get("Catch", []))]
        for field, target in targets:
            if target is not None and target not in states:
                problems.append(f"{where}{name}.{field} names a missing state {target!r}")
        for index, branch in enumerate(state.get("Branches", [])):
            _check_container(branch, f"{where}{name}.Branches[{index}].", problems)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                _check_container(state[key], f"{where}{name}.{key}.", problems)


@functools.cache
def _boto_session() -> boto3.session.Session:
    """One session for the engines' clients: creating a session reloads botocore's data files (slow)."""
    return boto3.session.Session()


def _function_key(function_name: str) -> str:
    """``arn:aws:lambda:r:a:function:fn[:alias]``, ``a:function:fn`` or ``fn[:alias]`` -> ``fn``."""
    if ":function:" in function_name:
        return function_name.split(":function:", 1)[1].split(":", 1)[0]
    if function_name.startswith("arn:"):
        return function_name
    return function_name.split(":", 1)[0]


class LocalEngine:
    """Runs ASL definitions under moto's Step Functions interpreter, offline and fast.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`). Script SageMaker through
    :attr:`sagemaker`, seed data with :meth:`s3_put_json`, register Lambda handlers with
    :meth:`register_lambda`, then :meth:`run` definitions. Waits and retry intervals are recorded in
    :attr:`waits` and slept for ``time_scale`` times their length (default: not at all).

    Only one engine can run at a time in a process (the interpreter patches are process-wide).

    :param region: the region of every client and of the executions.
    :param time_scale: fraction of each requested wait really slept (0 = instant, 1 = real time).
    :param poll_interval_seconds: pause between ``Describe*Job`` polls of a ``.sync`` task.
    :param strict_choice_paths: a Choice comparison on a missing path fails with ``States.Runtime``,
        as on AWS (``IsPresent`` excepted). moto alone treats it as false.
    :param sns_require_topics: ``sns:publish`` to a topic moto does not know fails with
        ``SNS.NotFoundException`` (as on AWS); by default the message is captured and succeeds.
    :param execution_timeout_seconds: wall-clock limit for one :meth:`run`.
    :param interpreter_log_level: level of moto's interpreter loggers while the engine runs (they log
        every state failure at ERROR, which the execution result already reports); ``None`` leaves it.
    """

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        time_scale: float = 0.0,
        poll_interval_seconds: float = 0.001,
        strict_choice_paths: bool = True,
        sns_require_topics: bool = False,
        execution_timeout_seconds: float = 60.0,
        interpreter_log_level: int | None = logging.CRITICAL,
    ) -> None:
        if time_scale < 0 or poll_interval_seconds < 0:
            raise ValueError("time_scale and poll_interval_seconds must not be negative")
        self.region = region
        self.time_scale = time_scale
        self._poll_interval_seconds = poll_interval_seconds
        self._strict_choice_paths = strict_choice_paths
        self._sns_require_topics = sns_require_topics
        self.execution_timeout_seconds = execution_timeout_seconds
        self._interpreter_log_level = interpreter_log_level
        self._script = SageMakerScript()
        self._lock = threading.Lock()
        self._lambdas: dict[str, LambdaHandler] = {}
        self._notifications: list[Notification] = []
        self._assumed_roles: list[str] = []
        self._waits: list[WaitRecord] = []
        self._invocations: list[LambdaInvocation] = []
        self._faults: list[StateFault] = []
        self._active_faults: dict[tuple[str, str], StateFault] = {}
        self._injected: list[InjectedFault] = []
        self._clients: dict[tuple[str, str | None, str | None], Any] = {}
        self._stack: contextlib.ExitStack | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalEngine:
        """Sets the fake AWS environment, starts moto and patches its interpreter."""
        if self._stack is not None:
            raise LocalEngineError("this LocalEngine is already running")
        from moto import mock_aws

        from cdk_mlops.local import moto_patches

        if moto_patches.installed():
            raise LocalEngineError("another LocalEngine is running in this process; stop it first")
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(self._fake_environment())
            if self._interpreter_log_level is not None:
                stack.enter_context(_logger_level("moto.stepfunctions.parser", self._interpreter_log_level))
            stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
            stack.enter_context(moto_patches.install(self))
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        with _AMBIENT_LOCK:
            self._faults.extend(_AMBIENT_FAULTS)
        return self

    def stop(self) -> None:
        """Stops moto (its data is discarded), removes the patches and restores the environment."""
        stack, self._stack = self._stack, None
        self._clients.clear()
        if stack is not None:
            stack.close()

    def __enter__(self) -> LocalEngine:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._stack is not None

    @contextlib.contextmanager
    def _fake_environment(self) -> Iterator[None]:
        fake = {**_FAKE_ENVIRONMENT, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        hidden = [name for name in os.environ if name.startswith(_HIDDEN_VARIABLE_PREFIXES)]
        saved = {name: os.environ.get(name) for name in [*fake, *hidden]}
        try:
            for name in hidden:
                del os.environ[name]
            os.environ.update(fake)
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _require_running(self) -> None:
        if self._stack is None:
            raise LocalEngineError("the LocalEngine is not running: use 'with LocalEngine() as engine:'")

    # -- scripting and seeding -------------------------------------------------------------------

    @property
    def sagemaker(self) -> SageMakerScript:
        """Scripted SageMaker job outcomes and API faults, and the log of SageMaker calls."""
        return self._script

    def fail_state(
        self,
        state_name: str,
        *,
        error: str = "States.TaskFailed",
        cause: str = "injected by LocalEngine.fail_state",
        state_machine: str | None = None,
    ) -> None:
        """The next entry of Task state ``state_name`` (of state machine ``state_machine``, default: any)
        fails with ``error`` and ``cause`` on every attempt (see :class:`StateFault`). Faults are used in
        the order they were scheduled; :attr:`injected_faults` lists those that took effect."""
        if not state_name:
            raise ValueError("fail_state needs the name of a Task state")
        with self._lock:
            self._faults.append(StateFault(state_name, error, cause, state_machine))

    def register_lambda(self, function: str, handler: LambdaHandler) -> None:
        """Runs ``handler(event, context)`` for Lambda tasks on ``function`` (a name or any ARN of it)."""
        with self._lock:
            self._lambdas[_function_key(function)] = handler

    def client(self, service: str, account: str | None = None, region: str | None = None) -> Any:
        """A boto3 client for ``service`` on the engine's moto (only while the engine runs), in moto's
        default account or in ``account``, in the engine's region or in ``region``."""
        self._require_running()
        with self._lock:
            client = self._clients.get((service, account, region))
            if client is None:
                client = _boto_session().client(
                    service,
                    region_name=region or self.region,
                    aws_access_key_id=_FAKE_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=_FAKE_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=_FAKE_ENVIRONMENT["AWS_SESSION_TOKEN"],
                )
                if account is not None:
                    from cdk_mlops.local.moto_patches import in_account

                    in_account(client, account)
                self._clients[(service, account, region)] = client
        return client

    def s3_put_json(self, bucket: str, key: str, value: Any) -> None:
        """Stores ``value`` as JSON at ``s3://bucket/key``, creating the bucket if needed."""
        self.s3_put_object(bucket, key, json.dumps(value), content_type="application/json")

    def s3_put_object(self, bucket: str, key: str, body: str | bytes, *, content_type: str | None = None) -> None:
        """Stores ``body`` at ``s3://bucket/key``, creating the bucket if needed."""
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            self.s3_create_bucket(bucket)
        extra = {"ContentType": content_type} if content_type else {}
        s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)

    def s3_create_bucket(self, bucket: str, region: str | None = None) -> None:
        """Creates ``bucket`` in ``region`` (default: the engine's), which us-east-1 takes without a
        location constraint."""
        region = region or self.region
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        self.client("s3", region=None if region == self.region else region).create_bucket(Bucket=bucket, **location)

    def s3_get_json(self, bucket: str, key: str) -> Any:
        """Reads and parses the JSON object at ``s3://bucket/key``."""
        return json.loads(self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    def sagemaker_state(self) -> dict[str, Any]:
        """A snapshot of moto's SageMaker, for assertions.

        Keys: ``training_jobs``, ``processing_jobs``, ``transform_jobs`` and ``endpoints`` (name ->
        Describe* response), ``models`` and ``endpoint_configs`` (names), ``model_packages`` (ARN ->
        DescribeModelPackage response).
        """
        sm = self.client("sagemaker")
        state: dict[str, Any] = {}
        for section, list_call, summaries, name_key, describe in (
            ("training_jobs", "list_training_jobs", "TrainingJobSummaries", "TrainingJobName", "describe_training_job"),
            (
                "processing_jobs",
                "list_processing_jobs",
                "ProcessingJobSummaries",
                "ProcessingJobName",
                "describe_processing_job",
            ),
            (
                "transform_jobs",
                "list_transform_jobs",
                "TransformJobSummaries",
                "TransformJobName",
                "describe_transform_job",
            ),
            ("endpoints", "list_endpoints", "Endpoints", "EndpointName", "describe_endpoint"),
        ):
            names = [item[name_key] for item in getattr(sm, list_call)(MaxResults=100)[summaries]]
            state[section] = {name: self._strip(getattr(sm, describe)(**{name_key: name})) for name in names}
        state["models"] = [item["ModelName"] for item in sm.list_models(MaxResults=100)["Models"]]
        state["endpoint_configs"] = [
            item["EndpointConfigName"] for item in sm.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]
        ]
        state["model_packages"] = {}
        for group in sm.list_model_package_groups(MaxResults=100)["ModelPackageGroupSummaryList"]:
            packages = sm.list_model_packages(ModelPackageGroupName=group["ModelPackageGroupName"], MaxResults=100)
            for package in packages["ModelPackageSummaryList"]:
                arn = package["ModelPackageArn"]
                state["model_packages"][arn] = self._strip(sm.describe_model_package(ModelPackageName=arn))
        return state

    @staticmethod
    def _strip(response: dict[str, Any]) -> dict[str, Any]:
        response.pop("ResponseMetadata", None)
        return response

    # -- what happened ---------------------------------------------------------------------------

    @property
    def notifications(self) -> list[Notification]:
        """Every message published by ``sns:publish`` tasks, in order."""
        with self._lock:
            return list(self._notifications)

    @property
    def assumed_roles(self) -> list[str]:
        """The role of every task call made with ``Credentials`` (a role in another account), in order."""
        with self._lock:
            return list(self._assumed_roles)

    @property
    def waits(self) -> list[WaitRecord]:
        """Every wait requested (Wait states and Retry intervals), in order."""
        with self._lock:
            return list(self._waits)

    @property
    def injected_faults(self) -> list[InjectedFault]:
        """The scheduled :class:`StateFault` s that failed a state so far, in order."""
        with self._lock:
            return list(self._injected)

    @property
    def lambda_invocations(self) -> list[LambdaInvocation]:
        """Every call of a registered Lambda handler, in order."""
        with self._lock:
            return list(self._invocations)

    # -- running ---------------------------------------------------------------------------------

    def run(
        self,
        definition: str | Mapping[str, Any],
        input: Any = None,
        *,
        name: str | None = None,
        role_arn: str | None = None,
        state_machine_name: str | None = None,
        on_event: EventCallback | None = None,
    ) -> ExecutionResult:
        """Creates a state machine from ``definition`` (ASL JSON) and runs one execution to its end.

        ``input`` is JSON-serialised (default ``{}``). ``on_event`` is called with each history event
        while the execution runs. Raises :class:`ExecutionTimeoutError` if the execution outlives
        ``execution_timeout_seconds``; a failed execution is a result, not an exception.
        """
        self._require_running()
        definition_json = definition if isinstance(definition, str) else json.dumps(definition)
        check_transitions(definition_json)
        suffix = uuid.uuid4().hex[:12]
        sfn = self.client("stepfunctions")
        try:
            machine = sfn.create_state_machine(
                name=state_machine_name or f"local-{suffix}",
                definition=definition_json,
                roleArn=role_arn or f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/LocalStepFunctionsRole",
            )
        except ClientError as rejected:
            error = rejected.response.get("Error", {})
            if error.get("Code") not in {"", "InvalidDefinition", "ValidationException"}:
                raise
            raise InvalidDefinitionError(error.get("Message") or str(rejected)) from rejected
        execution_name = name or f"exec-{suffix}"
        execution_arn = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"],
            name=execution_name,
            input=json.dumps({} if input is None else input),
        )["executionArn"]

        deadline = time.monotonic() + self.execution_timeout_seconds
        seen = 0
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if on_event is not None:
                seen = self._emit(sfn, execution_arn, seen, on_event)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                history = self._history(sfn, execution_arn)
                sfn.stop_execution(executionArn=execution_arn, error="LocalEngine.Timeout")
                entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("Entered")]
                raise ExecutionTimeoutError(
                    f"execution {execution_name} still running after {self.execution_timeout_seconds} s; "
                    f"states entered: {entered}"
                )
            time.sleep(0.002)

        history = self._history(sfn, execution_arn)
        if on_event is not None:
            for event in history[seen:]:
                on_event(event)
        output = described.get("output")
        return ExecutionResult(
            execution_arn=execution_arn,
            name=execution_name,
            status=described["status"],
            output=json.loads(output) if output is not None else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
            waits=[wait for wait in self.waits if wait.execution_arn == execution_arn],
        )

    @staticmethod
    def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    def _emit(self, sfn: Any, execution_arn: str, seen: int, on_event: EventCallback) -> int:
        history = self._history(sfn, execution_arn)
        for event in history[seen:]:
            on_event(event)
        return max(seen, len(history))

    # -- moto_patches.PatchHooks -----------------------------------------------------------------

    @property
    def script(self) -> SageMakerScript:
        """The SageMaker script (the name the interpreter patches use)."""
        return self._script

    @property
    def poll_interval_seconds(self) -> float:
        """Pause between ``.sync`` polls."""
        return self._poll_interval_seconds

    @property
    def strict_choice_paths(self) -> bool:
        """Whether a Choice on a missing path fails (as on AWS)."""
        return self._strict_choice_paths

    @property
    def sns_require_topics(self) -> bool:
        """Whether publishing to an unknown topic fails."""
        return self._sns_require_topics

    def on_wait(self, kind: WaitKind, seconds: float, context: StepContext) -> float:
        """Records a wait; returns the scaled time to really wait."""
        with self._lock:
            self._waits.append(WaitRecord(kind, seconds, context.state_name, context.execution_arn))
        return seconds * self.time_scale

    def on_sns_publish(self, parameters: Mapping[str, Any], context: StepContext) -> None:
        """Records a published message."""
        notification = Notification(
            topic_arn=parameters.get("TopicArn") or parameters.get("TargetArn"),
            subject=parameters.get("Subject"),
            message=str(parameters.get("Message", "")),
            message_attributes=dict(parameters.get("MessageAttributes") or {}),
            state_name=context.state_name,
            execution_arn=context.execution_arn,
        )
        with self._lock:
            self._notifications.append(notification)

    def state_fault(self, state_machine: str, context: StepContext, attempt: int) -> StateFault | None:
        """The fault a Task state's attempt must fail with, if one is scheduled: a new entry
        (``attempt`` 0) takes the first matching scheduled fault; its retries keep failing with it."""
        key = (context.execution_arn, context.state_name or "")
        with self._lock:
            if attempt > 0:
                return self._active_faults.get(key)
            self._active_faults.pop(key, None)
            for index, fault in enumerate(self._faults):
                if fault.matches(state_machine, key[1]):
                    del self._faults[index]
                    self._active_faults[key] = fault
                    self._injected.append(InjectedFault(fault, context.execution_arn))
                    return fault
        return None

    def on_assume_role(self, role_arn: str) -> None:
        """Records a task call made as another role."""
        with self._lock:
            self._assumed_roles.append(role_arn)

    def on_lambda_invoke(
        self, function_name: str, qualifier: str | None, payload: bytes | None, context: StepContext | None
    ) -> dict[str, Any]:
        """Runs the registered handler; returns an Invoke response (``FunctionError`` if it raised)."""
        key = _function_key(function_name)
        with self._lock:
            handler = self._lambdas.get(key)
        request_id = str(uuid.uuid4())
        if handler is None:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ResourceNotFoundException",
                        "Message": f"Function not found: {function_name} (the LocalEngine has no handler for "
                        f"{key!r}; call engine.register_lambda({key!r}, handler))",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": request_id},
                },
                "Invoke",
            )
        event = json.loads(payload) if payload else {}
        lambda_context = LambdaContext(
            function_name=key,
            invoked_function_arn=function_name
            if function_name.startswith("arn:")
            else f"arn:aws:lambda:{self.region}:{DEFAULT_ACCOUNT_ID}:function:{key}",
            aws_request_id=request_id,
            function_version=qualifier or "$LATEST",
            log_group_name=f"/aws/lambda/{key}",
        )
        error_type: str | None = None
        try:
            result = handler(event, lambda_context)
            try:
                body: Any = json.loads(json.dumps(result))
            except (TypeError, ValueError) as marshal_error:
                error_type = "Runtime.MarshalError"
                body = {"errorMessage": f"Unable to marshal response: {marshal_error}", "errorType": error_type}
        except Exception as handler_error:  # a handler's exception is the function's error, as on Lambda
            error_type = type(handler_error).__name__
            body = {
                "errorMessage": str(handler_error),
                "errorType": error_type,
                "requestId": request_id,
                "stackTrace": traceback.format_tb(handler_error.__traceback__),
            }
        invocation = LambdaInvocation(
            function_name=key,
            event=event,
            result=None if error_type else body,
            error_type=error_type,
            state_name=context.state_name if context else None,
            execution_arn=context.execution_arn if context else "",
        )
        with self._lock:
            self._invocations.append(invocation)
        response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": qualifier or "$LATEST", "Payload": body}
        if error_type:
            response["FunctionError"] = "Unhandled"
        return response
