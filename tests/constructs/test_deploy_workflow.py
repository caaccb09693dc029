"""The deploy workflows (``DeployWorkflow``) of the churn-xgb pipeline: they set the endpoint stack's
``ModelPackageArn`` parameter with UpdateStack, poll until the update settles, and (production only)
approve the package."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_mlops_testing import (
    KEY_EXPORT,
    construct_resource,
    definition,
    happy_path,
    render,
    role_statements,
    state_machine,
    state_machine_role_id,
    statements,
)

STAGING_STACK = "Mlops-churn-xgb-Staging"
PRODUCTION_STACK = "Mlops-churn-xgb-Production"
CFN_EXEC_ROLE = (
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-eu-west-1"
)


def stack_arn(stack_name: str) -> str:
    return f"arn:${{AWS::Partition}}:cloudformation:eu-west-1:${{AWS::AccountId}}:stack/{stack_name}/*"


@pytest.fixture(scope="module")
def template(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-churn-xgb-Pipeline"]


@pytest.fixture(scope="module")
def staging(template) -> dict[str, Any]:
    return definition(template, "MlPipelineDeployStaging")


@pytest.fixture(scope="module")
def production(template) -> dict[str, Any]:
    return definition(template, "MlPipelineDeployProduction")


def test_staging_deploy_resolves_updates_waits_and_succeeds_once_the_update_completes(staging) -> None:
    assert happy_path(staging, {"StackUpdated?": "Deployed"}) == [
        "ResolveModelPackage",
        "UpdateEndpointStack",
        "WaitForStack",
        "DescribeEndpointStack",
        "StackUpdated?",
        "Deployed",
        "Done",
    ]


def test_production_deploy_approves_and_tags_the_package_after_the_update_completes(production) -> None:
    assert happy_path(production, {"StackUpdated?": "Deployed"}) == [
        "ResolveModelPackage",
        "UpdateEndpointStack",
        "WaitForStack",
        "DescribeEndpointStack",
        "StackUpdated?",
        "Deployed",
        "ApproveModelPackage",
        "TagRelease",
        "Done",
    ]
    tag = production["States"]["TagRelease"]
    assert tag["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sagemaker:addTags"
    assert tag["Parameters"]["Tags"] == [
        {"Key": "cdk-mlops:pipeline-execution", "Value.$": "$.PipelineExecutionId"},
        {"Key": "cdk-mlops:deployed-by", "Value.$": "$$.Execution.Name"},
    ]


def test_production_rollback_rejects_the_package_with_the_stack_status(production, staging) -> None:
    choice = production["States"]["StackUpdated?"]
    [rollback] = [c for c in choice["Choices"] if "Or" in c]
    reject = production["States"][rollback["Next"]]

    # the rollback first reads the stack's reason, then rejects the package
    assert rollback["Next"] == "RollbackReason?"
    assert production["States"]["ReadRollbackReason"]["Next"] == "RejectModelPackage"
    assert production["States"]["NoRollbackReason"]["Next"] == "RejectModelPackage"
    reject = production["States"]["RejectModelPackage"]
    assert reject["Parameters"]["ModelApprovalStatus"] == "Rejected"
    assert "$.stack.status" in reject["Parameters"]["ApprovalDescription.$"]
    assert reject["Next"] == "NotifyRolledBack"
    assert "RejectModelPackage" not in staging["States"]
    assert staging["States"]["ReadRollbackReason"]["Next"] == "NotifyRolledBack"


def test_deploy_reads_the_registered_package_from_the_training_execution(template, staging) -> None:
    training_id, _ = construct_resource(template, "AWS::StepFunctions::StateMachine", "MlPipelineTraining")
    resolve = staging["States"]["ResolveModelPackage"]

    assert staging["StartAt"] == "ResolveModelPackage"
    assert resolve["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sfn:describeExecution"
    assert resolve["Parameters"] == {"ExecutionArn.$": "$.TrainingExecutionArn"}
    assert resolve["ResultSelector"] == {"output.$": "States.StringToJson($.Output)"}
    assert resolve["ResultPath"] == "$.training"
    assert resolve["Next"] == "UpdateEndpointStack"
    assert training_id == "MlPipelineTrainingE4186D57"


@pytest.mark.parametrize(("workflow", "stack"), [("staging", STAGING_STACK), ("production", PRODUCTION_STACK)])
def test_update_stack_keeps_the_template_and_changes_only_the_model_package(request, workflow, stack) -> None:
    update = request.getfixturevalue(workflow)["States"]["UpdateEndpointStack"]

    assert update["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:cloudformation:updateStack"
    assert update["Parameters"] == {
        "StackName": stack,
        "UsePreviousTemplate": True,
        "Parameters": [
            {"ParameterKey": "ModelPackageArn", "ParameterValue.$": "$.training.output.ModelPackageArn"},
            {"ParameterKey": "BootstrapVersion", "UsePreviousValue": True},
        ],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        "RoleARN": CFN_EXEC_ROLE,
        # CloudFormation tokens are [a-zA-Z0-9][-a-zA-Z0-9]*; execution names may hold '_' (run_names)
        "ClientRequestToken.$": "States.Hash($$.Execution.Name, 'MD5')",
    }
    assert update["Next"] == "WaitForStack"


def test_deploy_polls_the_stack_until_the_update_completes_or_rolls_back(staging) -> None:
    states = staging["States"]

    assert states["WaitForStack"] == {"Type": "Wait", "Seconds": 30, "Next": "DescribeEndpointStack"}
    assert states["DescribeEndpointStack"]["Resource"] == (
        "arn:${AWS::Partition}:states:::aws-sdk:cloudformation:describeStacks"
    )
    assert states["DescribeEndpointStack"]["Parameters"] == {"StackName": STAGING_STACK}
    assert states["DescribeEndpointStack"]["ResultSelector"]["status.$"] == "$.Stacks[0].StackStatus"
    assert states["DescribeEndpointStack"]["Next"] == "StackUpdated?"
    assert states["StackUpdated?"] == {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.stack.status", "StringEquals": "UPDATE_COMPLETE", "Next": "Deployed"},
            {
                "Or": [
                    {"Variable": "$.stack.status", "StringMatches": "*ROLLBACK*"},
                    {"Variable": "$.stack.status", "StringMatches": "*FAILED"},
                ],
                "Next": "RollbackReason?",
            },
        ],
        "Default": "WaitForStack",
    }


def test_a_rolled_back_update_notifies_and_fails(staging) -> None:
    states = staging["States"]

    assert states["NotifyRolledBack"]["Resource"] == "arn:${AWS::Partition}:states:::sns:publish"
    assert states["NotifyRolledBack"]["Parameters"]["Message.$"].startswith(
        "States.Format('churn-xgb deploy to staging failed at StackUpdated?: stack Mlops-churn-xgb-Staging "
        "rolled back ({}): {}{}Execution: "
    )
    assert ", $.stack.status, $.rollback.reason, " in states["NotifyRolledBack"]["Parameters"]["Message.$"]
    # the reason is the stack's StackStatusReason when CloudFormation gives one
    assert states["RollbackReason?"]["Choices"][0]["Next"] == "ReadRollbackReason"
    assert states["ReadRollbackReason"]["Parameters"] == {"reason.$": "$.stack.reason.StackStatusReason"}
    assert states["RollbackReason?"]["Default"] == "NoRollbackReason"
    assert states["NotifyRolledBack"]["Next"] == "RolledBack"
    assert states["RolledBack"]["Type"] == "Fail"
    assert states["RolledBack"]["Error"] == "DeploymentRolledBack"


def test_an_update_with_nothing_to_change_counts_as_deployed(staging) -> None:
    states = staging["States"]

    assert states["UpdateEndpointStack"]["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Assign": {"failedState": "UpdateEndpointStack"},
            "Next": "AlreadyDeployed?",
        }
    ]
    assert states["AlreadyDeployed?"] == {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.error.Cause", "StringMatches": "*No updates are to be performed*", "Next": "Deployed"}
        ],
        "Default": "DescribeFailure",
    }


def test_staging_deploy_ends_after_the_update_without_approving(staging) -> None:
    states = staging["States"]

    assert states["Deployed"]["Parameters"] == {
        "ModelPackageArn.$": "$.training.output.ModelPackageArn",
        "PipelineExecutionId.$": "$.training.output.PipelineExecutionId",
        "StackName": STAGING_STACK,
        "Stage": "staging",
    }
    assert states["Deployed"]["Next"] == "Done"
    assert states["Done"] == {"Type": "Succeed"}
    assert "ApproveModelPackage" not in states


def test_production_deploy_ends_by_approving_the_package(production) -> None:
    states = production["States"]
    approve = states["ApproveModelPackage"]

    assert states["Deployed"]["Next"] == "ApproveModelPackage"
    assert approve["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sagemaker:updateModelPackage"
    assert approve["Parameters"] == {
        "ModelPackageArn.$": "$.ModelPackageArn",
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription.$": "States.Format('Deployed to production by {}', $$.Execution.Id)",
    }
    assert approve["Next"] == "TagRelease"
    assert approve["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Assign": {"failedState": "ApproveModelPackage"},
            "Next": "DescribeFailure",
        }
    ]


def test_failures_notify_and_fail_with_the_error(production) -> None:
    states = production["States"]

    for name in ("ResolveModelPackage", "DescribeEndpointStack"):
        assert states[name]["Catch"] == [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.error",
                "Assign": {"failedState": name},
                "Next": "DescribeFailure",
            }
        ]
        assert states[name]["Retry"][0]["BackoffRate"] == 2
    assert states["NotifyFailure"]["Next"] == "DeploymentFailed"
    assert states["DeploymentFailed"] == {"Type": "Fail", "Error": "DeploymentFailed", "CausePath": "$.error.Cause"}


@pytest.mark.parametrize("workflow", ["MlPipelineDeployStaging", "MlPipelineDeployProduction"])
def test_deploy_state_machine_traces_logs_everything_and_is_encrypted(template, workflow) -> None:
    properties = state_machine(template, workflow)

    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert properties["EncryptionConfiguration"]["KmsKeyId"] == {"Fn::ImportValue": KEY_EXPORT}
    assert definition(template, workflow)["TimeoutSeconds"] == 6 * 3600


# ---- IAM -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workflow", "stack"),
    [("MlPipelineDeployStaging", STAGING_STACK), ("MlPipelineDeployProduction", PRODUCTION_STACK)],
)
def test_deploy_role_may_update_only_its_own_endpoint_stack(template, workflow, stack) -> None:
    role = state_machine_role_id(template, workflow)
    updates = [s for s in role_statements(template, role) if s.allows("cloudformation:UpdateStack")]

    assert [[render(resource) for resource in s.resources] for s in updates] == [[stack_arn(stack)]]
    assert not [s for s in role_statements(template, role) if s.allows("cloudformation:*")]


def test_no_role_of_the_pipeline_stack_may_update_other_stacks(template) -> None:
    updates = [s for s in statements(template) if s.allows("cloudformation:UpdateStack")]

    assert sorted(render(resource) for s in updates for resource in s.resources) == [
        stack_arn(PRODUCTION_STACK),
        stack_arn(STAGING_STACK),
    ]


@pytest.mark.parametrize("workflow", ["MlPipelineDeployStaging", "MlPipelineDeployProduction"])
def test_deploy_role_passes_only_the_cloudformation_execution_role_to_cloudformation(template, workflow) -> None:
    role = state_machine_role_id(template, workflow)
    passes = [s for s in role_statements(template, role) if s.allows("iam:PassRole")]

    assert [(render(s.body["Resource"]), s.body["Condition"]) for s in passes] == [
        (CFN_EXEC_ROLE, {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}})
    ]


def test_only_the_production_deploy_may_approve_packages_and_only_of_this_model(template) -> None:
    production = state_machine_role_id(template, "MlPipelineDeployProduction")
    staging = state_machine_role_id(template, "MlPipelineDeployStaging")
    approvals = [s for s in role_statements(template, production) if s.allows("sagemaker:UpdateModelPackage")]

    assert [[render(resource) for resource in s.resources] for s in approvals] == [
        ["arn:${AWS::Partition}:sagemaker:eu-west-1:${AWS::AccountId}:model-package/churn-xgb/*"]
    ]
    assert not [s for s in role_statements(template, staging) if s.allows("sagemaker:UpdateModelPackage")]


def test_deploy_role_reads_only_executions_of_the_training_workflow(template) -> None:
    role = state_machine_role_id(template, "MlPipelineDeployStaging")
    reads = [s for s in role_statements(template, role) if s.allows("states:DescribeExecution")]

    assert [[render(resource) for resource in s.resources] for s in reads] == [
        [
            "arn:${AWS::Partition}:states:eu-west-1:${AWS::AccountId}:execution:"
            "${Select(6,Split(:,MlPipelineTrainingE4186D57))}:*"
        ]
    ]
