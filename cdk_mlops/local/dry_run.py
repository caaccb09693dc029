"""``cdk-mlops dry-run``: run a model's synthesized workflows locally under a scenario: its training
workflow, a whole release, or a batch model's transform."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from cdk_mlops.local.batch import BATCH_SCENARIOS, BATCH_STAGES, BatchResult, run_batch_scenario
from cdk_mlops.local.champion import champion_table
from cdk_mlops.local.engine import summarize_event
from cdk_mlops.local.harness import SCENARIOS, ScenarioError, run_training_scenario, synthesize_workflows
from cdk_mlops.local.release import RELEASE_SCENARIOS, STAGES, ReleaseResult, run_release_scenario

__all__ = ["dry_run"]


def dry_run(model: str, scenario: str = "approve", models_dir: Path | str = "models", out: TextIO | None = None) -> int:
    """Runs ``model``'s training workflow under ``scenario``, printing progress and a summary to ``out``.

    Returns 0 if the execution SUCCEEDED, 1 if it did not, 2 for an unknown model or scenario.
    """
    stream = out or sys.stdout
    started = time.perf_counter()

    def emit(text: str) -> None:
        print(text, file=stream, flush=True)

    try:
        if scenario in RELEASE_SCENARIOS or scenario in BATCH_SCENARIOS:
            emit(f"Synthesizing {models_dir} ...")
            workflows = synthesize_workflows(models_dir, model)[model]
            if scenario in BATCH_SCENARIOS:
                return _dry_run_batch(model, scenario, str(models_dir), emit, started)
            if "deploy_staging" not in workflows:
                raise ScenarioError(
                    f"release scenarios need a model with endpoints; {model} is a batch model "
                    f"(scenarios: {', '.join(BATCH_SCENARIOS)})"
                )
            return _dry_run_release(model, scenario, str(models_dir), emit, started)
        if scenario not in SCENARIOS:
            known = ", ".join([*SCENARIOS, *RELEASE_SCENARIOS, *BATCH_SCENARIOS])
            raise ScenarioError(f"unknown scenario {scenario!r} (known scenarios: {known})")
        emit(f"Synthesizing {models_dir} ...")
        synthesize_workflows(models_dir, model)
    except ScenarioError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    emit(f"Dry run of {model} training workflow, scenario {scenario!r}: {SCENARIOS[scenario]}")

    def on_event(event: dict[str, Any]) -> None:
        emit("  " + summarize_event(event))

    try:
        run = run_training_scenario(model, scenario, models_dir=models_dir, on_event=on_event)
    except ScenarioError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    result = run.result
    emit(f"\nFinal status: {result.status}")
    if result.error or result.cause:
        emit(f"  error: {result.error}")
        emit(f"  cause: {result.cause}")
    if run.model_packages:
        for arn, package in run.model_packages.items():
            emit(f"Registered: {arn} ({package.get('ModelApprovalStatus')})")
            emit(f"  metrics: {json.dumps(package.get('CustomerMetadataProperties', {}), sort_keys=True)}")
    else:
        emit("Registered: nothing")
    if isinstance(result.output, dict) and "Metrics" in result.output:
        emit(f"  evaluation metrics: {json.dumps(result.output['Metrics'], sort_keys=True)}")
    for line in champion_table(run.workflow.states, result.history):  # candidate vs champion
        emit(line)
    emit(f"Notifications sent: {len(run.notifications)}")
    for notification in run.notifications:
        emit(f"  [{notification.subject}] {notification.message}")
    emit(f"State transitions: {run.transitions}")
    emit(f"Wall time: {time.perf_counter() - started:.2f} s (execution {run.wall_seconds:.2f} s)")
    return 0 if result.succeeded else 1


def _dry_run_release(model: str, scenario: str, models_dir: str, emit: Callable[[str], None], started: float) -> int:
    """Runs the four workflows of a release in pipeline order and reports each."""
    emit(f"Dry run of a {model} release, scenario {scenario!r}: {RELEASE_SCENARIOS[scenario]}")
    release = run_release_scenario(model, scenario, models_dir=models_dir, on_event=_stage_events(emit))
    _report_stages(emit, STAGES, release.executions)
    for arn, package in release.model_packages.items():
        emit(f"Model package: {arn} ({package.get('ModelApprovalStatus')})")
    for stage, parameters in release.stack_parameters.items():
        account, region = release.stack_accounts.get(stage), release.stack_regions.get(stage)
        place = [f"account {account}"] if account else []
        place += [f"region {region}"] if region else []
        where = f" ({', '.join(place)})" if place else ""
        emit(f"{stage} stack{where} ModelPackageArn: {parameters.get('ModelPackageArn') or '(empty)'}")
        if "ModelDataUrl" in parameters:
            emit(f"{stage} stack{where} ModelDataUrl: {parameters['ModelDataUrl'] or '(empty)'}")
    for url in release.replicated_objects:
        emit(f"Copied to the production region: {url}")
    for role in dict.fromkeys(release.assumed_roles):
        emit(f"Assumed role: {role}")
    return _report_end(emit, release, started)


def _dry_run_batch(model: str, scenario: str, models_dir: str, emit: Callable[[str], None], started: float) -> int:
    """Runs a batch model's transform workflow (after its training workflow when the pipeline starts it)."""
    emit(f"Dry run of {model}'s batch transform, scenario {scenario!r}: {BATCH_SCENARIOS[scenario]}")
    run = run_batch_scenario(model, scenario, models_dir=models_dir, on_event=_stage_events(emit))
    _report_stages(emit, BATCH_STAGES if "training" in run.executions else BATCH_STAGES[1:], run.executions)
    for arn, package in run.model_packages.items():
        tags = ", ".join(f"{key}={value}" for key, value in run.model_package_tags.get(arn, {}).items())
        emit(f"Model package: {arn} ({package.get('ModelApprovalStatus')}){f' tags {tags}' if tags else ''}")
    for request in run.created_models:
        packages = ", ".join(container.get("ModelPackageName", "?") for container in request.get("containers") or [])
        emit(f"Model created: {request['model_name']} from {packages}")
    for name, job in run.transform_jobs.items():
        source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        emit(f"Transform job: {name} {job['TransformJobStatus']}: {source} -> {job['TransformOutput']['S3OutputPath']}")
    emit(f"Models left: {', '.join(run.models_left) or 'none'}")
    return _report_end(emit, run, started)


def _stage_events(emit: Callable[[str], None]) -> Callable[[str, dict[str, Any]], None]:
    """Prints each history event, under a ``[stage]`` line whenever the workflow changes."""
    current: list[str] = []

    def on_event(stage: str, event: dict[str, Any]) -> None:
        if not current or current[-1] != stage:
            current.append(stage)
            emit(f"[{stage}]")
        emit("  " + summarize_event(event))

    return on_event


def _report_stages(emit: Callable[[str], None], stages: Sequence[str], executions: Mapping[str, Any]) -> None:
    emit("")
    for stage in stages:
        run = executions.get(stage)
        status = run.status if run else "not run"
        detail = f" ({run.error}: {run.cause})" if run and not run.succeeded else ""
        emit(f"{stage:<18} {status}{detail}")


def _report_end(emit: Callable[[str], None], result: BatchResult | ReleaseResult, started: float) -> int:
    """Notifications, transitions and times of a multi-workflow run; its exit code."""
    emit(f"Notifications sent: {len(result.notifications)}")
    for notification in result.notifications:
        emit(f"  [{notification.subject}] {notification.message}")
    emit(f"State transitions: {result.transitions}")
    emit(f"Wall time: {time.perf_counter() - started:.2f} s (executions {result.wall_seconds:.2f} s)")
    return 0 if result.succeeded else 1
