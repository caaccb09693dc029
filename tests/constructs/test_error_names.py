"""Every Retry and Catch in every synthesized workflow names errors its integration really reports.

The names come from one table per integration kind (:mod:`cdk_mlops.constructs.error_names`), following
the Step Functions developer guide: "AWS SDK service integrations" (``<ServiceName>.<ErrorName>``, always
with the ``Exception`` suffix) and "Handling errors in Step Functions workflows" / "Handle Lambda service
exceptions" (optimized integrations). A name outside the table (``S3.ThrottlingException``) never matches.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest

from cdk_mlops.app_builder import build_app
from cdk_mlops.constructs import error_names
from cdk_mlops.constructs.error_names import AWS_SDK, OPTIMIZED, IntegrationKind
from cdk_mlops_testing import REPO_ROOT, render_definition, resources

#: botocore's service model names of the aws-sdk services in the table.
BOTOCORE_NAMES = {"sfn": "stepfunctions"}


@pytest.fixture(scope="module")
def example_templates() -> dict[str, dict[str, Any]]:
    """The per-mode examples in ``examples/``, synthesized once for this module."""
    app = cdk.App(builtin_cloud_formation_validation=False)
    build_app(app, REPO_ROOT / "examples", region="eu-west-1")
    return {stack.stack_name: stack.template for stack in app.synth().stacks}


def definitions(templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{stack}/{logical_id}": render_definition(machine["Properties"]["DefinitionString"])
        for stack, template in templates.items()
        for logical_id, machine in resources(template, "AWS::StepFunctions::StateMachine").items()
    }


def all_definitions(example_app: Any, example_templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {**definitions(example_app.json), **definitions(example_templates)}
    assert len(found) >= 10, sorted(found)  # the app's and the examples' workflows were found
    return found


def test_every_retry_and_catch_name_comes_from_the_table_of_its_integration(example_app, example_templates) -> None:
    problems = {
        name: error_names.unknown_error_names(definition)
        for name, definition in all_definitions(example_app, example_templates).items()
    }

    assert {name: found for name, found in problems.items() if found} == {}


def test_every_task_with_a_throttle_retry_retries_its_integrations_throttle(example_app, example_templates) -> None:
    checked = 0
    for name, definition in all_definitions(example_app, example_templates).items():
        for state_name, state in definition["States"].items():
            retried = {error for rule in state.get("Retry", []) for error in rule["ErrorEquals"]}
            errors = error_names.for_resource(str(state.get("Resource", "")))
            if state.get("Type") != "Task" or not retried or errors is None or errors.service == "lambda":
                continue  # Lambda tasks keep aws-cdk-lib's LambdaInvoke retry of Lambda's service errors
            assert set(errors.throttling) <= retried, (name, state_name, sorted(retried))
            checked += 1
    assert checked >= 20


def test_the_checker_flags_names_that_never_match() -> None:
    definition = {
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Retry": [{"ErrorEquals": ["S3.ThrottlingException", "States.Timeout"]}],
                "Catch": [{"ErrorEquals": ["Sfn.ThrottlingException"], "Next": "Done"}],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }

    assert error_names.unknown_error_names(definition) == [
        "state 'Read' (aws-sdk s3): Retry names 'S3.ThrottlingException', not in the error table",
        "state 'Read' (aws-sdk s3): Catch names 'Sfn.ThrottlingException', not in the error table",
    ]


@pytest.mark.parametrize(
    ("resource", "kind", "service"),
    [
        ("arn:aws:states:::sagemaker:createTrainingJob.sync", IntegrationKind.OPTIMIZED, "sagemaker"),
        ("arn:${AWS::Partition}:states:::aws-sdk:sagemaker:addTags", IntegrationKind.AWS_SDK, "sagemaker"),
        ("arn:aws:states:::aws-sdk:cloudformation:describeStacks", IntegrationKind.AWS_SDK, "cloudformation"),
        ("arn:aws:states:::lambda:invoke", IntegrationKind.OPTIMIZED, "lambda"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:smoke", IntegrationKind.OPTIMIZED, "lambda"),
    ],
)
def test_a_task_resource_selects_its_integration_table(resource: str, kind: IntegrationKind, service: str) -> None:
    errors = error_names.for_resource(resource)

    assert errors is not None
    assert (errors.kind, errors.service) == (kind, service)


def test_every_name_ends_in_exception_as_the_aws_sdk_naming_rule_requires() -> None:
    names = {name for table in (AWS_SDK, OPTIMIZED) for errors in table.values() for name in errors.names}

    assert {name for name in names if not name.endswith("Exception")} == {"Lambda.Unknown"}
    for errors in AWS_SDK.values():
        assert all(name.startswith(f"{errors.prefix}.") for name in errors.names), errors.service


@pytest.mark.parametrize("service", sorted(AWS_SDK))
def test_aws_sdk_declared_names_are_error_shapes_of_the_services_api_model(service: str) -> None:
    """A declared name is ``<Prefix>.<error shape>[Exception]``; a throttle is named after the service's
    base exception unless the API model declares a throttling error (botocore's models are AWS's)."""
    errors = AWS_SDK[service]
    model = botocore.session.get_session().get_service_model(BOTOCORE_NAMES.get(service, service))
    shapes = {shape.name for shape in model.error_shapes}
    declared = {error_names.sdk_error_name(errors.prefix, shape) for shape in shapes}

    assert set(errors.declared) <= declared
    for throttle in errors.throttling:
        assert throttle in declared or throttle == error_names.sdk_error_name(errors.prefix, None), throttle
    undeclared_throttles = {"ThrottlingException", "Throttling", "SlowDown"} & shapes
    assert not undeclared_throttles or set(errors.throttling) <= declared


def test_the_optimized_sagemaker_integration_reports_a_throttle_under_its_generic_name() -> None:
    assert OPTIMIZED["sagemaker"].throttling == ("SageMaker.AmazonSageMakerException",)
    assert error_names.optimized_sagemaker_error_name("ThrottlingException") == "SageMaker.AmazonSageMakerException"
    assert error_names.optimized_sagemaker_error_name("ResourceInUse") == "SageMaker.ResourceInUseException"
