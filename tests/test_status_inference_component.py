"""``cdk-mlops status`` of a model on a shared endpoint: the endpoint stack's ``InferenceComponentName``
output names the component, whose status and copies come from ``DescribeInferenceComponent`` (SageMaker
API reference: ``InferenceComponentStatus``, ``RuntimeConfig.CurrentCopyCount``/``DesiredCopyCount``).
AWS is stubbed with botocore's Stubber (moto has no inference components)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cdk_mlops.constructs.inference_component import COMPONENT_OUTPUT as STACK_COMPONENT_OUTPUT
from cdk_mlops.operations import COMPONENT_OUTPUT, EndpointState, _endpoints

REGION = "eu-west-1"
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
PACKAGE = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/3"


class StubbedClients:
    """``Clients`` with stubbed CloudFormation and SageMaker clients."""

    def __init__(self) -> None:
        session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
        self.clients = {name: session.client(name) for name in ("cloudformation", "sagemaker")}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def __call__(self, service: str) -> Any:
        return self.clients[service]


@pytest.fixture
def clients() -> Iterator[StubbedClients]:
    stubbed = StubbedClients()
    for stub in stubbed.stubs.values():
        stub.activate()
    yield stubbed
    for stub in stubbed.stubs.values():
        stub.assert_no_pending_responses()


def _stack(name: str, outputs: dict[str, str], package: str) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": name,
                "CreationTime": NOW,
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
                "Parameters": [{"ParameterKey": "ModelPackageArn", "ParameterValue": package}],
            }
        ]
    }


def test_the_stack_and_the_status_command_agree_on_the_components_output_name() -> None:
    assert COMPONENT_OUTPUT == STACK_COMPONENT_OUTPUT


def test_status_of_a_component_shows_the_shared_endpoint_the_component_and_its_copies(
    clients: StubbedClients,
) -> None:
    cloudformation, sagemaker = clients.stubs["cloudformation"], clients.stubs["sagemaker"]
    cloudformation.add_response(
        "describe_stacks", _stack("Mlops-churn-Staging", {"EndpointName": "churn-staging"}, PACKAGE)
    )
    sagemaker.add_response("describe_endpoint", _endpoint("churn-staging"), {"EndpointName": "churn-staging"})
    outputs = {"EndpointName": "Mlops-Endpoint-team", COMPONENT_OUTPUT: "Mlops-churn-Production-Component"}
    cloudformation.add_response("describe_stacks", _stack("Mlops-churn-Production", outputs, PACKAGE))
    sagemaker.add_response(
        "describe_endpoint", _endpoint("Mlops-Endpoint-team"), {"EndpointName": "Mlops-Endpoint-team"}
    )
    sagemaker.add_response(
        "describe_inference_component",
        {
            "InferenceComponentName": "Mlops-churn-Production-Component",
            "InferenceComponentArn": "arn:aws:sagemaker:eu-west-1:123456789012:inference-component/x",
            "EndpointName": "Mlops-Endpoint-team",
            "EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/mlops-endpoint-team",
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
            "InferenceComponentStatus": "InService",
            "RuntimeConfig": {"DesiredCopyCount": 3, "CurrentCopyCount": 2},
        },
        {"InferenceComponentName": "Mlops-churn-Production-Component"},
    )

    staging, production = _endpoints(clients, "churn")  # type: ignore[arg-type]

    assert staging == EndpointState("Staging", "Mlops-churn-Staging", "churn-staging", "InService", PACKAGE)
    assert production == EndpointState(
        "Production",
        "Mlops-churn-Production",
        "Mlops-Endpoint-team",
        "endpoint InService, component InService, 2/3 copies",
        PACKAGE,
        "Mlops-churn-Production-Component",
    )


def _endpoint(name: str) -> dict[str, Any]:
    return {
        "EndpointName": name,
        "EndpointArn": f"arn:aws:sagemaker:eu-west-1:123456789012:endpoint/{name.lower()}",
        "EndpointStatus": "InService",
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }
