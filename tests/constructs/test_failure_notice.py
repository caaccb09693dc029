"""The failure path every workflow shares (cdk_mlops.constructs.failure_notice): its rendered states,
the message layout, and what it makes of each shape of error ``Cause`` on the local engine.

Intrinsic function templates reserve ``'``, ``{``, ``}`` and ``\\`` (escaped with a backslash), per the
Step Functions documentation on intrinsic functions (https://docs.aws.amazon.com/step-functions/latest/
dg/intrinsic-functions.html); a Catch may assign workflow variables, which JSONPath states read as
``$name`` (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Template

from cdk_mlops.constructs.failure_notice import (
    FailurePath,
    Headline,
    Line,
    catch_failure,
    escape,
    message,
)
from cdk_mlops.local.engine import LocalEngine
from cdk_mlops.local.harness import TokenResolver

NEWLINE = "States.Base64Decode('Cg==')"
REGION = "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 3)"


def failing_workflow() -> tuple[dict[str, Any], dict[str, Any]]:
    """A state machine ``Read`` (an S3 GetObject caught by ``catch_failure``) → ``FailurePath``, and
    its definition with tokens resolved as the local harness does (plain ASL) and rendered (raw)."""
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Notices", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    topic = sns.Topic(stack, "Topic")
    bucket = s3.Bucket(stack, "Bucket")
    path = FailurePath(
        stack,
        headline=Headline("demo", "test workflow"),
        topic=topic,
        subject="cdk-mlops: demo",
        then=sfn.Fail(stack, "Failed", error="TestFailed"),
        job_name_fields=["TrainingJobName"],
    )
    read = tasks.CallAwsService(
        stack,
        "Read",
        service="s3",
        action="getObject",
        iam_action="s3:GetObject",
        parameters={"Bucket": bucket.bucket_name, "Key": "k"},
        iam_resources=[bucket.arn_for_objects("*")],
    )
    catch_failure(read, path.entry)
    sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(read))
    template = Template.from_stack(stack).to_json()
    resolved = TokenResolver({"Notices": template}).state_machine_definitions("Notices")
    [(logical_id, definition)] = resolved.items()
    return {"logical_id": logical_id, **definition}, template


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    definition, _ = failing_workflow()
    return definition


def test_reserved_characters_are_escaped_in_templates() -> None:
    assert escape("it's {x} \\ ok") == "it\\'s \\{x\\} \\\\ ok"


def test_a_line_needs_one_argument_per_slot() -> None:
    with pytest.raises(ValueError, match="has 2 slots for 1 arguments"):
        Line("{} and {}", ["$.a"]).render()


def test_a_message_is_the_headline_then_the_console_url_then_its_lines() -> None:
    text = message(
        Headline("churn", "training workflow").line("{} is low", ["$.auc"], state="Gate {x}", verb="stopped at"),
        Line("Details: it's {{literal}}"),
    )

    assert text == (
        "States.Format('churn training workflow stopped at Gate \\{x\\}: {} is low{}Execution: "
        "https://{}.console.aws.amazon.com/states/home?region={}#/v2/executions/details/{}{}Details: "
        f"it\\'s \\{{literal\\}}', $.auc, {NEWLINE}, {REGION}, {REGION}, $$.Execution.Id, {NEWLINE})"
    )


def test_a_catch_records_the_failed_state_and_goes_to_describe_failure(workflow: dict[str, Any]) -> None:
    assert workflow["States"]["Read"]["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Assign": {"failedState": "Read"},
            "Next": "DescribeFailure",
        }
    ]


def test_json_causes_are_parsed_and_text_causes_quoted(workflow: dict[str, Any]) -> None:
    describe = workflow["States"]["DescribeFailure"]
    [json_cause, text_cause] = describe["Choices"]

    assert json_cause["Next"] == "ParseFailureCause"
    assert {"Variable": "$.error.Cause", "StringMatches": "{*}"} in json_cause["And"]
    assert text_cause["Next"] == "QuoteErrorCause"
    assert describe["Default"] == "UseErrorName"
    assert workflow["States"]["ParseFailureCause"]["Parameters"] == {"cause.$": "States.StringToJson($.error.Cause)"}
    assert [choice["Next"] for choice in workflow["States"]["FailureCauseKind"]["Choices"]] == [
        "ReadTrainingJobFailure",
        "ReadFailureReason",
        "ReadErrorMessage",
    ]
    assert workflow["States"]["NotifyFailure"]["Next"] == "Failed"


def run_with_cause(workflow: dict[str, Any], error: str, cause: str) -> str:
    definition = {key: value for key, value in workflow.items() if key != "logical_id"}
    with LocalEngine() as engine:
        engine.fail_state("Read", error=error, cause=cause)
        result = engine.run(json.dumps(definition), name="run-1", state_machine_name=workflow["logical_id"])
        [notification] = engine.notifications
    assert result.status == "FAILED"
    return notification.message


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (
            json.dumps({"TrainingJobName": "demo-1-train", "FailureReason": "AlgorithmError: boom"}),
            "AlgorithmError: boom",
        ),
        (json.dumps({"FailureReason": "ClientError: quota"}), "ClientError: quota"),
        (json.dumps({"errorMessage": "no outputs", "stackTrace": ["x"] * 50}), "no outputs"),
        (json.dumps({"Other": "shape"}), "Oops.Error"),
        ("Access Denied (Service: S3, Status Code: 403)", "Oops.Error: Access Denied (Service: S3, Status Code: 403)"),
        ("", "Oops.Error"),
    ],
)
def test_each_shape_of_cause_gives_a_one_line_reason(workflow: dict[str, Any], cause: str, reason: str) -> None:
    lines = run_with_cause(workflow, "Oops.Error", cause).splitlines()

    assert lines[0] == f"demo test workflow failed at Read: {reason}"
    assert lines[1].startswith("Execution: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/")
    assert lines[1].endswith(":run-1")
    assert lines[-1] == "Error: Oops.Error"


def test_a_job_failure_names_its_log_group_and_stream_prefix(workflow: dict[str, Any]) -> None:
    cause = json.dumps({"TrainingJobName": "demo-1-train", "FailureReason": "AlgorithmError: boom"})

    lines = run_with_cause(workflow, "States.TaskFailed", cause).splitlines()

    assert lines[2] == "Logs: CloudWatch log group /aws/sagemaker/TrainingJobs, log streams demo-1-train/*"
