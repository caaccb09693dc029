"""Smoke test a SageMaker endpoint after the CloudFormation stack that owns it has been updated.

Invoked by a Step Functions task (``arn:aws:states:::lambda:invoke``). The module is deployed on its own
(Lambda asset directory ``lambda_src/smoke_test``, handler ``handler.handler``), so it imports only the
standard library and the boto3/botocore shipped with the Python runtime.

Event::

    {
        "StackName": "Mlops-churn-Staging",   # or "EndpointName": "churn-staging" (exactly one of the two)
        "EndpointOutputKey": "EndpointName",  # optional, default "EndpointName"; only used with StackName
        "InferenceComponentName": "Mlops-churn-Production-Component",  # optional; with StackName, read from
                                              # the stack's output InferenceComponentName when it has one
        "ContentType": "text/csv",            # required
        "Accept": "application/json",         # optional
        "Payload": "1,2,3",                   # required, non-empty string
        "MaxLatencyMs": 3000,                 # required, integer >= 1
        "Attempts": 3                         # optional, integer 1..MAX_ATTEMPTS, default 1
    }

Result (always returned for a reachable endpoint, whether or not it is healthy)::

    {
        "passed": true,
        "endpointName": "churn-staging",
        "latenciesMs": [41.2, 38.9, 40.0],    # one entry per invocation made, failed ones included
        "maxLatencyMs": 41.2,                 # largest observed latency (0.0 when nothing was invoked)
        "statusCode": 200,                    # HTTP status of the last invocation (0 when none completed)
        "responsePreview": "[0.93]",          # first PREVIEW_CHARS characters of the last response body
        "reason": "..."                       # human-readable explanation of the outcome
    }

An unhealthy endpoint (not ``InService``, not found, invocation error, empty body, too slow) yields
``passed: false`` so the state machine can branch on it. A malformed event, or a stack/output that does
not exist, raises :class:`SmokeTestInputError` because retrying or rolling back would not help.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

LOGGER = logging.getLogger(__name__)

PREVIEW_CHARS = 200
"""How much of the response body is returned in ``responsePreview``."""
DETAIL_CHARS = 300
"""How much of an error message is copied into ``reason``."""
MAX_ATTEMPTS = 10
"""Upper bound for ``Attempts``, so a smoke test cannot outlive the Lambda timeout by configuration."""
DEFAULT_OUTPUT_KEY = "EndpointName"
COMPONENT_OUTPUT_KEY = "InferenceComponentName"
"""The output of a model's endpoint stack naming its inference component on a shared endpoint."""
IN_SERVICE = "InService"

# SageMaker's own constraint on endpoint names.
_ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_MISSING: Any = object()

# One attempt per invocation: botocore retries would hide failures and distort the measured latency.
_RUNTIME_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=70)
_CONTROL_PLANE_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class SmokeTestInputError(ValueError):
    """The event is malformed, or names a stack or stack output that does not exist."""


class SmokeTestResult(TypedDict):
    """What the handler returns (its camelCase keys are the Step Functions contract)."""

    passed: bool
    endpointName: str
    latenciesMs: list[float]
    maxLatencyMs: float
    statusCode: int
    responsePreview: str
    reason: str


@dataclass(frozen=True)
class SmokeTestRequest:
    """A validated event."""

    stack_name: str | None
    endpoint_name: str | None
    output_key: str
    inference_component_name: str | None
    content_type: str
    accept: str | None
    payload: str
    max_latency_ms: int
    attempts: int


# --------------------------------------------------------------------------------------------------------
# Clients and clock (module-level functions so tests can replace them; nothing is created at import time)
# --------------------------------------------------------------------------------------------------------


def _region() -> str | None:
    """The region Lambda runs in (``AWS_REGION``), falling back to ``AWS_DEFAULT_REGION``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


@functools.cache
def cloudformation_client() -> Any:
    """Cached CloudFormation client, created on first use."""
    return boto3.client("cloudformation", region_name=_region(), config=_CONTROL_PLANE_CONFIG)


@functools.cache
def sagemaker_client() -> Any:
    """Cached SageMaker control-plane client, created on first use."""
    return boto3.client("sagemaker", region_name=_region(), config=_CONTROL_PLANE_CONFIG)


@functools.cache
def runtime_client() -> Any:
    """Cached SageMaker runtime client (no retries), created on first use."""
    return boto3.client("sagemaker-runtime", region_name=_region(), config=_RUNTIME_CONFIG)


def reset_clients() -> None:
    """Forget the cached clients (for tests, or after the environment's region or credentials change)."""
    cloudformation_client.cache_clear()
    sagemaker_client.cache_clear()
    runtime_client.cache_clear()


def _configure_logging() -> None:
    """Log at INFO unless Lambda's advanced logging controls (``AWS_LAMBDA_LOG_LEVEL``) set the level."""
    if not os.environ.get("AWS_LAMBDA_LOG_LEVEL") and LOGGER.level == logging.NOTSET:
        LOGGER.setLevel(logging.INFO)


def clock() -> float:
    """Monotonic time in seconds, used to measure invocation latency."""
    return time.perf_counter()


# --------------------------------------------------------------------------------------------------------
# Event validation
# --------------------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    """Short description of a received value for error messages."""
    if value is _MISSING:
        return "nothing (the field is missing)"
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__} {text}"


def _required_str(event: Mapping[str, Any], field: str, *, show_value: bool = True) -> str:
    """A required non-empty string field. ``show_value=False`` keeps the value out of the message."""
    value = event.get(field, _MISSING)
    if isinstance(value, str) and value.strip():
        return value
    if value is _MISSING or show_value:
        received = _describe(value)
    elif isinstance(value, str):
        received = "a blank string"
    else:
        received = f"a value of type {type(value).__name__}"
    raise SmokeTestInputError(f"{field} must be a non-empty string, got {received}")


def _optional_str(event: Mapping[str, Any], field: str) -> str | None:
    """An optional string field: missing or null gives None, anything else must be a non-empty string."""
    value = event.get(field)
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value
    raise SmokeTestInputError(f"{field} must be a non-empty string when given, got {_describe(value)}")


def _int_field(
    event: Mapping[str, Any], field: str, *, default: int | None, minimum: int, maximum: int
) -> int:
    """An integer field within ``[minimum, maximum]``; ``default=None`` makes it required.

    JSON numbers such as ``3000.0`` are accepted; booleans and numeric strings are not.
    """
    value = event.get(field, _MISSING)
    if value is _MISSING or value is None:
        if default is None:
            raise SmokeTestInputError(f"{field} must be an integer, got {_describe(value)}")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SmokeTestInputError(f"{field} must be an integer, got {_describe(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise SmokeTestInputError(f"{field} must be an integer, got {_describe(value)}")
        value = int(value)
    if not minimum <= value <= maximum:
        raise SmokeTestInputError(f"{field} must be between {minimum} and {maximum}, got {value}")
    return value


def _check_endpoint_name(name: str, source: str) -> str:
    """Reject strings that cannot be a SageMaker endpoint name; ``source`` says where the name came from."""
    if not _ENDPOINT_NAME_PATTERN.match(name):
        raise SmokeTestInputError(
            f"{source} must be a SageMaker endpoint name (1-63 letters, digits or hyphens), "
            f"got {_describe(name)}"
        )
    return name


def parse_event(event: Any) -> SmokeTestRequest:
    """Validate the Step Functions event.

    Raises:
        SmokeTestInputError: naming the offending field and the value received.
    """
    if not isinstance(event, Mapping):
        raise SmokeTestInputError(f"the event must be a JSON object, got {type(event).__name__}")

    stack_name = _optional_str(event, "StackName")
    endpoint_name = _optional_str(event, "EndpointName")
    if stack_name is None and endpoint_name is None:
        raise SmokeTestInputError(
            "the event needs StackName (to read the endpoint name from its outputs) or EndpointName, "
            "got neither"
        )
    if stack_name is not None and endpoint_name is not None:
        raise SmokeTestInputError(
            f"give StackName or EndpointName, not both; got StackName {stack_name!r} "
            f"and EndpointName {endpoint_name!r}"
        )
    if endpoint_name is not None:
        _check_endpoint_name(endpoint_name, "EndpointName")

    return SmokeTestRequest(
        stack_name=stack_name,
        endpoint_name=endpoint_name,
        output_key=_optional_str(event, "EndpointOutputKey") or DEFAULT_OUTPUT_KEY,
        inference_component_name=_optional_str(event, "InferenceComponentName"),
        content_type=_required_str(event, "ContentType"),
        accept=_optional_str(event, "Accept"),
        # The payload may be sensitive: error messages give its type, never its content.
        payload=_required_str(event, "Payload", show_value=False),
        max_latency_ms=_int_field(event, "MaxLatencyMs", default=None, minimum=1, maximum=600_000),
        attempts=_int_field(event, "Attempts", default=1, minimum=1, maximum=MAX_ATTEMPTS),
    )


# --------------------------------------------------------------------------------------------------------
# AWS calls
# --------------------------------------------------------------------------------------------------------


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def _truncate(text: str, limit: int = DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def resolve_endpoint_name(stack_name: str, output_key: str) -> str:
    """Read the endpoint name from output ``output_key`` of CloudFormation stack ``stack_name``.

    Raises:
        SmokeTestInputError: see ``resolve_target``.
    """
    return resolve_target(stack_name, output_key)[0]


def resolve_target(stack_name: str, output_key: str) -> tuple[str, str | None]:
    """The endpoint name from output ``output_key`` of CloudFormation stack ``stack_name``, and the
    inference component from its output ``InferenceComponentName`` (``None`` when the stack has no such
    output: the model has an endpoint of its own).

    Raises:
        SmokeTestInputError: the stack does not exist, lacks the output, or the output is not an
            endpoint name.
        botocore.exceptions.ClientError: any other CloudFormation error (access denied, throttling...).
    """
    try:
        response = cloudformation_client().describe_stacks(StackName=stack_name)
    except ClientError as error:
        if _error_code(error) == "ValidationError" and "does not exist" in _error_message(error):
            raise SmokeTestInputError(f"StackName {stack_name!r}: no such CloudFormation stack") from error
        raise
    stacks = response.get("Stacks") or []
    if not stacks or stacks[0].get("StackStatus") == "DELETE_COMPLETE":
        raise SmokeTestInputError(f"StackName {stack_name!r}: no such CloudFormation stack")
    outputs = {
        output["OutputKey"]: output.get("OutputValue", "") for output in stacks[0].get("Outputs") or []
    }
    if output_key not in outputs:
        available = ", ".join(sorted(outputs)) or "none"
        raise SmokeTestInputError(
            f"EndpointOutputKey {output_key!r} is not an output of stack {stack_name!r} "
            f"(its outputs: {available})"
        )
    endpoint = _check_endpoint_name(str(outputs[output_key]), f"output {output_key!r} of stack {stack_name!r}")
    component = outputs.get(COMPONENT_OUTPUT_KEY)
    return endpoint, str(component) if component else None


def endpoint_status(endpoint_name: str) -> tuple[str, str]:
    """``(EndpointStatus, FailureReason)`` of an endpoint; ``("NotFound", ...)`` when it does not exist."""
    try:
        description = sagemaker_client().describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if _error_code(error) == "ValidationException" and "Could not find" in _error_message(error):
            return "NotFound", _error_message(error)
        raise
    return str(description.get("EndpointStatus", "Unknown")), str(description.get("FailureReason", ""))


def _client_error_status(error: ClientError) -> int:
    """The model container's status for a ModelError, else the HTTP status SageMaker answered with."""
    original = error.response.get("OriginalStatusCode")
    if isinstance(original, int):
        return original
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status if isinstance(status, int) else 0


def _result(
    passed: bool,
    endpoint_name: str,
    latencies: list[float],
    status_code: int,
    preview: str,
    reason: str,
) -> SmokeTestResult:
    return {
        "passed": passed,
        "endpointName": endpoint_name,
        "latenciesMs": latencies,
        "maxLatencyMs": max(latencies, default=0.0),
        "statusCode": status_code,
        "responsePreview": preview,
        "reason": reason,
    }


def smoke_test_endpoint(endpoint_name: str, request: SmokeTestRequest) -> SmokeTestResult:
    """Check that the endpoint is InService, then invoke it ``request.attempts`` times.

    Invocation stops at the first error or empty body; latencies are judged once all attempts are done.
    Only errors that are not about the endpoint's health (e.g. access denied on DescribeEndpoint)
    propagate as exceptions.
    """
    status, failure_reason = endpoint_status(endpoint_name)
    if status == "NotFound":
        reason = f"endpoint {endpoint_name} was not found (status NotFound, expected {IN_SERVICE})"
        return _result(False, endpoint_name, [], 0, "", reason)
    if status != IN_SERVICE:
        detail = f": {_truncate(failure_reason)}" if failure_reason else ""
        reason = f"endpoint {endpoint_name} is {status}, not {IN_SERVICE}{detail}"
        return _result(False, endpoint_name, [], 0, "", reason)

    arguments: dict[str, Any] = {
        "EndpointName": endpoint_name,
        "ContentType": request.content_type,
        "Body": request.payload.encode("utf-8"),
    }
    if request.inference_component_name is not None:
        arguments["InferenceComponentName"] = request.inference_component_name
    if request.accept is not None:
        arguments["Accept"] = request.accept

    latencies: list[float] = []
    status_code = 0
    preview = ""
    for attempt in range(1, request.attempts + 1):
        label = f"invocation {attempt}/{request.attempts}"
        started = clock()
        try:
            response = runtime_client().invoke_endpoint(**arguments)
            body: bytes = response["Body"].read()
        except ClientError as error:
            latencies.append(round((clock() - started) * 1000.0, 3))
            message = _error_message(error)
            original = error.response.get("OriginalMessage")
            if original and original not in message:
                message = f"{message} (model said: {original})"
            reason = f"{label} failed with {_error_code(error)}: {_truncate(message)}"
            return _result(False, endpoint_name, latencies, _client_error_status(error), "", reason)
        except BotoCoreError as error:
            latencies.append(round((clock() - started) * 1000.0, 3))
            reason = f"{label} failed: {_truncate(str(error))}"
            return _result(False, endpoint_name, latencies, 0, "", reason)
        latencies.append(round((clock() - started) * 1000.0, 3))
        status_code = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200))
        preview = body.decode("utf-8", errors="replace")[:PREVIEW_CHARS]
        if not body.strip():
            reason = f"{label} returned an empty response body"
            return _result(False, endpoint_name, latencies, status_code, preview, reason)

    slowest = max(latencies)
    if slowest > request.max_latency_ms:
        attempt = latencies.index(slowest) + 1
        reason = (
            f"invocation {attempt}/{request.attempts} took {slowest:.1f} ms, "
            f"more than MaxLatencyMs {request.max_latency_ms}"
        )
        return _result(False, endpoint_name, latencies, status_code, preview, reason)

    reason = (
        f"endpoint {endpoint_name} answered {request.attempts} invocation(s); "
        f"slowest {slowest:.1f} ms <= MaxLatencyMs {request.max_latency_ms}"
    )
    return _result(True, endpoint_name, latencies, status_code, preview, reason)


# --------------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------------


def handler(event: Any, context: Any) -> SmokeTestResult:
    """Lambda entry point (``handler.handler``); see the module docstring for the event and result.

    Raises:
        SmokeTestInputError: the event is malformed or names a missing stack or stack output.
    """
    del context  # unused
    _configure_logging()
    request = parse_event(event)
    if request.stack_name is not None:
        endpoint_name, component = resolve_target(request.stack_name, request.output_key)
        LOGGER.info(
            "Stack %s output %s names endpoint %s", request.stack_name, request.output_key, endpoint_name
        )
        if component is not None and request.inference_component_name is None:
            LOGGER.info("Stack %s names inference component %s", request.stack_name, component)
            request = dataclasses.replace(request, inference_component_name=component)
    else:
        endpoint_name = request.endpoint_name or ""  # parse_event guarantees one of the two

    LOGGER.info("Smoke testing endpoint %s (%d attempt(s))", endpoint_name, request.attempts)
    result = smoke_test_endpoint(endpoint_name, request)
    LOGGER.log(
        logging.INFO if result["passed"] else logging.WARNING,
        "Smoke test %s for endpoint %s: %s (latencies ms: %s)",
        "PASSED" if result["passed"] else "FAILED",
        endpoint_name,
        result["reason"],
        result["latenciesMs"],
    )
    return result
