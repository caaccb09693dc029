"""Tests for the smoke-test Lambda (``lambda_src/smoke_test/handler.py``), offline against moto.

The handler module is loaded from its file, as Lambda loads it from the asset directory, so the tests
also prove it needs nothing from ``lambda_src`` or ``cdk_mlops``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from cdk_mlops.lambda_code import load_handler
from cdk_mlops_testing import offline_aws

# Not moto's default region: proves the handler takes its region from the environment.
REGION = "eu-west-2"
STACK_NAME = "Mlops-churn-Staging"
ENDPOINT_NAME = "churn-staging"
MOTO_RESULTS_API = "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results"

# moto has no model for this resource type; it still creates the stack and its literal outputs.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.+WaitConditionHandle:UserWarning")


smoke = load_handler("smoke_test", "smoke_test_handler_under_test")


# --------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region, fresh moto backends, and no clients cached from another test."""
    with offline_aws(monkeypatch, REGION, smoke):
        yield


def _create_endpoint(name: str = ENDPOINT_NAME) -> None:
    client = boto3.client("sagemaker", region_name=REGION)
    client.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/SageMakerExecution",
        PrimaryContainer={"Image": f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/churn:latest"},
    )
    client.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def _create_stack(outputs: dict[str, str], stack_name: str = STACK_NAME) -> None:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=stack_name, TemplateBody=json.dumps(template)
    )


def _queue_inference_results(*bodies: str, content_type: str = "application/json") -> None:
    """Queue invoke_endpoint results through moto's documented API (intercepted in-process by moto)."""
    response = requests.post(
        MOTO_RESULTS_API,
        json={
            "account_id": DEFAULT_ACCOUNT_ID,
            "region": REGION,
            "results": [{"Body": body, "ContentType": content_type} for body in bodies],
        },
        timeout=5,
    )
    assert response.status_code == 201


def _set_endpoint_status(status: str, failure_reason: str | None = None, name: str = ENDPOINT_NAME) -> None:
    """moto makes endpoints InService at once and has no API to change that: edit its backend."""
    endpoint = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[name]
    endpoint.endpoint_status = status
    endpoint.failure_reason = failure_reason  # type: ignore[assignment]  # moto annotates it as None


def _fake_clock(monkeypatch: pytest.MonkeyPatch, durations_ms: list[float]) -> None:
    """Make invocation i take ``durations_ms[i]`` according to the handler's clock (two reads per call)."""
    ticks: list[float] = []
    for index, duration in enumerate(durations_ms):
        start = 100.0 * (index + 1)
        ticks += [start, start + duration / 1000.0]
    readings = iter(ticks)
    monkeypatch.setattr(smoke, "clock", lambda: next(readings))


def _record_invocations() -> list[dict[str, Any]]:
    """Capture the parameters of every InvokeEndpoint call the handler's runtime client makes."""
    calls: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    smoke.runtime_client().meta.events.register(
        "provide-client-params.sagemaker-runtime.InvokeEndpoint", capture
    )
    return calls


def _event(**overrides: Any) -> dict[str, Any]:
    """A valid stack-based event; an override of ``None`` removes that field."""
    event: dict[str, Any] = {
        "StackName": STACK_NAME,
        "EndpointOutputKey": "EndpointName",
        "ContentType": "text/csv",
        "Accept": "application/json",
        "Payload": "1,2,3",
        "MaxLatencyMs": 3000,
    }
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


# --------------------------------------------------------------------------------------------------------
# Healthy endpoints
# --------------------------------------------------------------------------------------------------------


def test_passes_for_healthy_endpoint_resolved_from_stack_outputs(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create_stack({"EndpointName": ENDPOINT_NAME, "ModelPackageArn": "arn:aws:sagemaker:::x"})
    _create_endpoint()
    _queue_inference_results('{"churn_probability": 0.93}')
    _fake_clock(monkeypatch, [41.2, 38.9, 40.0])
    calls = _record_invocations()

    result = smoke.handler(_event(Attempts=3), None)

    assert result == {
        "passed": True,
        "endpointName": ENDPOINT_NAME,
        "latenciesMs": [41.2, 38.9, 40.0],
        "maxLatencyMs": 41.2,
        "statusCode": 200,
        "responsePreview": '{"churn_probability": 0.93}',
        "reason": "endpoint churn-staging answered 3 invocation(s); slowest 41.2 ms <= MaxLatencyMs 3000",
    }
    assert len(calls) == 3
    assert calls[0] == {
        "EndpointName": ENDPOINT_NAME,
        "ContentType": "text/csv",
        "Accept": "application/json",
        "Body": b"1,2,3",
    }


def test_passes_when_endpoint_name_given_directly_with_defaults(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create_endpoint("churn-direct")
    _queue_inference_results("0.12", content_type="text/csv")
    _fake_clock(monkeypatch, [12.5])
    calls = _record_invocations()
    event = _event(StackName=None, EndpointOutputKey=None, Accept=None, EndpointName="churn-direct")

    result = smoke.handler(event, None)

    assert result["passed"] is True
    assert result["endpointName"] == "churn-direct"
    assert result["latenciesMs"] == [12.5]  # Attempts defaults to 1
    assert result["statusCode"] == 200
    assert result["responsePreview"] == "0.12"
    assert calls == [{"EndpointName": "churn-direct", "ContentType": "text/csv", "Body": b"1,2,3"}]


def test_passes_with_real_clock_and_reports_measured_latencies(aws: None) -> None:
    _create_stack({"EndpointName": ENDPOINT_NAME})
    _create_endpoint()
    _queue_inference_results("[1]")

    result = smoke.handler(_event(Attempts=2), None)

    assert result["passed"] is True
    assert len(result["latenciesMs"]) == 2
    assert all(0.0 < latency < 3000.0 for latency in result["latenciesMs"])
    assert result["maxLatencyMs"] == max(result["latenciesMs"])


def test_latency_equal_to_max_latency_passes(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _create_endpoint()
    _queue_inference_results("[1]")
    _fake_clock(monkeypatch, [3000.0])

    result = smoke.handler(_event(StackName=None, EndpointName=ENDPOINT_NAME), None)

    assert result["passed"] is True
    assert result["maxLatencyMs"] == 3000.0


def test_response_preview_is_first_200_characters(aws: None) -> None:
    _create_endpoint()
    _queue_inference_results("a" * 150 + "b" * 150)

    result = smoke.handler(_event(StackName=None, EndpointName=ENDPOINT_NAME), None)

    assert result["passed"] is True
    assert result["responsePreview"] == "a" * 150 + "b" * 50


# --------------------------------------------------------------------------------------------------------
# Unhealthy endpoints: a normal ``passed: false`` result
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "failure_reason", "expected_reason"),
    [
        (
            "Failed",
            "The primary container did not pass the ping health check.",
            "endpoint churn-staging is Failed, not InService: "
            "The primary container did not pass the ping health check.",
        ),
        ("Updating", None, "endpoint churn-staging is Updating, not InService"),
        ("Creating", None, "endpoint churn-staging is Creating, not InService"),
    ],
)
def test_fails_when_endpoint_is_not_in_service_and_reason_names_the_status(
    aws: None, status: str, failure_reason: str | None, expected_reason: str
) -> None:
    _create_stack({"EndpointName": ENDPOINT_NAME})
    _create_endpoint()
    _set_endpoint_status(status, failure_reason)
    calls = _record_invocations()

    result = smoke.handler(_event(), None)

    assert result == {
        "passed": False,
        "endpointName": ENDPOINT_NAME,
        "latenciesMs": [],
        "maxLatencyMs": 0.0,
        "statusCode": 0,
        "responsePreview": "",
        "reason": expected_reason,
    }
    assert calls == []  # an endpoint that is not InService is never invoked


def test_fails_when_endpoint_does_not_exist(aws: None) -> None:
    _create_stack({"EndpointName": "churn-deleted"})

    result = smoke.handler(_event(), None)

    assert result["passed"] is False
    assert result["endpointName"] == "churn-deleted"
    assert result["reason"] == "endpoint churn-deleted was not found (status NotFound, expected InService)"
    assert result["latenciesMs"] == []


def test_fails_when_a_latency_exceeds_max_latency(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _create_stack({"EndpointName": ENDPOINT_NAME})
    _create_endpoint()
    _queue_inference_results('{"churn_probability": 0.4}')
    _fake_clock(monkeypatch, [120.0, 3500.0, 90.0])

    result = smoke.handler(_event(Attempts=3, MaxLatencyMs=3000), None)

    assert result == {
        "passed": False,
        "endpointName": ENDPOINT_NAME,
        "latenciesMs": [120.0, 3500.0, 90.0],
        "maxLatencyMs": 3500.0,
        "statusCode": 200,
        "responsePreview": '{"churn_probability": 0.4}',
        "reason": "invocation 2/3 took 3500.0 ms, more than MaxLatencyMs 3000",
    }


def test_fails_on_empty_response_body_and_stops_invoking(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _create_stack({"EndpointName": ENDPOINT_NAME})
    _create_endpoint()
    _queue_inference_results("")
    _fake_clock(monkeypatch, [25.0, 25.0, 25.0])
    calls = _record_invocations()

    result = smoke.handler(_event(Attempts=3), None)

    assert result == {
        "passed": False,
        "endpointName": ENDPOINT_NAME,
        "latenciesMs": [25.0],
        "maxLatencyMs": 25.0,
        "statusCode": 200,
        "responsePreview": "",
        "reason": "invocation 1/3 returned an empty response body",
    }
    assert len(calls) == 1


def test_fails_on_model_error_with_the_containers_status_code(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto cannot make invoke_endpoint fail, so the runtime client is stubbed for this one call.
    _create_endpoint()
    _fake_clock(monkeypatch, [8.0])
    with Stubber(smoke.runtime_client()) as stubber:
        stubber.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message="Received server error (500) from primary with message 'boom'.",
            http_status_code=424,
            modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": "boom"},
        )
        result = smoke.handler(_event(StackName=None, EndpointName=ENDPOINT_NAME), None)
        stubber.assert_no_pending_responses()

    assert result == {
        "passed": False,
        "endpointName": ENDPOINT_NAME,
        "latenciesMs": [8.0],
        "maxLatencyMs": 8.0,
        "statusCode": 500,
        "responsePreview": "",
        "reason": "invocation 1/1 failed with ModelError: "
        "Received server error (500) from primary with message 'boom'.",
    }


def test_fails_on_other_client_error_with_the_http_status_code(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create_endpoint()
    _fake_clock(monkeypatch, [2.0])
    with Stubber(smoke.runtime_client()) as stubber:
        stubber.add_client_error(
            "invoke_endpoint",
            service_error_code="ServiceUnavailable",
            service_message="Service is unavailable",
            http_status_code=503,
        )
        result = smoke.handler(_event(StackName=None, EndpointName=ENDPOINT_NAME), None)

    assert result["passed"] is False
    assert result["statusCode"] == 503
    assert result["reason"] == "invocation 1/1 failed with ServiceUnavailable: Service is unavailable"


# --------------------------------------------------------------------------------------------------------
# Bad events and missing stacks: SmokeTestInputError
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected_message"),
    [
        ({"Payload": None}, "Payload must be a non-empty string, got nothing (the field is missing)"),
        ({"Payload": ""}, "Payload must be a non-empty string, got a blank string"),
        ({"ContentType": None}, "ContentType must be a non-empty string, got nothing (the field is missing)"),
        ({"ContentType": 42}, "ContentType must be a non-empty string, got int 42"),
        (
            {"StackName": None},
            "the event needs StackName (to read the endpoint name from its outputs) or EndpointName, "
            "got neither",
        ),
        (
            {"EndpointName": "churn-staging"},
            "give StackName or EndpointName, not both; got StackName 'Mlops-churn-Staging' "
            "and EndpointName 'churn-staging'",
        ),
        ({"StackName": ""}, "StackName must be a non-empty string when given, got str ''"),
        (
            {"StackName": None, "EndpointName": "churn_staging!"},
            "EndpointName must be a SageMaker endpoint name (1-63 letters, digits or hyphens), "
            "got str 'churn_staging!'",
        ),
        ({"MaxLatencyMs": None}, "MaxLatencyMs must be an integer, got nothing (the field is missing)"),
        ({"MaxLatencyMs": "3000"}, "MaxLatencyMs must be an integer, got str '3000'"),
        ({"MaxLatencyMs": 2.5}, "MaxLatencyMs must be an integer, got float 2.5"),
        ({"MaxLatencyMs": True}, "MaxLatencyMs must be an integer, got bool True"),
        ({"MaxLatencyMs": 0}, "MaxLatencyMs must be between 1 and 600000, got 0"),
        ({"Attempts": 0}, "Attempts must be between 1 and 10, got 0"),
        ({"Attempts": "3"}, "Attempts must be an integer, got str '3'"),
        ({"Accept": 7}, "Accept must be a non-empty string when given, got int 7"),
    ],
)
def test_bad_event_raises_input_error_naming_field_and_value(
    aws: None, overrides: dict[str, Any], expected_message: str
) -> None:
    with pytest.raises(smoke.SmokeTestInputError, match=f"^{re.escape(expected_message)}$"):
        smoke.handler(_event(**overrides), None)


def test_input_error_is_a_value_error_and_never_echoes_the_payload(aws: None) -> None:
    with pytest.raises(ValueError, match=r"^Payload must be a non-empty string, got a value of type dict$"):
        smoke.handler(_event(Payload={"api_key": "hunter2"}), None)


def test_non_object_event_raises_input_error(aws: None) -> None:
    with pytest.raises(smoke.SmokeTestInputError, match=r"^the event must be a JSON object, got list$"):
        smoke.handler(["Mlops-churn-Staging"], None)


def test_integral_float_max_latency_is_accepted(aws: None) -> None:
    request = smoke.parse_event(_event(MaxLatencyMs=3000.0, Attempts=2.0))

    assert request.max_latency_ms == 3000
    assert request.attempts == 2
    assert request.output_key == "EndpointName"


def test_missing_stack_raises_input_error(aws: None) -> None:
    with pytest.raises(
        smoke.SmokeTestInputError, match=r"^StackName 'Mlops-churn-Prod': no such CloudFormation stack$"
    ):
        smoke.handler(_event(StackName="Mlops-churn-Prod"), None)


def test_stack_without_the_output_raises_input_error_listing_its_outputs(aws: None) -> None:
    _create_stack({"BucketName": "artifacts", "RoleArn": "arn:aws:iam::123456789012:role/x"})

    with pytest.raises(smoke.SmokeTestInputError) as raised:
        smoke.handler(_event(EndpointOutputKey="StagingEndpointName"), None)

    assert str(raised.value) == (
        "EndpointOutputKey 'StagingEndpointName' is not an output of stack 'Mlops-churn-Staging' "
        "(its outputs: BucketName, RoleArn)"
    )


def test_stack_output_that_is_not_an_endpoint_name_raises_input_error(aws: None) -> None:
    _create_stack({"EndpointName": "arn:aws:sagemaker:eu-west-2:123456789012:endpoint/churn"})

    with pytest.raises(smoke.SmokeTestInputError) as raised:
        smoke.handler(_event(), None)

    assert str(raised.value) == (
        "output 'EndpointName' of stack 'Mlops-churn-Staging' must be a SageMaker endpoint name "
        "(1-63 letters, digits or hyphens), got str 'arn:aws:sagemaker:eu-west-2:123456789012:endpoint/churn'"
    )


# --------------------------------------------------------------------------------------------------------
# Module hygiene: lazy clients, region from the environment, no secrets in logs
# --------------------------------------------------------------------------------------------------------


def test_import_creates_no_clients_and_clients_are_cached_per_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[tuple[str, str | None]] = []

    def fake_client(service: str, region_name: str | None = None, config: Any = None) -> object:
        created.append((service, region_name))
        return object()

    monkeypatch.setattr(boto3, "client", fake_client)
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    fresh = load_handler("smoke_test", "smoke_test_handler_import_check")
    try:
        assert created == []
        assert fresh.runtime_client() is fresh.runtime_client()
        assert fresh.sagemaker_client() is fresh.sagemaker_client()
        assert created == [("sagemaker-runtime", "ap-southeast-2"), ("sagemaker", "ap-southeast-2")]
    finally:
        del sys.modules["smoke_test_handler_import_check"]


def test_logs_endpoint_and_outcome_but_not_the_event(aws: None, caplog: pytest.LogCaptureFixture) -> None:
    _create_stack({"EndpointName": ENDPOINT_NAME})
    _create_endpoint()
    _queue_inference_results("[0.5]")
    caplog.set_level(logging.INFO, logger=smoke.LOGGER.name)

    smoke.handler(_event(Payload="customer-ssn-123-45-6789", ContentType="text/x-secret"), None)

    assert "Smoke test PASSED for endpoint churn-staging" in caplog.text
    assert "customer-ssn-123-45-6789" not in caplog.text
    assert "text/x-secret" not in caplog.text


# --------------------------------------------------------------------------------------------------------
# Inference components (a model on a shared endpoint)
# --------------------------------------------------------------------------------------------------------


def test_addresses_the_inference_component_named_by_the_stack_output(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # InvokeEndpoint's InferenceComponentName picks the model on an endpoint hosting several
    # (SageMaker Runtime API reference, InvokeEndpoint).
    _create_stack({"EndpointName": ENDPOINT_NAME, "InferenceComponentName": "Mlops-churn-Production-Component"})
    _create_endpoint()
    _queue_inference_results('{"churn_probability": 0.4}')
    _fake_clock(monkeypatch, [12.0])
    calls = _record_invocations()

    result = smoke.handler(_event(), None)

    assert result["passed"] is True
    assert calls == [
        {
            "EndpointName": ENDPOINT_NAME,
            "InferenceComponentName": "Mlops-churn-Production-Component",
            "ContentType": "text/csv",
            "Accept": "application/json",
            "Body": b"1,2,3",
        }
    ]


def test_an_inference_component_in_the_event_wins_over_the_stack_output(aws: None) -> None:
    _create_stack({"EndpointName": ENDPOINT_NAME, "InferenceComponentName": "from-the-stack"})
    _create_endpoint()
    _queue_inference_results("[0.1]")
    calls = _record_invocations()

    smoke.handler(_event(InferenceComponentName="from-the-event"), None)

    assert [call["InferenceComponentName"] for call in calls] == ["from-the-event"]


def test_a_stack_without_a_component_output_invokes_the_endpoint_alone(aws: None) -> None:
    _create_stack({"EndpointName": ENDPOINT_NAME})
    _create_endpoint()
    _queue_inference_results("[0.1]")
    calls = _record_invocations()

    smoke.handler(_event(), None)

    assert len(calls) == 1 and "InferenceComponentName" not in calls[0]
