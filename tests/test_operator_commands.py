"""``cdk-mlops status``, ``approve`` and ``rollback`` against moto, with the outputs and parameters the
example app synthesizes for churn-xgb.

moto's CloudFormation skips CodePipeline, Step Functions' definitions with tokens and model package
groups, so each stack is created in moto with the synthesized stack's output keys (and the endpoint
stacks' ``ModelPackageArn`` parameter), their values naming resources made with moto's own APIs.
moto 5.2.5 implements neither CodePipeline ``GetPipelineState`` nor ``PutApprovalResult``: those two
calls of the CodePipeline client are stubbed here (the responses follow the CodePipeline API
reference, GetPipelineState and PutApprovalResult); every other call reaches moto.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.operations import Clients
from cdk_mlops_testing import MODELS_DIR

REGION = "eu-west-1"
MODEL = "churn-xgb"
TOKEN = "4a8f1f2e-0b1c-4d5e-8f90-123456789abc"
ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The templates of churn-xgb's pipeline, staging and production stacks, by stage."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from cdk_mlops.app_builder import build_app

    models = tmp_path_factory.mktemp("repo") / "models"
    shutil.copytree(MODELS_DIR / MODEL, models / MODEL)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
        stacks = build_app(cdk.App(builtin_cloud_formation_validation=False), models, region=REGION).models[MODEL]
    return {
        "Pipeline": Template.from_stack(stacks.pipeline, skip_cyclical_dependencies_check=True).to_json(),
        "Staging": Template.from_stack(stacks.staging, skip_cyclical_dependencies_check=True).to_json(),
        "Production": Template.from_stack(stacks.production, skip_cyclical_dependencies_check=True).to_json(),
    }


class Deployed:
    """churn-xgb as moto holds it: pipeline, workflows, package versions, endpoints, and the stubbed
    pipeline state (``stages``) and approval results (``approvals``)."""

    def __init__(self, clients: Clients, synthesized: dict[str, dict[str, Any]]) -> None:
        self.clients = clients
        self.synthesized = synthesized
        self.stages: list[dict[str, Any]] = []
        self.approvals: list[dict[str, Any]] = []
        iam = clients("iam")
        role = iam.create_role(RoleName="workflow", AssumeRolePolicyDocument=ROLE_TRUST)["Role"]["Arn"]
        pipeline_role = iam.create_role(
            RoleName="pipeline",
            AssumeRolePolicyDocument=ROLE_TRUST.replace("states.amazonaws.com", "codepipeline.amazonaws.com"),
        )["Role"]["Arn"]
        sfn = clients("stepfunctions")
        failing = {"StartAt": "Train", "States": {"Train": {"Type": "Fail", "Error": "TrainingFailed", "Cause": "x"}}}
        self.training = sfn.create_state_machine(name="Training", definition=json.dumps(failing), roleArn=role)[
            "stateMachineArn"
        ]
        passing = {"StartAt": "Deploy", "States": {"Deploy": {"Type": "Pass", "End": True}}}
        self.deploy = sfn.create_state_machine(name="DeployProduction", definition=json.dumps(passing), roleArn=role)[
            "stateMachineArn"
        ]
        self.pipeline_name = "Mlops-churn-xgb-Pipeline-MlPipeline1A2B3C"
        clients("codepipeline").create_pipeline(
            pipeline={
                "name": self.pipeline_name,
                "roleArn": pipeline_role,
                "artifactStore": {"type": "S3", "location": "artifacts"},
                "stages": [
                    {
                        "name": "Source",
                        "actions": [
                            {
                                "name": "Source",
                                "actionTypeId": {
                                    "category": "Source",
                                    "owner": "AWS",
                                    "provider": "S3",
                                    "version": "1",
                                },
                                "configuration": {"S3Bucket": "b", "S3ObjectKey": "k"},
                                "outputArtifacts": [{"name": "SourceCode"}],
                            }
                        ],
                    },
                    {
                        "name": "ManualApproval",
                        "actions": [
                            {
                                "name": "ApproveProduction",
                                "actionTypeId": {
                                    "category": "Approval",
                                    "owner": "AWS",
                                    "provider": "Manual",
                                    "version": "1",
                                },
                            }
                        ],
                    },
                ],
            }
        )
        self._create_stack(
            "Pipeline",
            {
                "PipelineName": self.pipeline_name,
                "TrainingStateMachineArn": self.training,
                "DeployProductionStateMachineArn": self.deploy,
                "ModelPackageGroupName": MODEL,
            },
        )
        clients("sagemaker").create_model_package_group(ModelPackageGroupName=MODEL)

    def _create_stack(self, stage: str, outputs: dict[str, str], parameters: dict[str, str] | None = None) -> None:
        """Creates ``Mlops-churn-xgb-<stage>`` with the synthesized stack's outputs (and parameters)
        that ``outputs`` (and ``parameters``) give values for; a key it does not synthesize fails."""
        template = self.synthesized[stage]
        synthesized_outputs = template.get("Outputs", {})
        missing = set(outputs) - set(synthesized_outputs)
        assert not missing, f"the synthesized {stage} stack has no output {missing}"
        body: dict[str, Any] = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        if parameters:
            assert set(parameters) <= set(template.get("Parameters", {}))
            body["Parameters"] = {key: {"Type": "String"} for key in parameters}
        self.clients("cloudformation").create_stack(
            StackName=f"Mlops-{MODEL}-{stage}",
            TemplateBody=json.dumps(body),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        )

    def _wait_until_ended(self, execution: str) -> None:
        """moto runs executions in a worker thread: wait (bounded) until this one has ended, as a
        finished release would have, so status never reads it while it is still RUNNING."""
        sfn = self.clients("stepfunctions")
        for _ in range(200):
            if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
                return
            time.sleep(0.05)
        raise AssertionError(f"execution {execution} still RUNNING after 10 s")

    def register(self, *, status: str, auc: str) -> str:
        """A package version as the training workflow registers it; returns its ARN."""
        self.runs = getattr(self, "runs", 0) + 1
        execution = self.clients("stepfunctions").start_execution(
            stateMachineArn=self.training, name=f"training-{self.runs}"
        )["executionArn"]
        self._wait_until_ended(execution)
        sagemaker = self.clients("sagemaker")
        arn = sagemaker.create_model_package(
            ModelPackageGroupName=MODEL,
            ModelPackageDescription="Trained by execution x",
            InferenceSpecification={
                "Containers": [{"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelApprovalStatus="PendingManualApproval",
            MetadataProperties={"GeneratedBy": execution},
            CustomerMetadataProperties={"validation:auc": auc},
        )["ModelPackageArn"]
        if status != "PendingManualApproval":
            # moto's UpdateModelPackage drops the customer metadata it is not given (AWS keeps it).
            sagemaker.update_model_package(
                ModelPackageArn=arn, ModelApprovalStatus=status, CustomerMetadataProperties={"validation:auc": auc}
            )
        return str(arn)

    def serve(self, stage: str, package: str) -> None:
        """An endpoint stack whose endpoint serves ``package``."""
        sagemaker = self.clients("sagemaker")
        name = f"{MODEL}-{stage.lower()}"
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"ModelPackageName": package},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/workflow",
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        self._create_stack(stage, {"EndpointName": name}, {"ModelPackageArn": package})

    def wait_for_approval(self) -> None:
        """A release waiting at ApproveProduction, as GetPipelineState reports it."""
        execution = self.clients("codepipeline").start_pipeline_execution(name=self.pipeline_name)
        execution_id = execution["pipelineExecutionId"]
        self.stages = [
            {"stageName": "Source", "latestExecution": {"pipelineExecutionId": execution_id, "status": "Succeeded"}},
            {
                "stageName": "ManualApproval",
                "latestExecution": {"pipelineExecutionId": execution_id, "status": "InProgress"},
                "actionStates": [
                    {
                        "actionName": "ApproveProduction",
                        "latestExecution": {"status": "InProgress", "token": TOKEN},
                    }
                ],
            },
        ]


@pytest.fixture()
def deployed(synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    from moto import mock_aws

    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        clients = Clients(REGION)
        world = Deployed(clients, synthesized)
        codepipeline = clients("codepipeline")
        # Not implemented by moto 5.2.5: stubbed on this client only.
        codepipeline.get_pipeline_state = lambda name: {"pipelineName": name, "stageStates": world.stages}
        codepipeline.put_approval_result = lambda **request: (
            world.approvals.append(request) or {"approvedAt": "2026-12-01T00:00:00Z"}
        )
        yield world


def test_pipeline_stack_synthesizes_the_outputs_the_commands_read(synthesized) -> None:
    from cdk_mlops import stack_outputs

    outputs = synthesized["Pipeline"]["Outputs"]
    pipeline_id = next(
        k for k, v in synthesized["Pipeline"]["Resources"].items() if v["Type"] == "AWS::CodePipeline::Pipeline"
    )

    assert outputs[stack_outputs.PIPELINE_NAME]["Value"] == {"Ref": pipeline_id}
    assert outputs[stack_outputs.MODEL_PACKAGE_GROUP]["Value"] == MODEL
    assert set(outputs) >= {
        stack_outputs.TRAINING_STATE_MACHINE,
        stack_outputs.DEPLOY_PRODUCTION_STATE_MACHINE,
    }
    assert "ModelPackageArn" in synthesized["Production"]["Parameters"]


def test_status_shows_release_stages_training_failure_versions_and_what_endpoints_serve(deployed) -> None:
    from cdk_mlops.operations import format_status, model_status

    first = deployed.register(status="Approved", auc="0.91")
    second = deployed.register(status="PendingManualApproval", auc="0.93")
    deployed.serve("Staging", second)
    deployed.serve("Production", first)
    deployed.wait_for_approval()

    text = format_status(model_status(deployed.clients, MODEL))

    assert f"model churn-xgb: pipeline {deployed.pipeline_name}" in text
    assert "    ManualApproval     InProgress" in text
    assert "failure: TrainingFailed: x" in text
    assert f"  v2  PendingManualApproval  validation:auc=0.93  ({second})" in text
    assert f"  v1  Approved               validation:auc=0.91  ({first})" in text
    assert text.index("  v2 ") < text.index("  v1 ")
    assert f"  Staging    churn-xgb-staging: InService serving {second}" in text
    assert f"  Production churn-xgb-production: InService serving {first}" in text


def test_status_of_a_model_that_never_ran(deployed) -> None:
    from cdk_mlops.operations import format_status, model_status

    text = format_status(model_status(deployed.clients, MODEL))

    assert "latest release: none yet" in text
    assert "training workflow: never run" in text
    assert "registered versions (churn-xgb, newest first):\n  none" in text
    assert "Mlops-churn-xgb-Staging: no stack in this account and region" in text


def test_approve_puts_the_approval_result_with_the_pending_token(deployed) -> None:
    from cdk_mlops.operations import decide

    deployed.wait_for_approval()

    message = decide(deployed.clients, MODEL)

    assert deployed.approvals == [
        {
            "pipelineName": deployed.pipeline_name,
            "stageName": "ManualApproval",
            "actionName": "ApproveProduction",
            "result": {"summary": "Approved with cdk-mlops", "status": "Approved"},
            "token": TOKEN,
        }
    ]
    assert message.startswith("Approved ApproveProduction of release ")


def test_reject_records_the_reason(deployed) -> None:
    from cdk_mlops.operations import decide

    deployed.wait_for_approval()

    decide(deployed.clients, MODEL, reject=True, reason="AUC dropped on the holdout")

    assert deployed.approvals[0]["result"] == {"summary": "AUC dropped on the holdout", "status": "Rejected"}


def test_approve_without_a_pending_approval_is_refused(deployed) -> None:
    from cdk_mlops.operations import OperatorError, decide

    with pytest.raises(OperatorError, match=r"no release of pipeline .* is waiting for approval"):
        decide(deployed.clients, MODEL)
    assert deployed.approvals == []


def test_rollback_runs_the_production_deploy_workflow_with_the_versions_training_execution(deployed) -> None:
    from cdk_mlops.operations import rollback

    first = deployed.register(status="Approved", auc="0.91")
    deployed.register(status="Approved", auc="0.93")
    training_execution = deployed.clients("sagemaker").describe_model_package(ModelPackageName=first)[
        "MetadataProperties"
    ]["GeneratedBy"]

    execution = rollback(deployed.clients, MODEL, "1")

    described = deployed.clients("stepfunctions").describe_execution(executionArn=execution)
    assert described["stateMachineArn"] == deployed.deploy
    assert json.loads(described["input"]) == {"TrainingExecutionArn": training_execution}


def test_rollback_by_package_arn(deployed) -> None:
    from cdk_mlops.operations import rollback

    first = deployed.register(status="Approved", auc="0.91")

    execution = rollback(deployed.clients, MODEL, first)

    assert execution.startswith(deployed.deploy.replace(":stateMachine:", ":execution:"))


@pytest.mark.parametrize(
    ("to", "status", "message"),
    [
        ("7", "Approved", r"has no version 7 \(registered: 1\)"),
        ("1", "Rejected", r"is Rejected, not Approved"),
        ("latest", "Approved", r"a version number \(e.g. 3\) or a model package ARN \(got 'latest'\)"),
    ],
)
def test_rollback_refuses_what_it_cannot_deploy(deployed, to: str, status: str, message: str) -> None:
    from cdk_mlops.operations import OperatorError, rollback

    deployed.register(status=status, auc="0.91")

    with pytest.raises(OperatorError, match=message):
        rollback(deployed.clients, MODEL, to)
    assert deployed.clients("stepfunctions").list_executions(stateMachineArn=deployed.deploy)["executions"] == []


def test_a_model_without_a_pipeline_stack_is_named_with_the_deploy_command(deployed) -> None:
    from cdk_mlops.operations import OperatorError, model_status

    with pytest.raises(OperatorError) as error:
        model_status(deployed.clients, "iris-sklearn")

    assert str(error.value) == (
        "model iris-sklearn: no stack Mlops-iris-sklearn-Pipeline in eu-west-1 (deploy it with npx cdk deploy "
        '"Mlops-iris-sklearn-*", or pass the --region it is in)'
    )


def test_commands_print_one_line_when_credentials_are_missing(monkeypatch, capsys, tmp_path: Path) -> None:
    from cdk_mlops.cli import main

    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)

    for command in (["status", MODEL], ["approve", MODEL], ["rollback", MODEL, "--to", "1"]):
        assert main(command) == 1
        error = capsys.readouterr().err
        assert error.splitlines() == [
            "error: no AWS credentials found: configure a profile (aws configure, or AWS_PROFILE) or set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ], command


def test_rollback_to_a_version_whose_training_execution_expired_is_refused(deployed) -> None:
    from cdk_mlops.operations import OperatorError, rollback

    sagemaker = deployed.clients("sagemaker")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=MODEL,
        InferenceSpecification={
            "Containers": [{"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="Approved",
        MetadataProperties={"GeneratedBy": f"{deployed.training.replace(':stateMachine:', ':execution:')}:gone"},
    )["ModelPackageArn"]

    with pytest.raises(OperatorError, match="Step Functions keeps closed executions for 90 days"):
        rollback(deployed.clients, MODEL, arn)
    assert deployed.clients("stepfunctions").list_executions(stateMachineArn=deployed.deploy)["executions"] == []
