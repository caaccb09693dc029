"""The smoke-test workflow (``SmokeTestWorkflow``) of the churn-xgb pipeline: a Lambda sends the
configured payload to the staging endpoint; a failed or broken test notifies and fails."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_mlops_testing import KEY_EXPORT, construct_resource, definition, happy_path, render, role_statements

STAGING_STACK = "Mlops-churn-xgb-Staging"


@pytest.fixture(scope="module")
def template(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-churn-xgb-Pipeline"]


@pytest.fixture(scope="module")
def smoke(template) -> dict[str, Any]:
    return definition(template, "MlPipelineSmokeTest")


@pytest.fixture(scope="module")
def function(template) -> tuple[str, dict[str, Any]]:
    return construct_resource(template, "AWS::Lambda::Function", "MlPipelineSmokeTestFunction")


def test_smoke_test_invokes_the_function_then_checks_the_verdict(smoke) -> None:
    assert happy_path(smoke, {"Passed?": "SmokeTestPassed"}) == ["InvokeSmokeTest", "Passed?", "SmokeTestPassed"]


def test_function_receives_the_configured_payload_and_the_staging_stack(smoke, function) -> None:
    invoke = smoke["States"]["InvokeSmokeTest"]

    assert invoke["Resource"] == "arn:${AWS::Partition}:states:::lambda:invoke"
    assert invoke["Parameters"] == {
        "FunctionName": f"${{{function[0]}.Arn}}",
        "Payload": {
            "StackName": STAGING_STACK,
            "EndpointOutputKey": "EndpointName",
            "ContentType": "text/csv",
            "Payload": "42,1,0,5,99.5,3",
            "MaxLatencyMs": 3000,
            "Attempts": 3,
        },
    }
    assert invoke["ResultSelector"] == {"result.$": "$.Payload"}
    assert invoke["ResultPath"] == "$.smokeTest"


def test_only_an_explicit_pass_lets_the_release_continue(smoke) -> None:
    assert smoke["States"]["Passed?"] == {
        "Type": "Choice",
        "Choices": [
            {
                "And": [
                    {"Variable": "$.smokeTest.result.passed", "IsPresent": True},
                    {"Variable": "$.smokeTest.result.passed", "BooleanEquals": True},
                ],
                "Next": "SmokeTestPassed",
            }
        ],
        "Default": "NotifySmokeTestFailed",
    }
    assert smoke["States"]["NotifySmokeTestFailed"]["Next"] == "SmokeTestFailed"
    assert smoke["States"]["SmokeTestFailed"]["Error"] == "SmokeTestFailed"


def test_an_error_running_the_test_notifies_and_fails(smoke) -> None:
    states = smoke["States"]

    assert states["InvokeSmokeTest"]["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Assign": {"failedState": "InvokeSmokeTest"},
            "Next": "DescribeFailure",
        }
    ]
    assert states["NotifySmokeTestError"]["Next"] == "SmokeTestError"
    assert states["SmokeTestError"] == {"Type": "Fail", "Error": "SmokeTestError", "CausePath": "$.error.Cause"}
    assert states["InvokeSmokeTest"]["Retry"][0]["BackoffRate"] == 2


def test_function_is_traced_and_logs_to_an_encrypted_group(template, function) -> None:
    properties = function[1]["Properties"]
    log_group = template["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]

    assert properties["Handler"] == "handler.handler"
    assert properties["Runtime"].startswith("python3.")
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Timeout"] == 240  # 80 seconds per attempt, 3 attempts
    assert properties["MemorySize"] == 256
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::ImportValue": KEY_EXPORT}
    assert log_group["Properties"]["RetentionInDays"] == 365


def test_function_may_read_only_the_staging_stack_and_call_endpoints(template, function) -> None:
    role_id = function[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    granted = {
        action: sorted(render(resource) for resource in statement.resources)
        for statement in role_statements(template, role_id)
        for action in statement.actions
        if action.startswith(("cloudformation:", "sagemaker:"))
    }

    assert granted == {
        "cloudformation:DescribeStacks": [
            f"arn:${{AWS::Partition}}:cloudformation:eu-west-1:${{AWS::AccountId}}:stack/{STAGING_STACK}/*"
        ],
        "sagemaker:DescribeEndpoint": ["arn:${AWS::Partition}:sagemaker:eu-west-1:${AWS::AccountId}:endpoint/*"],
        "sagemaker:InvokeEndpoint": ["arn:${AWS::Partition}:sagemaker:eu-west-1:${AWS::AccountId}:endpoint/*"],
    }
