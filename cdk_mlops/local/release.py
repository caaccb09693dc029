"""A whole release on the laptop: train, deploy to staging, smoke-test, deploy to production.

Runs the synthesized training, deploy and smoke-test workflows one after the other in one local
engine, as the pipeline would. The endpoint stacks are stand-ins created in moto's CloudFormation (the
same parameters and ``EndpointName`` output as the real ones), and the smoke test runs the real
handler from ``lambda_src/smoke_test`` against a moto SageMaker endpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any
from unittest import mock

from cdk_mlops.constructs.deploy_workflow import (
    MODEL_ARTIFACTS_BUCKET_PARAMETER,
    MODEL_ARTIFACTS_KEY_PARAMETER,
    MODEL_PACKAGE_PARAMETER,
)
from cdk_mlops.lambda_code import lambda_code_dir
from cdk_mlops.local.engine import ExecutionResult, LocalEngine, Notification
from cdk_mlops.local.harness import (
    ResolvedWorkflow,
    ScenarioError,
    prepare_training_run,
    synthesize_workflows,
)

#: Release scenarios and what they script.
RELEASE_SCENARIOS: Mapping[str, str] = {
    "release": "train, deploy staging, smoke test, deploy production: the package ends Approved",
    "smoke-fails": "the staging endpoint is not InService: the smoke test fails, production is untouched",
    "rollback": "the staging stack update rolls back: the deployment fails, nothing else runs",
    "production-rollback": "the production stack update rolls back (guardrail alarm): the package ends Rejected",
}

STAGES = ("training", "deploy_staging", "smoke_test", "deploy_production")

_STAND_IN_TEMPLATE = {
    "Parameters": {
        MODEL_PACKAGE_PARAMETER: {"Type": "String", "Default": ""},
        "BootstrapVersion": {"Type": "String", "Default": "30"},
    },
    "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
}


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
    #: Roles task calls were made as (a deploy workflow reaching another account), in order.
    assumed_roles: list[str] = dataclasses.field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return len(self.executions) == len(STAGES) and all(run.succeeded for run in self.executions.values())

    @property
    def transitions(self) -> int:
        return sum(len(run.states_entered) for run in self.executions.values())


def _smoke_test_handler() -> ModuleType:
    path = lambda_code_dir("smoke_test") / "handler.py"
    spec = importlib.util.spec_from_file_location("cdk_mlops_local_smoke_test_handler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _stack_name(workflow: ResolvedWorkflow) -> str:
    return str(workflow.states["UpdateEndpointStack"]["Parameters"]["StackName"])


def _stack_account(workflow: ResolvedWorkflow) -> str | None:
    """The account of the stack a deploy workflow updates: the one of the role it updates it as, if any."""
    role = workflow.states["UpdateEndpointStack"].get("Credentials", {}).get("RoleArn")
    return str(role).split(":")[4] if role else None


def _lambda_functions(workflow: ResolvedWorkflow) -> list[str]:
    return [
        str(state["Parameters"]["FunctionName"])
        for state in workflow.states.values()
        if ":lambda:invoke" in str(state.get("Resource", ""))
    ]


def _create_stand_ins(
    engine: LocalEngine, model: str, stacks: Mapping[str, str], accounts: Mapping[str, str | None]
) -> None:
    for stage, stack_name in stacks.items():
        cloudformation = engine.client("cloudformation", accounts[stage])
        sagemaker = engine.client("sagemaker", accounts[stage])
        endpoint = f"{model}-{stage}-endpoint"
        template = dict(_STAND_IN_TEMPLATE, Outputs={"EndpointName": {"Value": endpoint}})
        if accounts[stage] is not None:  # a stack in another account also learns where the model data is
            template["Parameters"] = {
                **_STAND_IN_TEMPLATE["Parameters"],
                MODEL_ARTIFACTS_BUCKET_PARAMETER: {"Type": "String", "Default": ""},
                MODEL_ARTIFACTS_KEY_PARAMETER: {"Type": "String", "Default": ""},
            }
        # moto 5.2.5 keeps only parameters given explicitly, and UsePreviousValue needs a stored one.
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(template),
            Parameters=[
                {"ParameterKey": MODEL_PACKAGE_PARAMETER, "ParameterValue": ""},
                {"ParameterKey": "BootstrapVersion", "ParameterValue": "30"},
            ],
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


def _fail_endpoint(endpoint_name: str) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    endpoint = sagemaker_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].endpoints[endpoint_name]
    endpoint.endpoint_status = "Failed"
    setattr(endpoint, "failure_reason", "CannotStartContainerError: the container exited during startup")  # noqa: B010 (typed None in moto)


@contextlib.contextmanager
def _updates_roll_back(stack_name: str) -> Iterator[None]:
    """Makes every update of ``stack_name`` end ``UPDATE_ROLLBACK_COMPLETE`` with its old parameters, as
    CloudFormation does when SageMaker's guardrails roll an endpoint back."""
    from moto.cloudformation.models import Stack as FakeStack

    original = FakeStack.update

    def update(stack: Any, *args: Any, **kwargs: Any) -> None:
        previous = dict(stack.parameters)
        previous_resolved = dict(stack.resource_map.resolved_parameters)
        original(stack, *args, **kwargs)
        if stack.name == stack_name:
            stack.parameters = previous
            # DescribeStacks reports the resolved parameters, which the update had replaced.
            stack.resource_map.resolved_parameters.clear()
            stack.resource_map.resolved_parameters.update(previous_resolved)
            stack.status = "UPDATE_ROLLBACK_COMPLETE"

    with mock.patch.object(FakeStack, "update", update):
        yield


def run_release_scenario(
    model: str,
    scenario: str = "release",
    *,
    models_dir: str = "models",
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> ReleaseResult:
    """Runs the four workflows of ``model`` in pipeline order under ``scenario`` (see
    :data:`RELEASE_SCENARIOS`), stopping at the first one that fails, as the pipeline does."""
    if scenario not in RELEASE_SCENARIOS:
        raise ScenarioError(f"unknown scenario {scenario!r} (known: {', '.join(RELEASE_SCENARIOS)})")
    workflows = synthesize_workflows(models_dir, model)[model]
    stacks = {
        "staging": _stack_name(workflows["deploy_staging"]),
        "production": _stack_name(workflows["deploy_production"]),
    }
    accounts = {
        "staging": _stack_account(workflows["deploy_staging"]),
        "production": _stack_account(workflows["deploy_production"]),
    }
    handler_module = _smoke_test_handler()
    started = time.perf_counter()
    executions: dict[str, ExecutionResult] = {}
    rolled_back = {"rollback": "staging", "production-rollback": "production"}.get(scenario)
    rollback = _updates_roll_back(stacks[rolled_back]) if rolled_back else contextlib.nullcontext()
    with LocalEngine() as engine, rollback:
        handler_module.reset_clients()
        for function in _lambda_functions(workflows["smoke_test"]):
            engine.register_lambda(function, handler_module.handler)
        _create_stand_ins(engine, model, stacks, accounts)
        training_name, training_input = prepare_training_run(engine, model, workflows["training"], "approve")
        if scenario == "smoke-fails":
            _fail_endpoint(f"{model}-staging-endpoint")

        def forward(stage: str) -> Callable[[dict[str, Any]], None]:
            def callback(event: dict[str, Any]) -> None:
                if on_event is not None:
                    on_event(stage, event)

            return callback

        inputs: dict[str, Any] = {"training": training_input}
        for stage in STAGES:
            workflow = workflows[stage]
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
                for p in engine.client("cloudformation", accounts[stage])
                .describe_stacks(StackName=name)["Stacks"][0]
                .get("Parameters", [])
            }
            for stage, name in stacks.items()
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
            accounts,
            engine.assumed_roles,
        )
    return result
