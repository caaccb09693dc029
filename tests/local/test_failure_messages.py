"""Every failure notification reads the same way and fits an e-mail: its first line names the model,
the workflow, the state and the reason; the next line is the execution's page in the Step Functions
console; a failed SageMaker job's notification names the job's CloudWatch log group and stream prefix;
the whole message is under 1 KB even when the job's description (the error's ``Cause``) is about 3 KB
and the execution name is 80 characters (Step Functions' limit).

A ``.sync`` job's error ``Cause`` is the ``Describe*Job`` response as a string, per the Step Functions
documentation on the SageMaker integration's job status (https://docs.aws.amazon.com/step-functions/
latest/dg/connect-sagemaker.html); the log groups and stream names follow the SageMaker developer
guide's "Log Amazon SageMaker AI events with Amazon CloudWatch" (``/aws/sagemaker/TrainingJobs``,
``/aws/sagemaker/ProcessingJobs``, ``/aws/sagemaker/TransformJobs``, streams ``<job name>/...``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.local.batch import TRANSFORM_FAILURE, run_batch_scenario
from cdk_mlops.local.engine import ExecutionResult, JobOutcome, LocalEngine, Notification, StateFault, inject_faults
from cdk_mlops.local.harness import (
    FAKE_BUCKET,
    ResolvedWorkflow,
    TokenResolver,
    prepare_training_run,
    run_training_scenario,
    synthesize_templates,
    synthesize_workflows,
)
from cdk_mlops.local.release import ReleaseResult, run_release_scenario
from cdk_mlops_testing import example_config_data, write_model_with_code

EXECUTION = "retrain-after-the-incident-of-2026-12-01_requested-by-the-on-call-team-first-try"
TRAINED = "iris-model-twenty-ch"  # preprocessing, training, an evaluation job, endpoints
DEPLOYED = "churn-model-twenty-c"  # training metrics, endpoints, a drift check
BATCH = "fraud-model-twenty-c"  # batch transform
E_MAIL_LIMIT = 1024
CONSOLE = "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/"
JOB = hashlib.md5(EXECUTION.encode()).hexdigest()  # the part of each job name that stands for the execution


class NamedEngine(LocalEngine):
    """A local engine that names every execution it starts without a name :data:`EXECUTION`."""

    def run(self, definition: Any, input: Any = None, *, name: str | None = None, **options: Any) -> ExecutionResult:
        return super().run(definition, input, name=name or EXECUTION, **options)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("repository") / "models"
    for name, example in ((TRAINED, "iris-sklearn"), (DEPLOYED, "churn-xgb"), (BATCH, "fraud-batch")):
        data = example_config_data(example)
        data["name"] = name
        data["source"].pop("path", None)  # models/<name>, as write_model_with_code sets it
        data.pop("pipeline_class", None)  # the default steps
        write_model_with_code(models, data)
    synthesize_workflows(models)  # once for the module
    return models


def check_layout(notification: Notification, first_line: str, *, logs: str | None = None) -> list[str]:
    """The notification's lines, after checking the first, the console URL, the log line and the size."""
    lines = notification.message.splitlines()
    assert lines[0] == first_line
    assert lines[1] == f"Execution: {CONSOLE}{notification.execution_arn}"
    assert notification.execution_arn.endswith(f":{EXECUTION}")
    if logs is not None:
        assert lines[2] == f"Logs: CloudWatch log group {logs}"
    assert len(notification.message.encode()) < E_MAIL_LIMIT, len(notification.message.encode())
    return lines


def release(models_dir: Path, scenario: str) -> ReleaseResult:
    def prepare(engine: LocalEngine, training: ResolvedWorkflow) -> tuple[str, dict[str, Any]]:
        return prepare_training_run(engine, DEPLOYED, training, "approve", execution_name=EXECUTION)

    return run_release_scenario(DEPLOYED, scenario, models_dir=str(models_dir), engine=NamedEngine(), prepare=prepare)


def test_a_failed_training_job_names_the_state_its_failure_reason_and_its_logs(models_dir: Path) -> None:
    run = run_training_scenario(TRAINED, "training-fails", models_dir=models_dir, execution_name=EXECUTION)

    assert len(run.result.cause or "") > 2500  # the whole DescribeTrainingJob response
    [notification] = run.notifications
    lines = check_layout(
        notification,
        f"{TRAINED} training workflow failed at Train: "
        "AlgorithmError: ExecuteUserScriptError: out of memory (exit code 137)",
        logs=f"/aws/sagemaker/TrainingJobs, log streams {TRAINED}-{JOB}-train/*",
    )
    assert lines[3:] == ["Error: States.TaskFailed"]


def test_a_failed_processing_job_names_its_log_group(models_dir: Path) -> None:
    run = run_training_scenario(TRAINED, "preprocessing-fails", models_dir=models_dir, execution_name=EXECUTION)

    [notification] = run.notifications
    check_layout(
        notification,
        f"{TRAINED} training workflow failed at Preprocess: ClientError: preprocess.py exited with code 1: no input data",
        logs=f"/aws/sagemaker/ProcessingJobs, log streams {TRAINED}-{JOB}-prep/*",
    )


def test_an_aws_sdk_error_quotes_the_error_and_its_text(models_dir: Path) -> None:
    run = run_training_scenario(TRAINED, "missing-evaluation", models_dir=models_dir, execution_name=EXECUTION)

    [notification] = run.notifications
    first_line = notification.message.splitlines()[0]
    assert first_line.startswith(f"{TRAINED} training workflow failed at ReadEvaluationReport: S3.NoSuchKey")
    lines = check_layout(notification, first_line)
    assert len(lines) == 3 and lines[2].startswith("Error: S3.NoSuchKey")  # no job, so no log line


def test_a_rejected_model_names_the_gate_the_metric_its_value_and_the_threshold(models_dir: Path) -> None:
    run = run_training_scenario(DEPLOYED, "reject", models_dir=models_dir, execution_name=EXECUTION)

    [notification] = run.notifications
    check_layout(
        notification,
        f"{DEPLOYED} training workflow stopped at QualityGate validation_auc: validation:auc = 0.7 does not meet "
        ">= 0.8; nothing was registered",
    )


def test_a_failed_transform_job_names_its_log_group(models_dir: Path) -> None:
    def prepare(engine: LocalEngine, training: ResolvedWorkflow) -> tuple[str, dict[str, Any]]:
        engine.sagemaker.script_transform_job(JobOutcome.failed(TRANSFORM_FAILURE), name_contains="-batch")
        return prepare_training_run(engine, BATCH, training, "approve", execution_name=EXECUTION)

    run = run_batch_scenario(BATCH, "batch-fails", models_dir=str(models_dir), engine=NamedEngine(), prepare=prepare)

    [notification] = run.notifications
    check_layout(
        notification,
        f"{BATCH} batch transform failed at Transform: {TRANSFORM_FAILURE}",
        logs=f"/aws/sagemaker/TransformJobs, log streams {BATCH}-{JOB}-batch/*",
    )


def test_a_batch_run_without_an_approved_package_says_what_to_do(models_dir: Path) -> None:
    run = run_batch_scenario(BATCH, "batch-no-approved", models_dir=str(models_dir), engine=NamedEngine())

    [notification] = run.notifications
    lines = check_layout(
        notification,
        f"{BATCH} batch transform failed at ApprovedPackageFound?: no Approved package in model package group {BATCH}",
    )
    assert lines[2:] == ["Approve one in the model registry, or release one through the pipeline."]


@pytest.mark.parametrize(("scenario", "stage"), [("rollback", "staging"), ("production-rollback", "production")])
def test_a_rolled_back_deployment_names_the_stack_its_status_and_reason(
    models_dir: Path, scenario: str, stage: str
) -> None:
    result = release(models_dir, scenario)

    [notification] = result.notifications
    stack = f"Mlops-{DEPLOYED}-{stage.capitalize()}"
    first_line = notification.message.splitlines()[0]
    head = (
        f"{DEPLOYED} deploy to {stage} failed at StackUpdated?: stack {stack} rolled back (UPDATE_ROLLBACK_COMPLETE): "
    )
    # the reason: the stack's StackStatusReason, or "CloudFormation gave no reason" when it has none
    assert first_line.startswith(head) and first_line.removeprefix(head)
    lines = check_layout(notification, first_line)
    assert lines[2:] == [f"Details: the events of stack {stack} in CloudFormation name the resource that failed"]


def test_a_failed_smoke_test_quotes_the_test_and_names_its_function_logs(models_dir: Path) -> None:
    result = release(models_dir, "smoke-fails")

    [notification] = result.notifications
    lines = notification.message.splitlines()
    assert lines[0].startswith(
        f"{DEPLOYED} smoke test failed at Passed?: the endpoint in Mlops-{DEPLOYED}-Staging failed: "
        f"endpoint {DEPLOYED}-staging-endpoint is Failed, not InService"
    )
    check_layout(notification, lines[0])
    assert lines[2].startswith("Logs: CloudWatch log group MlPipelineSmokeTestFunctionLogs")


def test_a_lambda_error_quotes_its_error_message_not_its_stack_trace(models_dir: Path) -> None:
    cause = json.dumps(
        {
            "errorMessage": "Unable to read the stack outputs",
            "errorType": "StackOutputsMissing",
            "stackTrace": ["  File handler.py, line 1\n" * 40],
        }
    )
    with inject_faults(StateFault("InvokeSmokeTest", error="StackOutputsMissing", cause=cause)):
        result = release(models_dir, "release")

    [notification] = result.notifications
    lines = check_layout(
        notification, f"{DEPLOYED} smoke test failed at InvokeSmokeTest: Unable to read the stack outputs"
    )
    assert lines[2:] == ["Error: StackOutputsMissing"]


def test_a_failed_drift_job_with_a_3_kb_description_fits_an_e_mail(models_dir: Path) -> None:
    job = f"{DEPLOYED}-{JOB}-drift"
    description = {
        "ProcessingJobName": job,
        "ProcessingJobStatus": "Failed",
        "FailureReason": "AlgorithmError: drift.py exited with code 1: baseline has no rows",
        "ProcessingInputs": [
            {"InputName": f"input-{index}", "S3Input": {"S3Uri": "s3://b/" + "k" * 80}} for index in range(20)
        ],
    }
    assert len(json.dumps(description)) > 2900
    definitions = TokenResolver(synthesize_templates(models_dir)).state_machine_definitions(
        f"Mlops-{DEPLOYED}-Pipeline"
    )
    [(logical_id, definition)] = [
        (key, value) for key, value in definitions.items() if key.startswith("MlPipelineDrift") and "Role" not in key
    ]
    with LocalEngine() as engine:
        engine.s3_put_json(FAKE_BUCKET, "seed.json", {})
        engine.fail_state("DetectDrift", cause=json.dumps(description))
        result = engine.run(json.dumps(definition), input={}, name=EXECUTION, state_machine_name=logical_id)
        notifications = engine.notifications

    assert result.status == "FAILED"
    [notification] = notifications
    check_layout(
        notification,
        f"{DEPLOYED} drift check failed at DetectDrift: AlgorithmError: drift.py exited with code 1: baseline has no rows",
        logs=f"/aws/sagemaker/ProcessingJobs, log streams {job}/*",
    )
