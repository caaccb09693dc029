"""Execution names of any length (1 to 80 characters, Step Functions' limit) give valid, unique and
repeatable names for everything a workflow creates: every workflow kind runs on the local engine with
a 20-character model name (the longest model.yaml allows) and each name it sends is checked against the
pattern and maximum length in botocore's service model (the AWS API's own definition)."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from cdk_mlops.local.batch import run_batch_scenario
from cdk_mlops.local.engine import ExecutionResult, JobOutcome, LocalEngine
from cdk_mlops.local.harness import (
    FAKE_BUCKET,
    ResolvedWorkflow,
    TokenResolver,
    prepare_training_run,
    run_training_scenario,
    synthesize_templates,
    synthesize_workflows,
)
from cdk_mlops.local.release import run_release_scenario
from cdk_mlops_testing import example_config_data, write_model_with_code

PREFIX_60 = "retrain-after-the-incident-of-2026-12-01_requested-by-the-on"
LONG_A = PREFIX_60 + "-call-team-first-try"  # 80 characters
LONG_B = PREFIX_60 + "-call-team-secondtry"  # the same first 60 characters
SHORT = "x"

TRAINED = "iris-model-twenty-ch"  # preprocessing, training, an evaluation job, endpoints
DRIFTING = "churn-model-twenty-c"  # training metrics, endpoints, a drift check
BATCH = "fraud-model-twenty-c"  # batch transform instead of endpoints

#: Request field -> (service, operation) whose input shape defines the field.
NAME_FIELDS: Mapping[str, tuple[str, str]] = {
    "TrainingJobName": ("sagemaker", "CreateTrainingJob"),
    "ProcessingJobName": ("sagemaker", "CreateProcessingJob"),
    "TransformJobName": ("sagemaker", "CreateTransformJob"),
    "ModelName": ("sagemaker", "CreateModel"),
    "EndpointConfigName": ("sagemaker", "CreateEndpointConfig"),
    "ClientToken": ("sagemaker", "CreateModelPackage"),
    "ClientRequestToken": ("cloudformation", "UpdateStack"),
}


@functools.cache
def name_rules(field: str) -> tuple[int, re.Pattern[str]]:
    """The maximum length and pattern of ``field`` in botocore's service model."""
    service, operation = NAME_FIELDS[field]
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    metadata = shape.members[field].metadata
    return int(metadata["max"]), re.compile(metadata["pattern"])


def sent_names(result: ExecutionResult) -> dict[str, list[str]]:
    """Every name field of every request the execution's tasks sent (nested in Lambda payloads too)."""
    found: dict[str, list[str]] = {}

    def walk(value: Any) -> Iterator[tuple[str, Any]]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield key, item
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    for event in result.events("TaskScheduled"):
        parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
        for key, value in walk(parameters):
            if key in NAME_FIELDS and isinstance(value, str):
                found.setdefault(key, []).append(value)
    return found


def assert_valid(names: Mapping[str, list[str]]) -> None:
    for field, values in names.items():
        maximum, pattern = name_rules(field)
        for value in values:
            assert len(value) <= maximum, (field, value)
            assert pattern.fullmatch(value), (field, value, pattern.pattern)


class NamedEngine(LocalEngine):
    """A local engine that names every execution it starts without a name ``execution_name``."""

    def __init__(self, execution_name: str) -> None:
        super().__init__()
        self.execution_name = execution_name

    def run(self, definition: Any, input: Any = None, *, name: str | None = None, **options: Any) -> ExecutionResult:
        return super().run(definition, input, name=name or self.execution_name, **options)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("repository") / "models"
    for name, example in ((TRAINED, "iris-sklearn"), (DRIFTING, "churn-xgb"), (BATCH, "fraud-batch")):
        data = example_config_data(example)
        data["name"] = name
        data["source"].pop("path", None)  # models/<name>, as write_model_with_code sets it
        data.pop("pipeline_class", None)  # the default steps
        write_model_with_code(models, data)
    synthesize_workflows(models)  # once for the module
    return models


def training_names(models_dir: Path, execution_name: str) -> dict[str, list[str]]:
    run = run_training_scenario(TRAINED, "approve", models_dir=models_dir, execution_name=execution_name)
    assert run.status == "SUCCEEDED", run.result.cause
    return sent_names(run.result)


def test_execution_names_are_80_characters_at_most() -> None:
    assert (len(LONG_A), len(LONG_B), LONG_A[:60] == LONG_B[:60]) == (80, 80, True)


@pytest.mark.parametrize("execution_name", [LONG_A, SHORT])
def test_a_training_run_names_its_jobs_and_its_package_validly_for_any_execution_name(
    models_dir: Path, execution_name: str
) -> None:
    names = training_names(models_dir, execution_name)

    assert_valid(names)
    digest = hashlib.md5(execution_name.encode()).hexdigest()
    assert names["TrainingJobName"] == [f"{TRAINED}-{digest}-train"]
    assert names["ProcessingJobName"] == [f"{TRAINED}-{digest}-prep", f"{TRAINED}-{digest}-eval"]
    assert names["ClientToken"] == [hashlib.md5(f"{TRAINED}/{execution_name}".encode()).hexdigest()]


def test_two_long_names_sharing_their_first_60_characters_get_different_names(models_dir: Path) -> None:
    first, second = training_names(models_dir, LONG_A), training_names(models_dir, LONG_B)

    for field in ("TrainingJobName", "ProcessingJobName", "ClientToken"):
        assert set(first[field]).isdisjoint(second[field]), field


def test_the_same_execution_name_gives_the_same_names_again(models_dir: Path) -> None:
    assert training_names(models_dir, LONG_A) == training_names(models_dir, LONG_A)


@pytest.mark.parametrize("execution_name", [LONG_A, SHORT])
def test_every_workflow_of_a_release_runs_with_any_execution_name(models_dir: Path, execution_name: str) -> None:
    def prepare(engine: LocalEngine, training: ResolvedWorkflow) -> tuple[str, dict[str, Any]]:
        return prepare_training_run(engine, DRIFTING, training, "approve", execution_name=execution_name)

    release = run_release_scenario(
        DRIFTING, "release", models_dir=str(models_dir), engine=NamedEngine(execution_name), prepare=prepare
    )

    assert release.succeeded, {stage: run.cause for stage, run in release.executions.items()}
    assert [run.execution_arn.rsplit(":", 1)[1] for run in release.executions.values()] == [execution_name] * 4
    for run in release.executions.values():
        assert_valid(sent_names(run))
    tokens = sent_names(release.executions["deploy_production"])["ClientRequestToken"]
    assert tokens == [hashlib.md5(execution_name.encode()).hexdigest()]


@pytest.mark.parametrize("execution_name", [LONG_A, SHORT])
def test_a_batch_transform_names_its_model_and_job_validly_for_any_execution_name(
    models_dir: Path, execution_name: str
) -> None:
    def prepare(engine: LocalEngine, training: ResolvedWorkflow) -> tuple[str, dict[str, Any]]:
        return prepare_training_run(engine, BATCH, training, "approve", execution_name=execution_name)

    run = run_batch_scenario(
        BATCH, "batch", models_dir=str(models_dir), engine=NamedEngine(execution_name), prepare=prepare
    )

    assert run.succeeded, run.batch_transform.cause
    names = sent_names(run.batch_transform)
    assert_valid(names)
    expected = f"{BATCH}-{hashlib.md5(execution_name.encode()).hexdigest()}-batch"
    assert names["TransformJobName"] == [expected]
    assert set(names["ModelName"]) == {expected}  # CreateModel, the transform job, DeleteModel
    assert run.models_left == []


@pytest.mark.parametrize("execution_name", [LONG_A, SHORT])
def test_a_drift_check_names_its_job_validly_for_any_execution_name(models_dir: Path, execution_name: str) -> None:
    definitions = TokenResolver(synthesize_templates(models_dir)).state_machine_definitions(
        f"Mlops-{DRIFTING}-Pipeline"
    )
    [(logical_id, definition)] = [
        (key, value) for key, value in definitions.items() if key.startswith("MlPipelineDrift") and "Role" not in key
    ]
    with LocalEngine() as engine:
        engine.sagemaker.script_processing_job(JobOutcome.completed({}), name_contains="-drift")
        engine.s3_put_json(FAKE_BUCKET, f"{DRIFTING}/drift/{execution_name}/drift.json", {"drift_score": 0.1})
        result = engine.run(json.dumps(definition), input={}, name=execution_name, state_machine_name=logical_id)

    assert result.status == "SUCCEEDED", result.cause
    names = sent_names(result)
    assert_valid(names)
    assert names["ProcessingJobName"] == [f"{DRIFTING}-{hashlib.md5(execution_name.encode()).hexdigest()}-drift"]
