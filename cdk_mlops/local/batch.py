"""Batch models on the laptop: the synthesized batch transform workflow, started as the pipeline starts it
(after a training run) or as its schedule does (``{}``), with scripted SageMaker outcomes.

The SageMaker models the workflow creates are deleted again by the workflow, so every ``CreateModel``
request is recorded on its way to moto (:attr:`BatchResult.created_models`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from unittest import mock

from cdk_mlops.local.engine import ExecutionResult, JobOutcome, LocalEngine, Notification
from cdk_mlops.local.harness import ResolvedWorkflow, ScenarioError, prepare_training_run, synthesize_workflows

__all__ = ["BATCH_SCENARIOS", "BATCH_STAGES", "BatchResult", "run_batch_scenario"]

#: Batch scenarios and what they script.
BATCH_SCENARIOS: Mapping[str, str] = {
    "batch": "train, then the pipeline's batch transform: the job completes, the package ends Approved and "
    "tagged, the run's model is deleted",
    "batch-fails": "train, then the transform job fails: the model is deleted, the failure notified, the package "
    "stays PendingManualApproval",
    "batch-scheduled": "the schedule's run ({}): the newest Approved package of three scores the data",
    "batch-no-approved": "the schedule's run ({}) finds no Approved package: it notifies and fails",
}

BATCH_STAGES = ("training", "batch_transform")
TRANSFORM_FAILURE = "ClientError: See job logs for more information: line 17 of the input has 5 columns, the model 6"
_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """What a local batch scenario did: each workflow run in order (``training`` only when the pipeline
    started the transform), the SageMaker state afterwards, and the ``CreateModel`` requests made."""

    model: str
    scenario: str
    executions: dict[str, ExecutionResult]
    notifications: list[Notification]
    model_packages: dict[str, dict[str, Any]]
    model_package_tags: dict[str, dict[str, str]]
    transform_jobs: dict[str, dict[str, Any]]
    created_models: list[dict[str, Any]]
    models_left: list[str]
    sagemaker_calls: list[str]
    wall_seconds: float

    @property
    def batch_transform(self) -> ExecutionResult:
        """The batch transform workflow's execution."""
        return self.executions["batch_transform"]

    @property
    def succeeded(self) -> bool:
        return all(run.succeeded for run in self.executions.values()) and "batch_transform" in self.executions

    @property
    def transitions(self) -> int:
        return sum(len(run.states_entered) for run in self.executions.values())


@contextlib.contextmanager
def _recording_created_models() -> Iterator[list[dict[str, Any]]]:
    """Records the arguments of every CreateModel moto's SageMaker receives."""
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.create_model
    requests: list[dict[str, Any]] = []

    def create_model(backend: Any, **kwargs: Any) -> Any:
        requests.append(dict(kwargs))
        return original(backend, **kwargs)

    with mock.patch.object(SageMakerModelBackend, "create_model", create_model):
        yield requests


def _seed_packages(engine: LocalEngine, model: str, statuses: tuple[str, ...]) -> None:
    """Registers one package per status in the model's group, oldest first (as releases would have)."""
    sagemaker = engine.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=model)
    for version, status in enumerate(statuses, start=1):
        sagemaker.create_model_package(
            ModelPackageGroupName=model,
            ModelPackageDescription=f"seeded release {version}",
            InferenceSpecification={
                "Containers": [{"Image": _IMAGE, "ModelDataUrl": f"s3://seeded/{model}/{version}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelApprovalStatus=status,
        )
        time.sleep(0.002)  # distinct CreationTime values, which the workflow sorts by


def _batch_workflow(workflows: Mapping[str, ResolvedWorkflow], model: str) -> ResolvedWorkflow:
    if "batch_transform" not in workflows:
        raise ScenarioError(f"batch scenarios need a batch model (inference: batch); {model} hosts endpoints")
    return workflows["batch_transform"]


def run_batch_scenario(
    model: str,
    scenario: str = "batch",
    *,
    models_dir: str = "models",
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    engine: LocalEngine | None = None,
    prepare: Callable[[LocalEngine, ResolvedWorkflow], tuple[str, dict[str, Any]]] | None = None,
) -> BatchResult:
    """Runs ``model``'s batch transform workflow under ``scenario`` (see :data:`BATCH_SCENARIOS`): after
    its training workflow for ``batch`` and ``batch-fails``, alone with ``{}`` for the scheduled ones.

    ``engine`` (default: a new :class:`LocalEngine`) runs them; ``prepare(engine, training workflow)``
    seeds it and returns the training execution's name and input instead of the scenario's scripted
    outcomes (the transform job's included: ``cdk-mlops run`` installs its real jobs here)."""
    if scenario not in BATCH_SCENARIOS:
        raise ScenarioError(f"unknown scenario {scenario!r} (known: {', '.join(BATCH_SCENARIOS)})")
    workflows = synthesize_workflows(models_dir, model)[model]
    batch = _batch_workflow(workflows, model)
    scheduled = scenario in ("batch-scheduled", "batch-no-approved")
    started = time.perf_counter()
    executions: dict[str, ExecutionResult] = {}

    def forward(stage: str) -> Callable[[dict[str, Any]], None] | None:
        return functools.partial(on_event, stage) if on_event is not None else None

    with engine or LocalEngine() as engine, _recording_created_models() as created:
        script = engine.sagemaker
        if prepare is None:
            script.script_transform_job(
                JobOutcome.failed(TRANSFORM_FAILURE) if scenario == "batch-fails" else JobOutcome.completed(),
                name_contains="-batch",
            )
        batch_input: dict[str, Any] = {}
        if scheduled:
            statuses = ("Approved", "Approved", "PendingManualApproval")
            _seed_packages(engine, model, statuses if scenario == "batch-scheduled" else statuses[2:])
        else:
            training = workflows["training"]
            if prepare is None:
                name, training_input = prepare_training_run(engine, model, training, "approve")
            else:
                name, training_input = prepare(engine, training)
            executions["training"] = engine.run(
                training.definition_json,
                input=training_input,
                name=name,
                state_machine_name=training.logical_id,
                on_event=forward("training"),
            )
            batch_input = {"TrainingExecutionArn": executions["training"].execution_arn}
        if "training" not in executions or executions["training"].succeeded:
            executions["batch_transform"] = engine.run(
                batch.definition_json,
                input=batch_input,
                state_machine_name=batch.logical_id,
                on_event=forward("batch_transform"),
            )
        calls = script.calls()  # before the inspection below adds its own
        state = engine.sagemaker_state()
        sagemaker = engine.client("sagemaker")
        tags = {
            arn: {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
            for arn in state["model_packages"]
        }
        result = BatchResult(
            model,
            scenario,
            executions,
            engine.notifications,
            state["model_packages"],
            tags,
            state["transform_jobs"],
            list(created),
            state["models"],
            calls,
            time.perf_counter() - started,
        )
    return result
