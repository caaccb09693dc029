"""A whole release on the laptop: train, deploy to staging, smoke-test, deploy to production.

Runs the synthesized training, deploy and smoke-test workflows one after the other in one local
engine, as the pipeline would. The endpoint stacks are stand-ins created in moto's CloudFormation (the
parameters the deploy workflow sets and an ``EndpointName`` output, in the stack's account and region),
and the smoke test runs the real handler from ``lambda_src/smoke_test`` against a moto SageMaker
endpoint. A production stack in another region is reached through the real handler from
``lambda_src/regional_deploy``, which copies the model to a stand-in of the regional platform (a bucket
and key in moto, and a stack naming them) and updates the stack there as the assumed deploy role.

The stand-in stacks answer updates as scripted per scenario (:class:`StackBehaviour`): complete at
once, stay ``UPDATE_IN_PROGRESS`` for a number of ``DescribeStacks`` polls, roll back, or answer
CloudFormation's ``ValidationError`` "No updates are to be performed." when the stack already has the
release's parameters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from unittest import mock

from cdk_mlops.lambda_code import load_handler
from cdk_mlops.local.engine import ExecutionResult, LambdaContext, LocalEngine, Notification
from cdk_mlops.local.harness import (
    FAKE_ACCOUNT,
    ResolvedWorkflow,
    ScenarioError,
    prepare_training_run,
    synthesize_workflows,
)
from cdk_mlops.local.mirrored_traffic import SHADOW_TRAFFIC, mirrored_traffic
from cdk_mlops.stacks.platform_stack import BUCKET_OUTPUT, KEY_OUTPUT

#: Release scenarios and what they script.
RELEASE_SCENARIOS: Mapping[str, str] = {
    "release": "train, deploy staging, smoke test, deploy production: the package ends Approved",
    "smoke-fails": "the staging endpoint is not InService: the smoke test fails, production is untouched",
    "rollback": "the staging stack update rolls back: the deployment fails, nothing else runs",
    "production-rollback": "the production stack update rolls back (guardrail alarm): the package ends Rejected",
    "slow-release": "each stack update stays UPDATE_IN_PROGRESS for 2 DescribeStacks polls, then completes: both "
    "deploy workflows wait and poll, the package ends Approved",
    "slow-rollback": "the staging update stays UPDATE_IN_PROGRESS for 2 polls, then is seen rolling back with its "
    "reason: the deployment fails, nothing else runs",
    "slow-production-rollback": "the production update stays UPDATE_IN_PROGRESS for 2 polls, then is seen rolling "
    "back with its reason: the package ends Rejected",
    "no-updates": "both stacks already have the release's parameters: UpdateStack answers No updates are to be "
    "performed, which each deploy workflow counts as deployed; the package ends Approved",
    "shadow-passes": "a model with endpoints.production.shadow: the shadow's p99 latency and errors stay within the "
    "limits, so it is promoted and the package ends Approved (every other scenario mirrors this traffic too)",
    "shadow-fails": "a model with endpoints.production.shadow: the shadow's p99 latency and error rate are over "
    "the limits, so the shadow is removed, the package ends Rejected with the comparison and the topic is notified",
    "shadow-promotion-rollback": "the shadow test passes, then the production update that promotes the candidate "
    "rolls back (guardrail alarm): the package ends Rejected",
    "shadow-already-promoted": "the shadow test passes, then the promotion's UpdateStack answers No updates are to "
    "be performed (a retried call whose first attempt went through), which counts as deployed: the package ends "
    "Approved",
}

#: DescribeStacks polls that still see UPDATE_IN_PROGRESS in the slow scenarios.
POLLS_IN_PROGRESS = 2
#: The StackStatusReason of a rolled-back stand-in stack (CloudFormation names the resources that failed).
ROLLBACK_REASON = "The following resource(s) failed to update: [Endpoint]."

STAGES = ("training", "deploy_staging", "smoke_test", "deploy_production")

_PLACEHOLDER_RESOURCES = {"Placeholder": {"Type": "AWS::SNS::Topic"}}
_BOOTSTRAP_VERSION = "30"


@dataclasses.dataclass(frozen=True)
class ReleaseResult:
    """What each workflow of a local release did, in pipeline order (stages that did not run are absent)."""

    model: str
    scenario: str
    executions: dict[str, ExecutionResult]
    notifications: list[Notification]
    model_packages: dict[str, dict[str, Any]]
    stack_parameters: dict[str, dict[str, str]]
    model_package_tags: dict[str, list[dict[str, str]]]
    wall_seconds: float
    #: The account of each stage's endpoint stack (None: the pipeline's account).
    stack_accounts: dict[str, str | None] = dataclasses.field(default_factory=dict)
    #: Roles task calls were made as (a deploy workflow reaching another account or region), in order.
    assumed_roles: list[str] = dataclasses.field(default_factory=list)
    #: The region of each stage's endpoint stack (None: the pipeline's region).
    stack_regions: dict[str, str | None] = dataclasses.field(default_factory=dict)
    #: Objects the production rollout copied to another region, as ``s3://bucket/key`` URLs.
    replicated_objects: list[str] = dataclasses.field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return len(self.executions) == len(STAGES) and all(run.succeeded for run in self.executions.values())

    @property
    def transitions(self) -> int:
        return sum(len(run.states_entered) for run in self.executions.values())


@dataclasses.dataclass(frozen=True)
class StackBehaviour:
    """How a stand-in endpoint stack answers ``UpdateStack`` (default: it completes at once).

    ``polls_in_progress``: that many ``DescribeStacks`` calls after an update still see
    ``UPDATE_IN_PROGRESS``; the next one sees the end status. ``rolls_back``: the update ends
    ``UPDATE_ROLLBACK_COMPLETE`` with the old parameters (as when SageMaker's guardrails roll the
    endpoint back) instead of ``UPDATE_COMPLETE``; after polls in progress, the next poll first sees
    ``UPDATE_ROLLBACK_IN_PROGRESS`` with :data:`ROLLBACK_REASON` as ``StackStatusReason`` (a rollback
    seen only once complete has no reason, as CloudFormation reports it). ``already_deployed``: the
    stack already has the parameters of the first update, so CloudFormation refuses it with
    ``ValidationError`` "No updates are to be performed." (and the stack keeps them).
    """

    polls_in_progress: int = 0
    rolls_back: bool = False
    already_deployed: bool = False
    #: Updates of the stack that complete at once before this behaviour applies (a shadow test's start
    #: comes before the promotion). Default: 0.
    after_updates: int = 0

    def __post_init__(self) -> None:
        if self.polls_in_progress < 0:
            raise ValueError(f"polls_in_progress must not be negative, got {self.polls_in_progress}")
        if self.already_deployed and (self.rolls_back or self.polls_in_progress):
            raise ValueError("an already deployed stack is not updated, so it neither polls nor rolls back")


_SLOW = StackBehaviour(polls_in_progress=POLLS_IN_PROGRESS)
_SLOW_ROLLBACK = StackBehaviour(polls_in_progress=POLLS_IN_PROGRESS, rolls_back=True)
_NO_UPDATES = StackBehaviour(already_deployed=True)
#: Scenario -> stage -> how that stage's stand-in stack answers updates (unlisted: at once).
SCENARIO_STACKS: Mapping[str, Mapping[str, StackBehaviour]] = {
    "rollback": {"staging": StackBehaviour(rolls_back=True)},
    "production-rollback": {"production": StackBehaviour(rolls_back=True)},
    "slow-release": {"staging": _SLOW, "production": _SLOW},
    "slow-rollback": {"staging": _SLOW_ROLLBACK},
    "slow-production-rollback": {"production": _SLOW_ROLLBACK},
    "no-updates": {"staging": _NO_UPDATES, "production": _NO_UPDATES},
    "shadow-promotion-rollback": {"production": StackBehaviour(rolls_back=True, after_updates=1)},
    "shadow-already-promoted": {"production": StackBehaviour(already_deployed=True, after_updates=1)},
}


@dataclasses.dataclass(frozen=True)
class _EndpointStack:
    """The endpoint stack a deploy workflow updates, as its ``UpdateEndpointStack`` state names it."""

    name: str
    account: str | None  # None: the pipeline's
    region: str | None  # None: the pipeline's
    parameters: tuple[str, ...]  # what the update sets or keeps
    component: bool = False  # the model is an inference component on a shared endpoint in this stage

    @classmethod
    def of(cls, workflow: ResolvedWorkflow) -> _EndpointStack:
        state = workflow.states["UpdateEndpointStack"]
        payload = state["Parameters"].get("Payload")
        if payload is not None:  # the regional function updates a stack in another region
            call, role, region = payload, payload["RoleArn"], payload["Region"]
        else:
            call, role, region = state["Parameters"], state.get("Credentials", {}).get("RoleArn"), None
        account = str(role).split(":")[4] if role else None
        return cls(
            name=str(call["StackName"]),
            account=None if account == FAKE_ACCOUNT else account,
            region=region,
            parameters=tuple(str(parameter["ParameterKey"]) for parameter in call["Parameters"]),
        )


def _component_stages(models_dir: str, model: str) -> set[str]:
    """The stages in which ``model`` runs as an inference component (``endpoints.<stage>.shared_endpoint``)."""
    from cdk_mlops.config.loader import find_model_files, read_model_data

    for path in find_model_files(models_dir):
        data = read_model_data(path)
        if isinstance(data, dict) and data.get("name") == model:
            endpoints = data.get("endpoints") or {}
            return {stage for stage in ("staging", "production") if (endpoints.get(stage) or {}).get("shared_endpoint")}
    return set()


def lambda_functions(workflow: ResolvedWorkflow) -> list[str]:
    """The ``FunctionName`` of every top-level Lambda task of ``workflow`` (the handlers a run registers)."""
    return [
        str(state["Parameters"]["FunctionName"])
        for state in workflow.states.values()
        if ":lambda:invoke" in str(state.get("Resource", ""))
    ]


def _create_stand_ins(engine: LocalEngine, model: str, stacks: Mapping[str, _EndpointStack]) -> None:
    for stage, stack in stacks.items():
        cloudformation = engine.client("cloudformation", stack.account, stack.region)
        sagemaker = engine.client("sagemaker", stack.account, stack.region)
        endpoint = f"{model}-{stage}-endpoint"
        defaults = {name: _BOOTSTRAP_VERSION if name == "BootstrapVersion" else "" for name in stack.parameters}
        template = {
            "Parameters": {name: {"Type": "String", "Default": value} for name, value in defaults.items()},
            "Resources": _PLACEHOLDER_RESOURCES,
            "Outputs": {"EndpointName": {"Value": endpoint}},
        }
        if stack.component:  # as a component's stack outputs it (cdk_mlops.constructs.inference_component)
            template["Outputs"]["InferenceComponentName"] = {"Value": f"{stack.name}-Component"}
        # moto 5.2.5 keeps only parameters given explicitly, and UsePreviousValue needs a stored one.
        cloudformation.create_stack(
            StackName=stack.name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": name, "ParameterValue": value} for name, value in defaults.items()],
        )
        sagemaker.create_model(
            ModelName=f"{endpoint}-model",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/hosting",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/model:1"},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"{endpoint}-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": f"{endpoint}-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")


def _create_regional_platform(engine: LocalEngine, workflow: ResolvedWorkflow) -> str | None:
    """The stand-in of the pipeline account's platform in the region ``ReplicateModel`` copies to (a KMS
    key, a bucket, and a stack whose outputs name them); returns the bucket, or None without one."""
    state = workflow.states.get("ReplicateModel")
    if state is None:
        return None
    payload = state["Parameters"]["Payload"]
    region = str(payload["Region"])
    key = engine.client("kms", region=region).create_key(Description="local stand-in of the regional platform's key")
    key_arn = key["KeyMetadata"]["Arn"]
    bucket = f"cdk-mlops-local-platform-{region}"
    engine.s3_create_bucket(bucket, region)
    engine.client("cloudformation", region=region).create_stack(
        StackName=str(payload["ReplicaStackName"]),
        TemplateBody=json.dumps(
            {
                "Resources": _PLACEHOLDER_RESOURCES,
                "Outputs": {BUCKET_OUTPUT: {"Value": bucket}, KEY_OUTPUT: {"Value": key_arn}},
            }
        ),
    )
    return bucket


def _store_served_objects(engine: LocalEngine, package_arn: str) -> None:
    """Puts the objects ``package_arn`` serves (model data, serving code) where it says they are: the
    scripted training job wrote none."""
    (container, *_) = engine.client("sagemaker").describe_model_package(ModelPackageName=package_arn)[
        "InferenceSpecification"
    ]["Containers"]
    urls = [container["ModelDataUrl"], container.get("Environment", {}).get("SAGEMAKER_SUBMIT_DIRECTORY")]
    for url in filter(None, urls):
        bucket, _, key = str(url).removeprefix("s3://").partition("/")
        engine.s3_put_object(bucket, key, f"local stand-in of {key}".encode())


def _objects_in(engine: LocalEngine, bucket: str | None, region: str | None) -> list[str]:
    if bucket is None:
        return []
    listed = engine.client("s3", region=region).list_objects_v2(Bucket=bucket).get("Contents", [])
    return [f"s3://{bucket}/{entry['Key']}" for entry in listed]


def _fail_endpoint(endpoint_name: str) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    endpoint = sagemaker_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].endpoints[endpoint_name]
    endpoint.endpoint_status = "Failed"
    setattr(endpoint, "failure_reason", "CannotStartContainerError: the container exited during startup")  # noqa: B010 (typed None in moto)


@dataclasses.dataclass
class _PendingUpdate:
    """An update of a stand-in stack that DescribeStacks has not yet seen end."""

    behaviour: StackBehaviour
    polls_left: int
    previous_parameters: dict[str, Any]
    previous_resolved: dict[str, Any]
    rolling_back: bool = False


@contextlib.contextmanager
def _stand_in_stacks(behaviours: Mapping[str, StackBehaviour]) -> Iterator[None]:
    """Makes updates of the named stacks (in any account and region) behave as ``behaviours`` says.

    CloudFormation's documented lifecycle: an update is ``UPDATE_IN_PROGRESS`` until it ends
    ``UPDATE_COMPLETE`` or, rolled back, ``UPDATE_ROLLBACK_COMPLETE``; an update that changes nothing is
    refused with ``ValidationError`` "No updates are to be performed."
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-describing-stacks.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html).
    """
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    original_update = CloudFormationBackend.update_stack
    original_describe = CloudFormationBackend.describe_stacks
    pending: dict[int, _PendingUpdate] = {}
    refused: set[int] = set()
    seen: dict[int, int] = {}  # updates per stack

    def finish(stack: Any, update: _PendingUpdate) -> None:
        if update.behaviour.rolls_back:
            stack.parameters = update.previous_parameters
            # DescribeStacks reports the resolved parameters, which the update had replaced.
            stack.resource_map.resolved_parameters.clear()
            stack.resource_map.resolved_parameters.update(update.previous_resolved)
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
            stack.stack_status_reason = None
        else:
            stack.status = "UPDATE_COMPLETE"

    def roll_back(stack: Any, update: _PendingUpdate) -> None:
        """A polled update that fails is first seen rolling back, with the reason (moto serializes the
        attribute as StackStatusReason); the next DescribeStacks sees the rollback complete."""
        stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        stack.stack_status_reason = ROLLBACK_REASON
        update.rolling_back = True

    def update_stack(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        behaviour = behaviours.get(name)
        if behaviour is None:
            return original_update(backend, name, *args, **kwargs)
        stack = backend.get_stack(name)
        seen[id(stack)] = seen.get(id(stack), 0) + 1
        if seen[id(stack)] <= behaviour.after_updates:
            return original_update(backend, name, *args, **kwargs)
        update = _PendingUpdate(
            behaviour,
            behaviour.polls_in_progress,
            dict(stack.parameters),
            dict(stack.resource_map.resolved_parameters),
        )
        status = stack.status
        updated = original_update(backend, name, *args, **kwargs)
        if behaviour.already_deployed and id(stack) not in refused:
            refused.add(id(stack))  # an earlier deployment had set these parameters: nothing to do now
            stack.status = status
            raise ValidationError(name, message="No updates are to be performed.")
        if update.polls_left:
            stack.status = "UPDATE_IN_PROGRESS"
            pending[id(stack)] = update
        else:
            finish(stack, update)
        return updated

    def describe_stacks(backend: Any, name_or_stack_id: str) -> Any:
        stacks = original_describe(backend, name_or_stack_id)
        for stack in stacks:
            update = pending.get(id(stack))
            if update is None:
                continue
            if update.polls_left:
                update.polls_left -= 1
            elif update.behaviour.rolls_back and not update.rolling_back:
                roll_back(stack, update)
            else:
                finish(stack, pending.pop(id(stack)))
        return stacks

    with (
        mock.patch.object(CloudFormationBackend, "update_stack", update_stack),
        mock.patch.object(CloudFormationBackend, "describe_stacks", describe_stacks),
    ):
        yield


def run_release_scenario(
    model: str,
    scenario: str = "release",
    *,
    models_dir: str = "models",
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    engine: LocalEngine | None = None,
    prepare: Callable[[LocalEngine, ResolvedWorkflow], tuple[str, dict[str, Any]]] | None = None,
    stages: Sequence[str] = STAGES,
) -> ReleaseResult:
    """Runs the four workflows of ``model`` in pipeline order under ``scenario`` (see
    :data:`RELEASE_SCENARIOS`), stopping at the first one that fails, as the pipeline does.

    ``engine`` (default: a new :class:`LocalEngine`) runs them; ``prepare(engine, training workflow)``
    seeds it and returns the training execution's name and input (default: the scenario's scripted
    outcomes, :func:`prepare_training_run`; ``cdk-mlops run`` installs its real jobs here).

    ``stages`` (default: all of :data:`STAGES`) runs only those workflows, in pipeline order, to try one
    stage quickly; ``training`` always runs (the others start from its execution)."""
    if scenario not in RELEASE_SCENARIOS:
        raise ScenarioError(f"unknown scenario {scenario!r} (known: {', '.join(RELEASE_SCENARIOS)})")
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ScenarioError(f"unknown release stage(s) {', '.join(unknown)} (stages: {', '.join(STAGES)})")
    workflows = synthesize_workflows(models_dir, model)[model]
    components = _component_stages(models_dir, model)
    stacks = {
        stage: dataclasses.replace(_EndpointStack.of(workflows[f"deploy_{stage}"]), component=stage in components)
        for stage in ("staging", "production")
    }
    smoke_test = load_handler("smoke_test", "cdk_mlops_local_smoke_test_handler")
    regional_deploy = load_handler("regional_deploy", "cdk_mlops_local_regional_deploy_handler")
    regional_roles: list[str] = []

    def deploy_in_region(event: Any, context: LambdaContext) -> Any:
        if isinstance(event, dict) and event.get("RoleArn"):
            regional_roles.append(str(event["RoleArn"]))
        return regional_deploy.handler(event, context)

    started = time.perf_counter()
    executions: dict[str, ExecutionResult] = {}
    behaviours = {stacks[stage].name: behaviour for stage, behaviour in SCENARIO_STACKS.get(scenario, {}).items()}
    with (
        engine or LocalEngine() as engine,
        _stand_in_stacks(behaviours),
        mirrored_traffic(SHADOW_TRAFFIC["shadow-fails" if scenario == "shadow-fails" else "shadow-passes"]),
    ):
        smoke_test.reset_clients()
        regional_deploy.reset_clients()
        for function in lambda_functions(workflows["smoke_test"]):
            engine.register_lambda(function, smoke_test.handler)
        for function in lambda_functions(workflows["deploy_production"]):
            engine.register_lambda(function, deploy_in_region)
        _create_stand_ins(engine, model, stacks)
        replica_bucket = _create_regional_platform(engine, workflows["deploy_production"])
        if prepare is None:
            training_name, training_input = prepare_training_run(engine, model, workflows["training"], "approve")
        else:
            training_name, training_input = prepare(engine, workflows["training"])
        if scenario == "smoke-fails":
            _fail_endpoint(f"{model}-staging-endpoint")

        def forward(stage: str) -> Callable[[dict[str, Any]], None] | None:
            if on_event is None:  # without a listener the engine need not read the history while it runs
                return None
            return functools.partial(on_event, stage)

        inputs: dict[str, Any] = {"training": training_input}
        for stage in STAGES:
            if stage != "training" and stage not in stages:
                continue
            workflow = workflows[stage]
            if stage == "deploy_production" and replica_bucket is not None:
                _store_served_objects(engine, executions["training"].output["ModelPackageArn"])
            run = engine.run(
                workflow.definition_json,
                input=inputs[stage]
                if stage in inputs
                else {"TrainingExecutionArn": executions["training"].execution_arn},
                name=training_name if stage == "training" else None,
                state_machine_name=workflow.logical_id,
                on_event=forward(stage),
            )
            executions[stage] = run
            if not run.succeeded:
                break
        parameters = {
            stage: {
                p["ParameterKey"]: p.get("ParameterValue", "")
                for p in engine.client("cloudformation", stack.account, stack.region)
                .describe_stacks(StackName=stack.name)["Stacks"][0]
                .get("Parameters", [])
            }
            for stage, stack in stacks.items()
        }
        packages = engine.sagemaker_state()["model_packages"]
        sagemaker = engine.client("sagemaker")
        tags = {arn: sagemaker.list_tags(ResourceArn=arn)["Tags"] for arn in packages}
        result = ReleaseResult(
            model,
            scenario,
            executions,
            engine.notifications,
            packages,
            parameters,
            tags,
            time.perf_counter() - started,
            {stage: stack.account for stage, stack in stacks.items()},
            engine.assumed_roles + regional_roles,
            {stage: stack.region for stage, stack in stacks.items()},
            _objects_in(engine, replica_bucket, stacks["production"].region),
        )
    return result
