"""IAM across every stack of the example app: PassRole only to named roles and services, SageMaker job
permissions scoped to the model's job names, and wildcard resources only where AWS allows no other."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_mlops_testing import render, role_statements, state_machine_role_id, statements

STACKS = [
    "Mlops-Platform",
    "Mlops-churn-xgb-Pipeline",
    "Mlops-churn-xgb-Staging",
    "Mlops-churn-xgb-Production",
    "Mlops-iris-sklearn-Pipeline",
    "Mlops-iris-sklearn-Staging",
    "Mlops-iris-sklearn-Production",
    "Mlops-fraud-batch-Pipeline",
]
PASSED_TO = {"sagemaker.amazonaws.com", "cloudformation.amazonaws.com"}

#: Actions without resource-level permissions: the only ones a policy may grant on "*".
RESOURCELESS_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "sagemaker:ListModelPackages",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def all_statements(example_app) -> list[tuple[str, Any]]:
    return [(stack, statement) for stack in STACKS for statement in statements(example_app.json[stack])]


def test_every_pass_role_is_limited_to_one_role_and_the_service_that_receives_it(example_app) -> None:
    passes = [(stack, s) for stack, s in all_statements(example_app) if s.allows("iam:PassRole")]

    # churn: training (SageMaker) + two deploy workflows (CloudFormation). iris: training + staging deploy;
    # its production deploy passes no role (the other account's deploy role passes that account's).
    assert len([1 for stack, _ in passes if stack == "Mlops-churn-xgb-Pipeline"]) >= 3
    assert len([1 for stack, _ in passes if stack == "Mlops-iris-sklearn-Pipeline"]) >= 2
    for stack, statement in passes:
        condition = statement.body.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
        assert condition in PASSED_TO, (stack, statement.body)
        assert isinstance(statement.body["Resource"], dict), (stack, statement.body)  # one role, not a list
        assert statement.body["Resource"] != "*"


@pytest.mark.parametrize("stack", ["Mlops-churn-xgb-Pipeline", "Mlops-iris-sklearn-Pipeline"])
def test_training_workflow_passes_only_its_sagemaker_role_to_sagemaker(example_app, stack: str) -> None:
    template = example_app.json[stack]
    role = state_machine_role_id(template, "MlPipelineTraining")
    passes = [s for s in role_statements(template, role) if s.allows("iam:PassRole")]

    assert {
        (render(s.body["Resource"]), s.body["Condition"]["StringEquals"]["iam:PassedToService"]) for s in passes
    } == {("${MlPipelineTrainingSageMakerRole7CA84B02.Arn}", "sagemaker.amazonaws.com")}


@pytest.mark.parametrize(
    ("stack", "model", "jobs"),
    [
        ("Mlops-churn-xgb-Pipeline", "churn-xgb", {"training-job"}),
        ("Mlops-iris-sklearn-Pipeline", "iris-sklearn", {"training-job", "processing-job"}),
    ],
)
def test_sagemaker_job_permissions_are_scoped_to_the_model_job_names(example_app, stack, model, jobs) -> None:
    template = example_app.json[stack]
    role = state_machine_role_id(template, "MlPipelineTraining")
    granted = {}
    for statement in role_statements(template, role):
        for action in statement.actions:
            if action.startswith("sagemaker:Create") and action.endswith("Job"):
                granted[action] = [render(resource) for resource in statement.resources]

    expected = {
        "sagemaker:CreateTrainingJob": "training-job",
        "sagemaker:CreateProcessingJob": "processing-job",
    }
    assert granted == {
        action: [f"arn:${{AWS::Partition}}:sagemaker:eu-west-1:${{AWS::AccountId}}:{kind}/{model}-*"]
        for action, kind in expected.items()
        if kind in jobs
    }


@pytest.mark.parametrize("stack", ["Mlops-churn-xgb-Pipeline", "Mlops-iris-sklearn-Pipeline"])
def test_model_package_permissions_are_scoped_to_the_model_group(example_app, stack: str) -> None:
    model = stack.removeprefix("Mlops-").removesuffix("-Pipeline")
    template = example_app.json[stack]
    creates = [s for s in statements(template) if s.allows("sagemaker:CreateModelPackage")]

    assert sorted(render(resource) for s in creates for resource in s.resources) == [
        f"arn:${{AWS::Partition}}:sagemaker:eu-west-1:${{AWS::AccountId}}:model-package-group/{model}",
        f"arn:${{AWS::Partition}}:sagemaker:eu-west-1:${{AWS::AccountId}}:model-package/{model}/*",
    ]


def test_wildcard_resources_are_granted_only_for_actions_without_resource_permissions(example_app) -> None:
    wildcards = [
        (stack, action)
        for stack, statement in all_statements(example_app)
        if "*" in statement.resources and statement.body["Effect"] == "Allow"
        for action in statement.actions
    ]

    assert wildcards  # X-Ray and log delivery always need some
    assert {action for _, action in wildcards} <= RESOURCELESS_ACTIONS


def test_no_policy_grants_a_service_wide_action_wildcard(example_app) -> None:
    offending = [
        (stack, action)
        for stack, statement in all_statements(example_app)
        for action in statement.actions
        if action == "*" or action.endswith(":*")
    ]

    assert offending == []


@pytest.mark.parametrize("stack", ["Mlops-churn-xgb-Pipeline", "Mlops-iris-sklearn-Pipeline"])
def test_sagemaker_execution_role_is_assumed_only_by_sagemaker(example_app, stack: str) -> None:
    role = example_app.json[stack]["Resources"]["MlPipelineTrainingSageMakerRole7CA84B02"]

    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]


@pytest.mark.parametrize(
    ("stack", "model"), [("Mlops-churn-xgb-Pipeline", "churn-xgb"), ("Mlops-iris-sklearn-Pipeline", "iris-sklearn")]
)
def test_sagemaker_execution_role_writes_only_the_model_prefix(example_app, stack: str, model: str) -> None:
    template = example_app.json[stack]
    writes = [
        s for s in role_statements(template, "MlPipelineTrainingSageMakerRole7CA84B02") if s.allows("s3:PutObject")
    ]

    assert {render(resource) for s in writes for resource in s.resources} == {
        f"${{Import(Mlops-Platform:ExportsOutputFnGetAttArtifacts82DD59A1Arn3B515032)}}/{model}/*"
    }


def test_sagemaker_execution_role_pulls_only_the_framework_image_repository(example_app) -> None:
    template = example_app.json["Mlops-churn-xgb-Pipeline"]
    pulls = [
        s for s in role_statements(template, "MlPipelineTrainingSageMakerRole7CA84B02") if s.allows("ecr:BatchGetImage")
    ]

    assert [[render(resource) for resource in s.resources] for s in pulls] == [
        ["arn:${AWS::Partition}:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost"]
    ]


def test_platform_key_policy_grants_nothing_to_model_stacks(example_app) -> None:
    key = example_app.json["Mlops-Platform"]["Resources"]["Key961B73FD"]
    statements_ = key["Properties"]["KeyPolicy"]["Statement"]

    assert [statement.get("Sid") for statement in statements_] == [
        None,  # the account root, as CDK's default key policy
        "AllowCloudWatchLogs",
        "AllowAlarmsAndPipelineNotifications",
        # iris-sklearn's production account reads model data (test_cross_account.py checks the statement)
        "ModelDataDecryptBy222222222222",
    ]
    assert statements_[1]["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert statements_[2]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
