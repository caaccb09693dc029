"""What the operator commands (``cdk-mlops status``, ``approve``, ``rollback``) do, with boto3 and the
caller's credentials.

A model's resources are found from its pipeline stack, ``Mlops-<model>-Pipeline``, by the outputs in
:mod:`cdk_mlops.stack_outputs`; its endpoints from the ``EndpointName`` output and ``ModelPackageArn``
parameter of ``Mlops-<model>-Staging``/``-Production``. Every AWS failure becomes an ``OperatorError``
with a one-line message (no credentials, no such stack, no pending approval, ...).

A rollback runs the production deploy workflow, as a release does, so the endpoint's guardrails and
rollback alarms apply: it is started with the training execution that registered the chosen package
(the package's ``MetadataProperties.GeneratedBy``), which is how the pipeline starts it.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cdk_mlops import stack_outputs

#: How many registered versions ``status`` lists (newest first).
STATUS_VERSIONS = 5


class OperatorError(Exception):
    """A failure an operator can act on; ``str()`` is one line."""


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turns missing credentials and AWS errors raised inside into an ``OperatorError`` about ``what``."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        yield
    except NoCredentialsError:
        raise OperatorError(
            "no AWS credentials found: configure a profile (aws configure, or AWS_PROFILE) or set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ) from None
    except NoRegionError:
        raise OperatorError("no AWS region: pass --region or set AWS_REGION") from None
    except ClientError as error:
        details = error.response.get("Error", {})
        raise OperatorError(f"{what}: {details.get('Code', 'Error')}: {details.get('Message', error)}") from None
    except BotoCoreError as error:
        raise OperatorError(f"{what}: {error}") from None


class Clients:
    """boto3 clients of one session (``region``/``profile``: boto3's defaults when None), made once each."""

    def __init__(self, region: str | None = None, profile: str | None = None) -> None:
        import boto3

        with aws_errors("AWS session"):
            self.session = boto3.Session(region_name=region, profile_name=profile)
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        """The client of ``service`` (``"codepipeline"``, ``"sagemaker"``, ...), created on first use."""
        if service not in self._clients:
            with aws_errors(f"{service} client"):
                self._clients[service] = self.session.client(service)
        return self._clients[service]


#: The output naming a model's inference component on a shared endpoint (``cdk_mlops.constructs.
#: inference_component.COMPONENT_OUTPUT``, repeated so the operator commands import no aws_cdk).
COMPONENT_OUTPUT = "InferenceComponentName"


def stack_name(model: str, stage: str) -> str:
    """``Mlops-<model>-<stage>``, as ``cdk_mlops.app_builder.stack_names`` names them."""
    return f"Mlops-{model}-{stage}"


def _describe_stack(clients: Clients, name: str) -> dict[str, Any] | None:
    """The stack ``name``, None when it does not exist."""
    from botocore.exceptions import ClientError

    with aws_errors(f"describing stack {name}"):
        try:
            return dict(clients("cloudformation").describe_stacks(StackName=name)["Stacks"][0])
        except ClientError as error:
            if "does not exist" in str(error):
                return None
            raise


@dataclasses.dataclass(frozen=True)
class ModelResources:
    """A deployed model: its pipeline, workflows, package group, and endpoint stacks by stage."""

    model: str
    pipeline_name: str
    training_state_machine: str
    deploy_production_state_machine: str | None
    model_package_group: str

    @classmethod
    def find(cls, clients: Clients, model: str) -> ModelResources:
        """Reads the outputs of ``Mlops-<model>-Pipeline``; refuses a missing stack or output."""
        name = stack_name(model, "Pipeline")
        stack = _describe_stack(clients, name)
        if stack is None:
            raise OperatorError(
                f"model {model}: no stack {name} in {clients.session.region_name} (deploy it with "
                f'npx cdk deploy "Mlops-{model}-*", or pass the --region it is in)'
            )
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        missing = [
            key
            for key in (
                stack_outputs.PIPELINE_NAME,
                stack_outputs.TRAINING_STATE_MACHINE,
                stack_outputs.MODEL_PACKAGE_GROUP,
            )
            if key not in outputs
        ]
        if missing:
            raise OperatorError(
                f"stack {name} has no output {', '.join(missing)}: it was deployed by an older cdk-mlops; "
                f'redeploy it (npx cdk deploy "{name}")'
            )
        return cls(
            model,
            outputs[stack_outputs.PIPELINE_NAME],
            outputs[stack_outputs.TRAINING_STATE_MACHINE],
            outputs.get(stack_outputs.DEPLOY_PRODUCTION_STATE_MACHINE),
            outputs[stack_outputs.MODEL_PACKAGE_GROUP],
        )


# ---- status ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EndpointState:
    """What one endpoint stack serves: endpoint name and status, and the package (``ModelPackageArn``);
    ``component``: the model's inference component on a shared endpoint (default none: an endpoint of its
    own), whose status and copies ``status`` then reports."""

    stage: str
    stack: str
    endpoint: str | None
    status: str
    package: str | None
    component: str | None = None


@dataclasses.dataclass(frozen=True)
class ModelStatus:
    """``cdk-mlops status``: the latest release, the training workflow, versions and endpoints."""

    resources: ModelResources
    pipeline_execution: dict[str, Any] | None
    stages: list[tuple[str, str]]
    training: dict[str, Any] | None
    training_failure: str | None
    versions: list[dict[str, Any]]
    endpoints: list[EndpointState]


def _latest_pipeline_execution(clients: Clients, resources: ModelResources) -> dict[str, Any] | None:
    with aws_errors(f"pipeline {resources.pipeline_name}"):
        summaries = clients("codepipeline").list_pipeline_executions(
            pipelineName=resources.pipeline_name, maxResults=1
        )["pipelineExecutionSummaries"]
    return summaries[0] if summaries else None


def _pipeline_state(clients: Clients, resources: ModelResources) -> list[dict[str, Any]]:
    with aws_errors(f"pipeline {resources.pipeline_name}"):
        state = clients("codepipeline").get_pipeline_state(name=resources.pipeline_name)
    return list(state.get("stageStates", []))


def _training(clients: Clients, resources: ModelResources) -> tuple[dict[str, Any] | None, str | None]:
    sfn = clients("stepfunctions")
    with aws_errors("training workflow"):
        executions = sfn.list_executions(stateMachineArn=resources.training_state_machine, maxResults=1)["executions"]
        if not executions:
            return None, None
        latest = executions[0]
        if latest["status"] not in ("FAILED", "TIMED_OUT", "ABORTED"):
            return latest, None
        described = sfn.describe_execution(executionArn=latest["executionArn"])
    cause = ": ".join(part for part in (described.get("error"), described.get("cause")) if part)
    return latest, cause or latest["status"]


def _versions(clients: Clients, resources: ModelResources, limit: int) -> list[dict[str, Any]]:
    sagemaker = clients("sagemaker")
    with aws_errors(f"model package group {resources.model_package_group}"):
        summaries = sagemaker.list_model_packages(
            ModelPackageGroupName=resources.model_package_group, SortBy="CreationTime", SortOrder="Descending"
        )["ModelPackageSummaryList"]
        return [
            sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            for summary in summaries[:limit]
        ]


def _endpoints(clients: Clients, model: str) -> list[EndpointState]:
    found = []
    for stage in ("Staging", "Production"):
        name = stack_name(model, stage)
        stack = _describe_stack(clients, name)
        if stack is None:
            found.append(EndpointState(stage, name, None, "no stack in this account and region", None))
            continue
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        endpoint = outputs.get("EndpointName")
        status = "no model deployed yet"
        if endpoint:
            with aws_errors(f"endpoint {endpoint}"):
                status = clients("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        component = outputs.get(COMPONENT_OUTPUT) or None
        if endpoint and component:
            status = f"endpoint {status}, {_component_status(clients, component)}"
        package = parameters.get("ModelPackageArn") or None
        found.append(EndpointState(stage, name, endpoint, status, package, component))
    return found


def _component_status(clients: Clients, component: str) -> str:
    """``component <status>, <current>/<desired> copies`` of an inference component (DescribeInferenceComponent)."""
    with aws_errors(f"inference component {component}"):
        description = clients("sagemaker").describe_inference_component(InferenceComponentName=component)
    runtime = description.get("RuntimeConfig") or {}
    copies = f"{runtime.get('CurrentCopyCount', '?')}/{runtime.get('DesiredCopyCount', '?')} copies"
    return f"component {description.get('InferenceComponentStatus', 'Unknown')}, {copies}"


def model_status(clients: Clients, model: str, *, versions: int = STATUS_VERSIONS) -> ModelStatus:
    """Everything ``cdk-mlops status`` shows about ``model``."""
    resources = ModelResources.find(clients, model)
    execution = _latest_pipeline_execution(clients, resources)
    stages = [
        (stage["stageName"], (stage.get("latestExecution") or {}).get("status", "not run"))
        for stage in (_pipeline_state(clients, resources) if execution else [])
    ]
    training, failure = _training(clients, resources)
    endpoints = _endpoints(clients, model) if resources.deploy_production_state_machine else []
    return ModelStatus(
        resources, execution, stages, training, failure, _versions(clients, resources, versions), endpoints
    )


def _package_label(package: dict[str, Any]) -> str:
    metrics = ", ".join(f"{k}={v}" for k, v in sorted((package.get("CustomerMetadataProperties") or {}).items()))
    return (
        f"  v{package.get('ModelPackageVersion', '?')}  {package.get('ModelApprovalStatus', '?'):<22} "
        f"{metrics or 'no metrics'}  ({package['ModelPackageArn']})"
    )


def format_status(status: ModelStatus) -> str:
    """The status as lines of text."""
    r = status.resources
    lines = [f"model {r.model}: pipeline {r.pipeline_name}"]
    execution = status.pipeline_execution
    if execution is None:
        lines.append("  latest release: none yet (push to the model's folder to start one)")
    else:
        lines.append(
            f"  latest release: {execution['pipelineExecutionId']} {execution['status']} "
            f"(started {execution.get('startTime', '?')})"
        )
        lines += [f"    {name:<18} {state}" for name, state in status.stages]
    if status.training is None:
        lines.append("training workflow: never run")
    else:
        lines.append(f"training workflow: {status.training['name']} {status.training['status']}")
        if status.training_failure:
            lines.append(f"  failure: {status.training_failure}")
    lines.append(f"registered versions ({r.model_package_group}, newest first):")
    lines += [_package_label(package) for package in status.versions] or ["  none"]
    if status.endpoints:
        lines.append("endpoints:")
        for endpoint in status.endpoints:
            serves = f" serving {endpoint.package}" if endpoint.package else ""
            where = endpoint.endpoint or endpoint.stack
            if endpoint.component:
                where = f"{where} (inference component {endpoint.component})"
            lines.append(f"  {endpoint.stage:<10} {where}: {endpoint.status}{serves}")
    return "\n".join(lines)


# ---- approve ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PendingApproval:
    """The manual approval a release waits at: stage, action and the token ``PutApprovalResult`` needs."""

    stage: str
    action: str
    token: str
    execution_id: str | None


def pending_approval(clients: Clients, resources: ModelResources) -> PendingApproval:
    """The approval action in progress in ``GetPipelineState``; refused when none waits."""
    for stage in _pipeline_state(clients, resources):
        for action in stage.get("actionStates", []):
            latest = action.get("latestExecution") or {}
            if latest.get("status") == "InProgress" and latest.get("token"):
                execution_id = (stage.get("latestExecution") or {}).get("pipelineExecutionId")
                return PendingApproval(stage["stageName"], action["actionName"], latest["token"], execution_id)
    raise OperatorError(
        f"model {resources.model}: no release of pipeline {resources.pipeline_name} is waiting for approval "
        f"(cdk-mlops status {resources.model} shows where the latest one is)"
    )


def decide(clients: Clients, model: str, *, reject: bool = False, reason: str | None = None) -> str:
    """Approves (or rejects) the pending manual approval of ``model``'s pipeline; returns what was done."""
    resources = ModelResources.find(clients, model)
    pending = pending_approval(clients, resources)
    status = "Rejected" if reject else "Approved"
    summary = reason or f"{status} with cdk-mlops"
    with aws_errors(f"{status.lower()} {pending.stage}.{pending.action}"):
        clients("codepipeline").put_approval_result(
            pipelineName=resources.pipeline_name,
            stageName=pending.stage,
            actionName=pending.action,
            result={"summary": summary, "status": status},
            token=pending.token,
        )
    return f"{status} {pending.action} of release {pending.execution_id or '?'} ({resources.pipeline_name}): {summary}"


# ---- rollback --------------------------------------------------------------------------------------


def _find_package(clients: Clients, resources: ModelResources, to: str) -> dict[str, Any]:
    sagemaker = clients("sagemaker")
    if to.startswith("arn:"):
        arn = to
    else:
        version = to.removeprefix("v")
        if not version.isdigit():
            raise OperatorError(f"--to: a version number (e.g. 3) or a model package ARN (got {to!r})")
        with aws_errors(f"model package group {resources.model_package_group}"):
            pages = sagemaker.get_paginator("list_model_packages").paginate(
                ModelPackageGroupName=resources.model_package_group
            )
            summaries = [summary for page in pages for summary in page["ModelPackageSummaryList"]]
        matches = [s for s in summaries if str(s.get("ModelPackageVersion")) == version]
        if not matches:
            known = ", ".join(sorted((str(s.get("ModelPackageVersion")) for s in summaries), key=int)) or "none"
            raise OperatorError(f"--to: {resources.model_package_group} has no version {version} (registered: {known})")
        arn = matches[0]["ModelPackageArn"]
    with aws_errors(f"model package {arn}"):
        return dict(sagemaker.describe_model_package(ModelPackageName=arn))


def rollback(clients: Clients, model: str, to: str) -> str:
    """Starts ``model``'s production deploy workflow with the Approved package ``to`` (a version number
    or a package ARN of its group); returns the execution ARN."""
    resources = ModelResources.find(clients, model)
    if resources.deploy_production_state_machine is None:
        raise OperatorError(f"model {model} is a batch model: it has no production endpoint to roll back")
    package = _find_package(clients, resources, to)
    arn = package["ModelPackageArn"]
    if package.get("ModelPackageGroupName") not in (None, resources.model_package_group):
        raise OperatorError(f"--to: {arn} is not a version of {resources.model_package_group}")
    if package.get("ModelApprovalStatus") != "Approved":
        raise OperatorError(
            f"--to: {arn} is {package.get('ModelApprovalStatus')}, not Approved: only a version that passed "
            "the manual approval (and was deployed to production before) can be rolled back to"
        )
    training_execution = (package.get("MetadataProperties") or {}).get("GeneratedBy")
    if not training_execution:
        raise OperatorError(f"--to: {arn} records no training execution (MetadataProperties.GeneratedBy)")
    sfn = clients("stepfunctions")
    with aws_errors(
        f"--to: the training execution that registered {arn} ({training_execution}); Step Functions keeps "
        "closed executions for 90 days, and the deploy workflow reads the package from it"
    ):
        sfn.describe_execution(executionArn=training_execution)
    with aws_errors("starting the production deploy workflow"):
        started = sfn.start_execution(
            stateMachineArn=resources.deploy_production_state_machine,
            name=f"rollback-v{package.get('ModelPackageVersion', 'x')}-{uuid.uuid4().hex[:12]}",
            input=json.dumps({"TrainingExecutionArn": training_execution}),
        )
    return str(started["executionArn"])
