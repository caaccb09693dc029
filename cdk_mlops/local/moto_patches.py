"""Extensions of moto 5.2.5's Step Functions interpreter (LocalStack's, vendored) for local runs.

Everything here reaches into moto internals, so the module refuses any moto other than
:data:`PINNED_MOTO_VERSION`. :func:`install` applies all patches for one engine run and returns an
``ExitStack`` that undoes them. What is patched, and why:

* ``arn:aws:states:::sagemaker:*`` (moto forwards it as "unsupported"): a real optimized integration:
  request-response for AWS's list of actions, ``.sync`` for training, processing and transform jobs
  (create, then poll ``Describe*Job``), and AWS's error names (``SageMaker.ResourceLimitExceededException``;
  any undeclared code, a throttle included, ``SageMaker.AmazonSageMakerException``).
* ``sagemaker:UpdateEndpoint``: moto has no such API; added to moto's SageMaker responses.
* moto's SageMaker backend: job outcomes and API faults come from a :class:`SageMakerScript` (its
  executor, if any, runs unscripted jobs from the ``Create*Job`` request as sent, PascalCase).
* ``sagemaker-runtime:InvokeEndpoint``: answered by the script's endpoint invoker when one is set (a
  failing model raises ``ModelError``, HTTP 424, as the SageMaker Runtime API reference documents).
* ``aws-sdk:*``: parameters and results use AWS's PascalCase members (moto passed them through, so
  ``aws-sdk:sfn:describeExecution`` failed); streamed bodies (``s3:getObject``'s ``Body``) become
  strings and timestamps ISO-8601 strings; errors are named as AWS names them (``S3.NoSuchKeyException``,
  and an undeclared code such as a throttle ``S3.S3Exception``), from :mod:`cdk_mlops.constructs.error_names`.
* ``lambda:invoke`` and function-ARN tasks: dispatched to in-process Python handlers.
* ``sns:publish``: captured; a publish to a topic moto does not know succeeds unless topics are required.
* ``Wait`` states, ``Retry`` intervals and ``.sync`` polling: recorded and not really slept.
* Task states: a fault the engine scripts (``LocalEngine.fail_state``) fails the state's next entry
  with a chosen error, so every ``Catch`` can be taken without changing the state machine.
* definitions are parsed once per process: for ``CreateStateMachine``'s check and for executions.
* ``Choice``: a comparison on a missing path fails with ``States.Runtime`` as on AWS (moto silently
  treats it as false), unless the comparison is ``IsPresent``.
* JSONPath follows AWS (Jayway): a definite path such as ``$.Stacks[0].StackStatus`` yields its value
  (moto wrapped it in a one-item list); filters and wildcards yield lists, ``[]`` when nothing matches,
  and filters accept ``&&``/``||`` (:mod:`cdk_mlops.local.jsonpath`).
* ``$$.Execution.StartTime`` is an ISO-8601 string, as on AWS (moto gave a ``datetime``).
* JSONPath states read workflow variables (``$failedState``) without a JVM (:mod:`cdk_mlops.local.variables`).
* the interpreter's boto3 clients are cached (moto rebuilt them, re-reading botocore's models, per run),
  and a task with ``Credentials`` naming a role of another account calls that account's moto backend
  (moto used its default account for every call); the engine records the role.
"""

# ruff: noqa: E402 - moto's internals are imported only after its version has been checked.
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, Protocol, cast
from unittest import mock

import moto

PINNED_MOTO_VERSION: Final = "5.2.5"


class UnsupportedMotoVersionError(RuntimeError):
    """The installed moto is not the version these patches were written against."""


if moto.__version__ != PINNED_MOTO_VERSION:
    raise UnsupportedMotoVersionError(
        f"cdk_mlops.local patches moto's Step Functions interpreter internals and supports moto "
        f"{PINNED_MOTO_VERSION} only; moto {moto.__version__} is installed. Install "
        f"'moto[stepfunctions,sagemaker,s3,sns,cloudformation]=={PINNED_MOTO_VERSION}', or port "
        f"cdk_mlops/local/moto_patches.py to the new version and update PINNED_MOTO_VERSION."
    )

try:
    import antlr4  # noqa: F401
    import jsonpath_ng.ext  # noqa: F401
except ImportError as missing:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"moto's Step Functions interpreter needs {missing.name!r}: install "
        f"'moto[stepfunctions]=={PINNED_MOTO_VERSION}' (it brings antlr4-python3-runtime and jsonpath-ng)."
    ) from missing

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel
from botocore.response import StreamingBody
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core import errors as moto_errors
from moto.core.exceptions import JsonRESTError
from moto.core.models import botocore_stubber
from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.sagemaker import models as sagemaker_models
from moto.sagemaker.exceptions import SagemakerClientError, ValidationError
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringVariableSample
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
    ComparisonOperatorType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import (
    ComparisonVariable,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import (
    NoSuchVariable,
)
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils,
    state_task_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns import (
    StateTaskServiceSns,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module
from moto.stepfunctions.parser.asl.utils import json_path as json_path_module
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend import execution_worker
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from cdk_mlops.constructs import error_names
from cdk_mlops.local import jsonata_eval, jsonpath, variables
from cdk_mlops.local.scenario import JobKind, JobOutcome, ModelInvocationError, SageMakerScript

__all__ = [
    "PINNED_MOTO_VERSION",
    "PatchHooks",
    "StepContext",
    "UnsupportedMotoVersionError",
    "WaitKind",
    "install",
    "installed",
    "sagemaker_error_name",
    "sdk_error_name",
    "sdk_error_prefix",
]

WaitKind = Literal["wait", "retry"]


@dataclasses.dataclass(frozen=True)
class StepContext:
    """Where in which execution a patched call happens."""

    execution_arn: str
    state_name: str | None


class PatchHooks(Protocol):
    """What the patches need from the engine that installs them."""

    @property
    def script(self) -> SageMakerScript: ...

    @property
    def poll_interval_seconds(self) -> float: ...

    @property
    def strict_choice_paths(self) -> bool: ...

    @property
    def sns_require_topics(self) -> bool: ...

    def on_wait(self, kind: WaitKind, seconds: float, context: StepContext) -> float:
        """Records a requested wait; returns how many seconds to really wait."""
        ...

    def on_lambda_invoke(
        self, function_name: str, qualifier: str | None, payload: bytes | None, context: StepContext | None
    ) -> dict[str, Any]:
        """Runs a Lambda function; returns an Invoke response with its ``Payload`` already parsed."""
        ...

    def on_sns_publish(self, parameters: Mapping[str, Any], context: StepContext) -> None:
        """Records an ``sns:publish`` (``Message`` is always a string here)."""
        ...

    def on_assume_role(self, role_arn: str) -> None:
        """Records a task call made as ``role_arn`` (a state's ``Credentials``)."""
        ...

    def state_fault(self, state_machine: str, context: StepContext, attempt: int) -> InjectedFailure | None:
        """The scripted failure of this attempt (0 = first) of a Task state, if any."""
        ...


class InjectedFailure(Protocol):
    """A scripted Task state failure: the error name and cause the attempt fails with."""

    @property
    def error(self) -> str: ...

    @property
    def cause(self) -> str: ...


_hooks_holder: list[PatchHooks] = []


def installed() -> bool:
    """True while some engine's patches are installed."""
    return bool(_hooks_holder)


def _hooks() -> PatchHooks:
    if not _hooks_holder:
        raise RuntimeError("cdk_mlops.local patches are not installed (no LocalEngine is running)")
    return _hooks_holder[0]


def _context_of(env: Environment) -> StepContext:
    data = env.states.context_object.context_object_data
    execution: Mapping[str, Any] = data.get("Execution") or {}
    state: Mapping[str, Any] = data.get("State") or {}
    return StepContext(str(execution.get("Id", "")), state.get("Name"))


# -- error names ---------------------------------------------------------------------------------

#: aws-sdk error prefixes of services outside :data:`error_names.AWS_SDK` (moto only knows DynamoDb, Sfn).
_OTHER_SDK_ERROR_PREFIXES: Final[Mapping[str, str]] = {
    "codepipeline": "CodePipeline",
    "dynamodb": "DynamoDb",
    "sqs": "Sqs",
    "ssm": "Ssm",
}


def sagemaker_error_name(code: str) -> str:
    """The name the optimized SageMaker integration reports for SageMaker error ``code``
    (:func:`cdk_mlops.constructs.error_names.optimized_sagemaker_error_name`).

    >>> sagemaker_error_name("ResourceLimitExceeded")
    'SageMaker.ResourceLimitExceededException'
    >>> sagemaker_error_name("ThrottlingException")
    'SageMaker.AmazonSageMakerException'
    """
    return error_names.optimized_sagemaker_error_name(code)


def sdk_error_prefix(service_name: str) -> str:
    """How AWS SDK integration errors of ``service_name`` (as in the Resource: ``s3``) are prefixed."""
    known = error_names.AWS_SDK.get(service_name.lower())
    if known is not None:
        return known.prefix
    return _OTHER_SDK_ERROR_PREFIXES.get(service_name.lower(), service_name)


def sdk_error_name(service_name: str, ex: ClientError) -> str:
    """The name an AWS SDK integration reports for ``ex`` (:func:`error_names.sdk_error_name`): botocore
    raises an error its service model declares as a class named after the error shape, and any other
    code (a throttle) as a plain ``ClientError``, which AWS reports under the service's base exception."""
    shape = None if type(ex) is ClientError else type(ex).__name__
    return error_names.sdk_error_name(sdk_error_prefix(service_name), shape)


def _client_error_parts(ex: ClientError) -> tuple[str, str, int, str]:
    error = ex.response.get("Error", {})
    metadata = ex.response.get("ResponseMetadata", {})
    return (
        str(error.get("Code", "Unknown")),
        str(error.get("Message", "")),
        int(metadata.get("HTTPStatusCode", 400)),
        str(metadata.get("RequestId", "")),
    )


def _task_failed_details(details: TaskFailedEventDetails) -> EventDetails:
    return cast(EventDetails, {"taskFailedEventDetails": details})


def _task_failure(task: StateTaskService, env: Environment, error: str, cause: str) -> FailureEvent:
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.TaskFailed,
        event_details=_task_failed_details(
            TaskFailedEventDetails(
                error=error,
                cause=cause,
                resource=task._get_sfn_resource(),
                resourceType=task._get_sfn_resource_type(),
            )
        ),
    )


def _to_epoch_millis(value: Any) -> Any:
    """SageMaker ``.sync`` outputs carry timestamps as epoch milliseconds, as on AWS."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: _to_epoch_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_epoch_millis(item) for item in value]
    return value


def _to_sdk_json(value: Any) -> Any:
    """aws-sdk results are JSON: streamed bodies become strings and timestamps ISO-8601 strings.

    (moto keeps ``datetime`` objects in the state data, which then breaks ``DescribeExecution``.)
    """
    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8")
    if isinstance(value, datetime.datetime):
        utc = value.astimezone(datetime.timezone.utc) if value.tzinfo else value
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dict):
        return {key: _to_sdk_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_sdk_json(item) for item in value]
    return value


# -- the optimized SageMaker integration ---------------------------------------------------------

#: Request-response actions of AWS's optimized SageMaker integration.
_SAGEMAKER_ACTIONS: Final = frozenset(
    {
        "createendpoint",
        "createendpointconfig",
        "createhyperparametertuningjob",
        "createlabelingjob",
        "createmodel",
        "createprocessingjob",
        "createtrainingjob",
        "createtransformjob",
        "updateendpoint",
    }
)


@dataclasses.dataclass(frozen=True)
class _SyncJob:
    name_parameter: str
    describe_action: str
    status_key: str


_SYNC_JOBS: Final[Mapping[str, _SyncJob]] = {
    "createtrainingjob": _SyncJob("TrainingJobName", "describe_training_job", "TrainingJobStatus"),
    "createprocessingjob": _SyncJob("ProcessingJobName", "describe_processing_job", "ProcessingJobStatus"),
    "createtransformjob": _SyncJob("TransformJobName", "describe_transform_job", "TransformJobStatus"),
    "createhyperparametertuningjob": _SyncJob(
        "HyperParameterTuningJobName", "describe_hyper_parameter_tuning_job", "HyperParameterTuningJobStatus"
    ),
}
_IN_PROGRESS_STATUSES: Final = frozenset({"InProgress", "Stopping"})


class _LocalSageMakerService(StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:<action>[.sync]`` against moto's SageMaker."""

    def __init__(self) -> None:
        patterns = cast("set[ResourceCondition]", {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})
        super().__init__(supported_integration_patterns=patterns)

    def _validate_service_integration_is_supported(self) -> None:
        action = self.resource.api_action.lower()
        if action not in _SAGEMAKER_ACTIONS:
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} not recognized: the optimized "
                f"SageMaker integration has no action {self.resource.api_action!r} (use aws-sdk:sagemaker)."
            )
        if self.resource.condition == ResourceCondition.Sync and action not in _SYNC_JOBS:
            raise ValueError(
                f"{self.resource.resource_arn}: the local engine runs .sync only for createTrainingJob, "
                f"createProcessingJob, createTransformJob and createHyperParameterTuningJob."
            )
        if self.resource.condition in {ResourceCondition.Sync2, ResourceCondition.WaitForTaskToken}:
            raise ValueError(
                f"{self.resource.resource_arn}: the optimized SageMaker integration supports request-response "
                f"and .sync only."
            )

    def _client(self, runtime: ResourceRuntimePart, credentials: Any) -> Any:
        return boto_client_for(region=runtime.region, service="sagemaker", state_credentials=credentials)

    def _from_error(self, env: Environment, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            code, message, status, request_id = _client_error_parts(ex)
            cause = (
                f"{message} (Service: AmazonSageMaker; Status Code: {status}; Error Code: {code}; "
                f"Request ID: {request_id}; Proxy: null)"
            )
            return _task_failure(self, env, sagemaker_error_name(code), cause)
        failure: FailureEvent = super()._from_error(env=env, ex=ex)
        return failure

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(response)

    def _build_sync_resolver(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any]:
        env.stack.pop()  # the Create* response; the task's output is the final Describe* response
        job = _SYNC_JOBS[self.resource.api_action.lower()]
        job_name = normalised_parameters[job.name_parameter]
        client = self._client(resource_runtime_part, state_credentials)

        def resolve() -> dict[str, Any] | None:
            described = getattr(client, job.describe_action)(**{job.name_parameter: job_name})
            described.pop("ResponseMetadata", None)
            if described[job.status_key] in _IN_PROGRESS_STATUSES:
                return None
            output: dict[str, Any] = _to_epoch_millis(described)
            if described[job.status_key] == "Completed":
                return output
            failed = StatesErrorNameType.StatesTaskFailed
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=failed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=_task_failed_details(
                        TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=failed.to_name(),
                            cause=to_json_str(output),
                        )
                    ),
                )
            )

        return resolve


# -- aws-sdk, sns, lambda ------------------------------------------------------------------------


@functools.cache
def _service_model(boto_service_name: str) -> ServiceModel:
    return _model_session().get_service_model(boto_service_name)


@functools.cache
def _model_session() -> botocore.session.Session:
    return botocore.session.get_session()


class _LocalAwsSdkService(StateTaskServiceAwsSdk):
    """``aws-sdk:*`` with AWS's parameter and result casing, string bodies and AWS's error names.

    AWS SDK integrations take and return PascalCase members even where the wire API is camelCase
    (``aws-sdk:sfn:describeExecution`` takes ``ExecutionArn`` and returns ``Status``); moto's copy of the
    interpreter passes parameters through unchanged, so such calls failed.
    """

    def _operation_model(self) -> OperationModel | None:
        try:
            model = _service_model(self._get_boto_service_name())
            return model.operation_model(self.resource.api_action[0].upper() + self.resource.api_action[1:])
        except Exception:  # unknown service or action: the call itself reports it, as on AWS
            return None

    def _normalise_parameters(
        self,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        operation = self._operation_model()
        if operation is not None and operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def _normalise_response(
        self,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        operation = self._operation_model()
        if operation is not None and operation.output_shape is not None and isinstance(response, dict):
            self._from_boto_response(response, operation.output_shape)

    @staticmethod
    def _normalise_service_error_name(service_name: str) -> str:
        return sdk_error_prefix(service_name)

    def _from_error(self, env: Environment, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            _, message, status, request_id = _client_error_parts(ex)
            prefix = sdk_error_prefix(self.resource.api_name)
            cause = f"{message} (Service: {prefix}, Status Code: {status}, Request ID: {request_id})"
            return _task_failure(self, env, sdk_error_name(self.resource.api_name, ex), cause)
        failure: FailureEvent = super()._from_error(env=env, ex=ex)
        return failure

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)
        env.stack.append(_to_sdk_json(env.stack.pop()))


class _LocalSnsService(StateTaskServiceSns):
    """``sns:publish`` that reports every message to the engine."""

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        hooks = _hooks()
        message = normalised_parameters.get("Message")
        if message is not None and not isinstance(message, str):
            normalised_parameters["Message"] = to_json_str(message)
        hooks.on_sns_publish(dict(normalised_parameters), _context_of(env))
        try:
            super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if hooks.sns_require_topics or code not in {"NotFound", "NotFoundException"}:
                raise
            env.stack.append({"MessageId": str(uuid.uuid4())})


_ORIGINAL_SERVICE_FOR: Final = state_task_factory.state_task_service_for


def _service_for(service_name: str) -> StateTaskService:
    if service_name == "sagemaker":
        return _LocalSageMakerService()
    if service_name == "aws-sdk":
        return _LocalAwsSdkService()
    if service_name == "sns":
        return _LocalSnsService()
    service: StateTaskService = _ORIGINAL_SERVICE_FOR(service_name=service_name)
    return service


_lambda_context = threading.local()
_ORIGINAL_EXECUTE_LAMBDA: Final = lambda_eval_utils.execute_lambda_function_integration


def _execute_lambda_function_integration(
    env: Environment, parameters: dict[str, Any], region: str, state_credentials: Any
) -> None:
    _lambda_context.value = _context_of(env)
    try:
        _ORIGINAL_EXECUTE_LAMBDA(env, parameters, region, state_credentials)
    finally:
        _lambda_context.value = None


def _invoke_lambda_function(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
    return _hooks().on_lambda_invoke(
        str(parameters["FunctionName"]),
        parameters.get("Qualifier"),
        parameters.get("Payload"),
        getattr(_lambda_context, "value", None),
    )


# -- definitions parsed once -----------------------------------------------------------------------

_ORIGINAL_VALIDATE_DEFINITION: Final = StepFunctionsParserBackend._validate_definition
_VALIDATED_DEFINITIONS: set[str] = set()
_PROGRAMS: dict[str, Any] = {}
_PROGRAMS_LOCK = threading.Lock()


def _validate_definition_once(definition: str) -> None:
    """CreateStateMachine's definition check, skipped for a definition that passed it before in this
    process: moto parses it with ANTLR only to discard the result (about 0.05 s a workflow), and local
    runs start the same synthesized workflows again and again."""
    if definition not in _VALIDATED_DEFINITIONS:
        _ORIGINAL_VALIDATE_DEFINITION(definition=definition)
        _VALIDATED_DEFINITIONS.add(definition)


def _evaluation_entrypoint_once(self: ExecutionWorker) -> Any:
    """The parsed program of an execution's definition, parsed once per process and definition: the
    interpreter's program components hold no run-time state (that lives in each execution's
    ``Environment``), so executions can share them."""
    definition = self._evaluation_details.state_machine_details.definition
    with _PROGRAMS_LOCK:
        program = _PROGRAMS.get(definition)
    if program is None:
        program = _ORIGINAL_EVALUATION_ENTRYPOINT(self)
        with _PROGRAMS_LOCK:
            _PROGRAMS[definition] = program
    return program


_ORIGINAL_EVALUATION_ENTRYPOINT: Final = ExecutionWorker._get_evaluation_entrypoint


# -- fault injection (a Task state fails as if its service call had) ----------------------------

_ORIGINAL_EVALUATE_WITH_TIMEOUT: Final = ExecutionState._evaluate_with_timeout


def _evaluate_with_injected_fault(self: ExecutionState, env: Environment) -> None:
    """Fails a Task state's attempt with the engine's scripted fault before the task runs: a
    ``TaskFailed`` event whose error and cause the state's Retry and Catch then handle, as AWS
    documents for a task's errors (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)."""
    if isinstance(self, StateTask):
        data = env.states.context_object.context_object_data
        machine: Mapping[str, Any] = data.get("StateMachine") or {}
        state: Mapping[str, Any] = data.get("State") or {}
        state_machine, attempt = str(machine.get("Name", "")), int(state.get("RetryCount", 0))
        failure = _hooks().state_fault(state_machine, _context_of(env), attempt)
        if failure is not None:
            # A reserved States.* name matches only its own ErrorEquals (and States.ALL), as on AWS.
            error_name: ErrorName = (
                StatesErrorName.from_name(failure.error)
                if failure.error.startswith("States.")
                else CustomErrorName(failure.error)
            )
            details = TaskFailedEventDetails(error=failure.error, cause=failure.cause)
            if isinstance(self, StateTaskService):
                details["resource"] = self._get_sfn_resource()
                details["resourceType"] = self._get_sfn_resource_type()
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=error_name,
                    event_type=HistoryEventType.TaskFailed,
                    event_details=_task_failed_details(details),
                )
            )
    _ORIGINAL_EVALUATE_WITH_TIMEOUT(self, env)


# -- waits and retries ---------------------------------------------------------------------------

_retry_context = threading.local()
_ORIGINAL_RETRIER_EVAL: Final = retrier_decl.RetrierDecl._eval_body


def _retrier_eval_body(self: retrier_decl.RetrierDecl, env: Environment) -> None:
    _retry_context.value = _context_of(env)
    try:
        _ORIGINAL_RETRIER_EVAL(self, env)
    finally:
        _retry_context.value = None


class _RetryClock:
    """Stands in for the ``time`` module inside ``retrier_decl``: retry intervals are recorded, not slept."""

    def sleep(self, seconds: float) -> None:
        context = getattr(_retry_context, "value", None) or StepContext("", None)
        actual = _hooks().on_wait("retry", float(seconds), context)
        if actual > 0:
            time.sleep(actual)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
    actual = _hooks().on_wait("wait", float(wait_seconds), _context_of(env))
    if actual > 0:
        env.program_state_event.wait(actual)


# -- Choice on a missing path --------------------------------------------------------------------

_ORIGINAL_COMPARISON_EVAL: Final = ComparisonVariable._eval_body


def _comparison_variable_eval_body(self: ComparisonVariable, env: Environment) -> None:
    is_present = self.comparison_function.operator_type == ComparisonOperatorType.IsPresent
    if is_present or not _hooks().strict_choice_paths:
        _ORIGINAL_COMPARISON_EVAL(self, env)
        return
    self.variable.eval(env)
    if isinstance(env.stack[-1], NoSuchVariable):
        path = self.variable.string_sampler.literal_value
        runtime = StatesErrorNameType.StatesRuntime
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=runtime),
                event_type=HistoryEventType.TaskFailed,
                event_details=_task_failed_details(
                    TaskFailedEventDetails(
                        error=runtime.to_name(),
                        cause=f"Invalid path '{path}': The choice state's condition path references an invalid value.",
                    )
                ),
            )
        )
    self.comparison_function.eval(env)


# -- moto's SageMaker: scripted jobs, faults, UpdateEndpoint -------------------------------------


@dataclasses.dataclass(frozen=True)
class _JobAttributes:
    create: str
    describe: str
    collection: str
    name: str
    status: str


_JOB_ATTRIBUTES: Final[Mapping[JobKind, _JobAttributes]] = {
    JobKind.TRAINING: _JobAttributes(
        "create_training_job", "describe_training_job", "training_jobs", "training_job_name", "training_job_status"
    ),
    JobKind.PROCESSING: _JobAttributes(
        "create_processing_job",
        "describe_processing_job",
        "processing_jobs",
        "processing_job_name",
        "processing_job_status",
    ),
    JobKind.TRANSFORM: _JobAttributes(
        "create_transform_job",
        "describe_transform_job",
        "transform_jobs",
        "transform_job_name",
        "transform_job_status",
    ),
}


@dataclasses.dataclass
class _PendingJob:
    job: Any
    outcome: JobOutcome
    polls_left: int


class _JobOutcomes:
    """Applies scripted outcomes to moto's job objects, holding back in-progress ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, _PendingJob] = {}

    def created(self, kind: JobKind, job: Any) -> None:
        attributes = _JOB_ATTRIBUTES[kind]
        request = getattr(_sagemaker_request, "value", None) or {}
        outcome = _hooks().script.outcome_for(kind, getattr(job, attributes.name), request)
        if outcome.polls_in_progress == 0:
            self._finish(kind, job, outcome)
            return
        setattr(job, attributes.status, "InProgress")
        if kind is JobKind.TRAINING:
            job.secondary_status = "Training"
        with self._lock:
            self._pending[id(job)] = _PendingJob(job, outcome, outcome.polls_in_progress)

    def described(self, kind: JobKind, job: Any) -> None:
        with self._lock:
            pending = self._pending.get(id(job))
            if pending is None or pending.job is not job:
                return
            if getattr(job, _JOB_ATTRIBUTES[kind].status) != "InProgress":  # stopped meanwhile
                del self._pending[id(job)]
                return
            if pending.polls_left > 0:
                pending.polls_left -= 1
                return
            del self._pending[id(job)]
        self._finish(kind, job, pending.outcome)

    @staticmethod
    def _finish(kind: JobKind, job: Any, outcome: JobOutcome) -> None:
        now = datetime.datetime.now(tz=datetime.timezone.utc)
        setattr(job, _JOB_ATTRIBUTES[kind].status, outcome.status)
        job.last_modified_time = now
        if outcome.failure_reason is not None:
            job.failure_reason = outcome.failure_reason
        if kind is JobKind.TRAINING:
            job.secondary_status = outcome.status
            job.training_end_time = now
            job.final_metric_data_list = [
                {"MetricName": name, "Value": float(value), "Timestamp": now}
                for name, value in outcome.final_metrics.items()
            ]
            if outcome.status != "Completed":
                job.model_artifacts = None  # a job that did not complete reports no artifacts
            elif outcome.model_artifacts is not None:
                job.model_artifacts = {"S3ModelArtifacts": outcome.model_artifacts}


def _wrap_create(outcomes: _JobOutcomes, kind: JobKind) -> Callable[..., Any]:
    original = getattr(sagemaker_models.SageMakerModelBackend, _JOB_ATTRIBUTES[kind].create)

    def create(backend: Any, *args: Any, **kwargs: Any) -> Any:
        job = original(backend, *args, **kwargs)
        outcomes.created(kind, job)
        return job

    return create


def _wrap_describe(outcomes: _JobOutcomes, kind: JobKind) -> Callable[..., Any]:
    attributes = _JOB_ATTRIBUTES[kind]
    original = getattr(sagemaker_models.SageMakerModelBackend, attributes.describe)

    def describe(backend: Any, *args: Any, **kwargs: Any) -> Any:
        name = args[0] if args else next(iter(kwargs.values()), None)
        job = getattr(backend, attributes.collection).get(name)
        if job is not None:
            outcomes.described(kind, job)
        return original(backend, *args, **kwargs)

    return describe


_ORIGINAL_CALL_ACTION: Final = SageMakerResponse.call_action


class _QuietErrorCodes(list[str]):
    """moto's list of codes it serialises without warning, extended with the scripted fault codes."""

    def __contains__(self, code: object) -> bool:
        return super().__contains__(code) or (bool(_hooks_holder) and _hooks().script.is_fault_code(code))


#: The JSON request of the SageMaker call being handled in this thread (the job executor gets it as sent).
_sagemaker_request = threading.local()


def _sagemaker_call_action(self: SageMakerResponse) -> Any:
    action = self._get_action()
    try:
        _sagemaker_request.value = json.loads(self.body) if self.body else {}
    except (TypeError, ValueError):
        _sagemaker_request.value = {}
    fault = _hooks().script.record_call(action)
    if fault is not None:

        def scripted_error() -> Any:
            raise SagemakerClientError(fault.code, fault.message)

        # An instance attribute shadows the action's method for this one request only.
        setattr(self, camelcase_to_underscores(action), scripted_error)
    try:
        return _ORIGINAL_CALL_ACTION(self)
    finally:
        _sagemaker_request.value = None


_ORIGINAL_INVOKE_ENDPOINT: Final = SageMakerRuntimeResponse.invoke_endpoint


class _ModelError(JsonRESTError):
    """SageMaker Runtime's ``ModelError`` (HTTP 424): the model container answered with an error."""

    code = 424

    def __init__(self, error: ModelInvocationError) -> None:
        message = f'Received server error ({error.status_code}) from primary with message "{error.message}".'
        super().__init__("ModelError", message)
        self.description = json.dumps(
            {
                "__type": "ModelError",
                "message": message,
                "OriginalStatusCode": error.status_code,
                "OriginalMessage": error.message,
            }
        )


def _invoke_endpoint(self: SageMakerRuntimeResponse) -> Any:
    """``InvokeEndpoint`` answered by the script's endpoint invoker (moto's canned answer without one)."""
    invoker = _hooks().script.endpoint_invoker
    if invoker is None:
        return _ORIGINAL_INVOKE_ENDPOINT(self)
    endpoint_name = str(self._get_params().get("EndpointName") or self.path.split("/")[2])
    body = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body or "").encode("utf-8")
    try:
        answer, content_type = invoker(
            endpoint_name, body, self.headers.get("Content-Type"), self.headers.get("Accept")
        )
    except ModelInvocationError as error:
        raise _ModelError(error) from error
    return 200, {"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, answer


def _sagemaker_update_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    endpoint_name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = sagemaker_models.FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        arn = sagemaker_models.FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
    if endpoint.endpoint_status not in {"InService", "Failed"}:
        raise ValidationError(
            message=f"Cannot update endpoint '{endpoint.arn}' while it is {endpoint.endpoint_status}."
        )
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = datetime.datetime.now(tz=datetime.timezone.utc)
    return ActionResult({"EndpointArn": endpoint.arn})


# -- hyperparameter tuning jobs (helper J) -------------------------------------------------------
# moto 5.2.5 stores a tuning job as "Completed" at once with a made-up BestTrainingJob and has no
# StopHyperParameterTuningJob. As on AWS (CreateHyperParameterTuningJob, DescribeHyperParameterTuningJob
# in the SageMaker API reference), a tuning job here starts real training jobs from its
# TrainingJobDefinition, stays InProgress until they end, then reports the best by its objective;
# the trials are planned by cdk_mlops.local.jobs.tuning and go through the training-job outcomes above.


def _tuning_trials(backend: Any, job: Any) -> list[Any]:
    return [backend.training_jobs[name] for name in getattr(job, "local_trials", ()) if name in backend.training_jobs]


def _start_tuning_job(backend: Any, job: Any) -> None:
    from cdk_mlops.local.jobs import tuning

    script = _hooks().script
    outcome = script.tuning_outcome_for(job.hyper_parameter_tuning_job_name)
    job.local_trials = []
    if outcome.status != "Completed":
        job.hyper_parameter_tuning_job_status = outcome.status
        job.failure_reason = outcome.failure_reason or ""
        return
    job.hyper_parameter_tuning_job_status = "InProgress"
    job.best_training_job = job.OverallBestTrainingJob = None
    config = job.hyper_parameter_tuning_job_config or {}
    definition = job.training_job_definition or {}
    tuning_request = getattr(_sagemaker_request, "value", None)
    try:
        for trial in tuning.plan_trials(job.hyper_parameter_tuning_job_name, config, script.max_tuning_jobs):
            request = tuning.trial_request(definition, trial)
            _sagemaker_request.value = request  # the executor runs the trial from its own request
            backend.create_training_job(
                training_job_name=trial.name,
                hyper_parameters=request["HyperParameters"],
                algorithm_specification=request.get("AlgorithmSpecification"),
                role_arn=request.get("RoleArn"),
                input_data_config=request.get("InputDataConfig"),
                output_data_config=request.get("OutputDataConfig"),
                resource_config=request.get("ResourceConfig"),
                vpc_config=request.get("VpcConfig"),
                stopping_condition=request.get("StoppingCondition"),
                tags=None,
                enable_network_isolation=request.get("EnableNetworkIsolation", False),
                enable_inter_container_traffic_encryption=request.get("EnableInterContainerTrafficEncryption", False),
                enable_managed_spot_training=request.get("EnableManagedSpotTraining", False),
                checkpoint_config=request.get("CheckpointConfig"),
                debug_hook_config=None,
                debug_rule_configurations=None,
                tensor_board_output_config=None,
                experiment_config=None,
            )
            job.local_trials.append(trial.name)
            job.local_tuned = {**getattr(job, "local_tuned", {}), trial.name: dict(trial.tuned)}
    finally:
        _sagemaker_request.value = tuning_request
    _update_tuning_job(backend, job)


def _update_tuning_job(backend: Any, job: Any) -> None:
    """Counts the trials' statuses; once none is in progress, reports the best trial (or fails)."""
    from cdk_mlops.local.jobs import tuning

    trials = _tuning_trials(backend, job)
    statuses = [trial.training_job_status for trial in trials]
    counters = {status: statuses.count(status) for status in ("Completed", "InProgress", "Stopped")}
    failed = statuses.count("Failed")
    job.training_job_status_counters = {**counters, "RetryableError": 0, "NonRetryableError": failed}
    if job.hyper_parameter_tuning_job_status != "InProgress" or counters["InProgress"]:
        return
    objective = (job.hyper_parameter_tuning_job_config or {}).get("HyperParameterTuningJobObjective", {})
    results = [(t.training_job_name, t.training_job_status, t.final_metric_data_list or []) for t in trials]
    metric = str(objective.get("MetricName", ""))
    succeeded = sum(
        1
        for _, status, metrics in results
        if status == "Completed" and tuning.objective_of(metrics, metric) is not None
    )
    job.objective_status_counters = {"Succeeded": succeeded, "Pending": 0, "Failed": len(trials) - succeeded}
    now = datetime.datetime.now(tz=datetime.timezone.utc)
    job.last_modified_time = job.hyper_parameter_tuning_end_time = now
    best = tuning.best_trial(results, objective)
    if best is None:
        job.hyper_parameter_tuning_job_status = "Failed"
        job.failure_reason = (
            f"No training job succeeded with objective metric {objective.get('MetricName')!r}: "
            f"{failed} of {len(trials)} training jobs failed, the others did not report the metric"
        )
        return
    trial = backend.training_jobs[best[0]]
    job.best_training_job = job.OverallBestTrainingJob = {
        "TrainingJobName": trial.training_job_name,
        "TrainingJobArn": trial.arn,
        "TuningJobName": job.hyper_parameter_tuning_job_name,
        "CreationTime": trial.creation_time,
        "TrainingEndTime": getattr(trial, "training_end_time", None) or now,
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": getattr(job, "local_tuned", {}).get(trial.training_job_name, {}),
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "Type": objective.get("Type", "Maximize"),
            "MetricName": objective.get("MetricName"),
            "Value": best[1],
        },
        "ObjectiveStatus": "Succeeded",
    }
    job.hyper_parameter_tuning_job_status = "Completed"


def _wrap_create_tuning_job() -> Callable[..., Any]:
    original = sagemaker_models.SageMakerModelBackend.create_hyper_parameter_tuning_job

    def create(backend: Any, *args: Any, **kwargs: Any) -> Any:
        arn = original(backend, *args, **kwargs)
        name = kwargs.get("hyper_parameter_tuning_job_name") or args[0]
        _start_tuning_job(backend, backend.hyper_parameter_tuning_jobs[name])
        return arn

    return create


def _wrap_describe_tuning_job() -> Callable[..., Any]:
    original = sagemaker_models.SageMakerModelBackend.describe_hyper_parameter_tuning_job

    def describe(backend: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("hyper_parameter_tuning_job_name") or (args[0] if args else None)
        job = backend.hyper_parameter_tuning_jobs.get(name)
        if job is not None and hasattr(job, "local_trials"):
            for trial in _tuning_trials(backend, job):
                backend.describe_training_job(trial.training_job_name)  # advances scripted polls
            _update_tuning_job(backend, job)
        return original(backend, *args, **kwargs)

    return describe


def _sagemaker_stop_tuning_job(self: SageMakerResponse) -> ActionResult:
    """StopHyperParameterTuningJob: the tuning job and its running training jobs stop."""
    backend = self.sagemaker_backend
    name = self._get_param("HyperParameterTuningJobName")
    job = backend.hyper_parameter_tuning_jobs.get(name)
    if job is None:
        raise ValidationError(message=f"Could not find hyper parameter tuning job '{name}'.")
    if job.hyper_parameter_tuning_job_status == "InProgress":
        for trial in _tuning_trials(backend, job):
            if trial.training_job_status == "InProgress":
                trial.training_job_status = "Stopped"
        job.hyper_parameter_tuning_job_status = "Stopped"
    return ActionResult({})


# -- JSONPath ------------------------------------------------------------------------------------

_ORIGINAL_EXTRACT_JSON: Final = json_path_module.extract_json


def _extract_json(path: str, data: Any) -> Any:
    """moto's ``extract_json`` with AWS's (Jayway's) JSONPath semantics: see :mod:`cdk_mlops.local.jsonpath`.

    A filter or wildcard yields a list (``[]`` when nothing matches; moto raised, getmoto/moto issue
    10078), filters accept ``&&`` and ``||``, and a definite path such as ``$.Stacks[0].StackStatus``
    yields its value (moto wrapped it in a one-item list); a definite path that does not exist still
    fails with ``States.Runtime``.
    """
    try:
        return jsonpath.find(path, data)
    except jsonpath.PathNotFoundError:
        raise json_path_module.NoSuchJsonPathError(json_path=path, data=data) from None


# -- boto3 clients of the interpreter ------------------------------------------------------------

_ORIGINAL_BOTO_CLIENT_FOR: Final = boto_client_module.boto_client_for
_INTERPRETER_CLIENT_CONFIG: Final = Config(
    parameter_validation=False,
    retries={"max_attempts": 0, "total_max_attempts": 1},
    connect_timeout=boto_client_module.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
    read_timeout=boto_client_module.TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
)


@functools.cache
def _interpreter_session() -> boto3.session.Session:
    return boto3.session.Session()


class _InterpreterClients:
    """``boto_client_for`` with clients cached per engine run.

    moto resets ``boto3.DEFAULT_SESSION`` at every start, so moto's version re-reads botocore's service
    models (about 0.3 s for SageMaker's) in every test; one session for the process avoids that.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str | None], Any] = {}

    def __call__(self, region: str, service: str, state_credentials: Any = None) -> Any:
        if not botocore_stubber.enabled:  # moto in server mode: keep moto's endpoint handling
            return _ORIGINAL_BOTO_CLIENT_FOR(region=region, service=service, state_credentials=state_credentials)
        # Every call carries credentials (the execution role unless the state has "Credentials"); one
        # made as a role of another account reaches that account, as on AWS.
        role_arn = str(getattr(state_credentials, "role_arn", None) or "")
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else None
        if account == DEFAULT_ACCOUNT_ID:
            account = None
        if account is not None:
            _hooks().on_assume_role(role_arn)
        with self._lock:
            client = self._clients.get((region, service, account))
            if client is None:
                client = _interpreter_session().client(
                    service,
                    region_name=region,
                    aws_access_key_id="ak",
                    aws_secret_access_key="sk",
                    config=_INTERPRETER_CLIENT_CONFIG,
                )
                if account is not None:
                    in_account(client, account)
                self._clients[(region, service, account)] = client
        return client


def in_account(client: Any, account: str) -> Any:
    """Makes every call of ``client`` reach moto's backend of ``account`` (moto's account header)."""

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign.*.*", add_header)
    return client


boto_client_for: Callable[..., Any] = _ORIGINAL_BOTO_CLIENT_FOR


def _patch_imported_name(stack: contextlib.ExitStack, name: str, original: Any, replacement: Any) -> None:
    """Replaces ``name`` in every interpreter module that imported ``original`` under that name."""
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("moto.stepfunctions.parser") and getattr(module, name, None) is original:
            stack.enter_context(mock.patch.object(module, name, replacement))


def _patch_boto_client_for(stack: contextlib.ExitStack, clients: _InterpreterClients) -> None:
    global boto_client_for
    _patch_imported_name(stack, "boto_client_for", _ORIGINAL_BOTO_CLIENT_FOR, clients)
    boto_client_for = clients

    def restore() -> None:
        global boto_client_for
        boto_client_for = _ORIGINAL_BOTO_CLIENT_FOR

    stack.callback(restore)


# -- context object --------------------------------------------------------------------------------

_ORIGINAL_EXECUTION_DATA: Final = execution_worker.ExecutionData


def _execution_data(**fields: Any) -> Any:
    """``$$.Execution.StartTime`` as AWS gives it, an ISO-8601 string (``2026-11-26T02:00:00.123Z``);
    moto put a ``datetime`` there, which intrinsic functions such as ``States.StringSplit`` reject."""
    start = fields.get("StartTime")
    if isinstance(start, datetime.datetime):
        utc = start.astimezone(datetime.timezone.utc) if start.tzinfo else start
        fields["StartTime"] = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return _ORIGINAL_EXECUTION_DATA(**fields)


# -- installation --------------------------------------------------------------------------------

_install_lock = threading.Lock()


def _versioned_resource_from_arn(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto 5.2.5 splits resource ARNs on one '/', so a model package version
    (``model-package/<group>/<version>``) cannot be tagged; look those up by ARN."""

    def resource_from_arn(backend: Any, arn: str) -> Any:
        if ":model-package/" in arn and arn.count("/") == 2:
            if arn not in backend.model_packages:
                raise ValidationError(message=f"Could not find model-package {arn}")
            package = backend.model_packages[arn]
            if package.tags is None:  # created without tags: moto keeps None, add_tags/list_tags need a list
                package.tags = []
            return package
        return original(backend, arn)

    return resource_from_arn


def install(hooks: PatchHooks) -> contextlib.ExitStack:
    """Applies every patch for ``hooks`` (one engine at a time); closing the stack undoes them."""
    with _install_lock:
        if _hooks_holder:
            raise RuntimeError("another LocalEngine is running in this process; stop it first")
        _hooks_holder.append(hooks)
    stack = contextlib.ExitStack()
    stack.callback(_hooks_holder.clear)
    try:
        patch = stack.enter_context
        _patch_boto_client_for(stack, _InterpreterClients())
        _patch_imported_name(stack, "extract_json", _ORIGINAL_EXTRACT_JSON, _extract_json)
        _patch_imported_name(  # JSONata states without a JVM (cdk_mlops.local.jsonata_eval)
            stack,
            "eval_jsonata_expression",
            jsonata_eval.ORIGINAL_EVAL_JSONATA_EXPRESSION,
            jsonata_eval.eval_jsonata_expression,
        )
        patch(mock.patch.object(jsonata_eval.StringJSONata, "_eval_body", jsonata_eval.string_jsonata_eval_body))
        patch(mock.patch.object(state_task_factory, "state_task_service_for", _service_for))
        patch(
            mock.patch.object(
                lambda_eval_utils, "execute_lambda_function_integration", _execute_lambda_function_integration
            )
        )
        patch(mock.patch.object(lambda_eval_utils, "_invoke_lambda_function", _invoke_lambda_function))
        patch(
            mock.patch.object(
                state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", hooks.poll_interval_seconds
            )
        )
        patch(mock.patch.object(retrier_decl, "time", _RetryClock()))
        patch(mock.patch.object(retrier_decl.RetrierDecl, "_eval_body", _retrier_eval_body))
        patch(mock.patch.object(WaitFunction, "_wait_interval", _wait_interval))
        patch(mock.patch.object(ExecutionState, "_evaluate_with_timeout", _evaluate_with_injected_fault))
        patch(
            mock.patch.object(
                StepFunctionsParserBackend, "_validate_definition", staticmethod(_validate_definition_once)
            )
        )
        patch(mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", _evaluation_entrypoint_once))
        patch(mock.patch.object(ComparisonVariable, "_eval_body", _comparison_variable_eval_body))
        patch(mock.patch.object(StringVariableSample, "_eval_body", variables.variable_sample_eval_body))
        patch(mock.patch.object(SageMakerResponse, "call_action", _sagemaker_call_action))
        patch(mock.patch.object(SageMakerRuntimeResponse, "invoke_endpoint", _invoke_endpoint))
        patch(mock.patch.object(execution_worker, "ExecutionData", _execution_data))
        quiet_codes = _QuietErrorCodes(moto_errors.COMMON_ERROR_CODES)
        patch(mock.patch.object(moto_errors, "COMMON_ERROR_CODES", quiet_codes))
        patch(mock.patch.object(SageMakerResponse, "update_endpoint", _sagemaker_update_endpoint, create=True))
        original_resource_from_arn = sagemaker_models.SageMakerModelBackend._get_resource_from_arn
        patch(
            mock.patch.object(
                sagemaker_models.SageMakerModelBackend,
                "_get_resource_from_arn",
                _versioned_resource_from_arn(original_resource_from_arn),
            )
        )
        patch(
            mock.patch.object(
                SageMakerResponse, "stop_hyper_parameter_tuning_job", _sagemaker_stop_tuning_job, create=True
            )
        )
        backend_class = sagemaker_models.SageMakerModelBackend
        patch(mock.patch.object(backend_class, "create_hyper_parameter_tuning_job", _wrap_create_tuning_job()))
        patch(mock.patch.object(backend_class, "describe_hyper_parameter_tuning_job", _wrap_describe_tuning_job()))
        outcomes = _JobOutcomes()
        for kind, attributes in _JOB_ATTRIBUTES.items():
            backend_class = sagemaker_models.SageMakerModelBackend
            patch(mock.patch.object(backend_class, attributes.create, _wrap_create(outcomes, kind)))
            patch(mock.patch.object(backend_class, attributes.describe, _wrap_describe(outcomes, kind)))
    except BaseException:
        stack.close()
        raise
    return stack
