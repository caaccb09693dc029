"""``cdk-mlops dry-run``: run a model's synthesized training workflow locally under a scenario."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cdk_mlops.local.engine import summarize_event
from cdk_mlops.local.harness import SCENARIOS, ScenarioError, run_training_scenario, synthesize_workflows
from cdk_mlops.local.release import RELEASE_SCENARIOS, STAGES, run_release_scenario

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
        if scenario in RELEASE_SCENARIOS:
            emit(f"Synthesizing {models_dir} ...")
            synthesize_workflows(models_dir, model)
            return _dry_run_release(model, scenario, str(models_dir), emit, started)
        if scenario not in SCENARIOS:
            known = ", ".join([*SCENARIOS, *RELEASE_SCENARIOS])
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
    emit(f"Notifications sent: {len(run.notifications)}")
    for notification in run.notifications:
        emit(f"  [{notification.subject}] {notification.message}")
    emit(f"State transitions: {run.transitions}")
    emit(f"Wall time: {time.perf_counter() - started:.2f} s (execution {run.wall_seconds:.2f} s)")
    return 0 if result.succeeded else 1


def _dry_run_release(model: str, scenario: str, models_dir: str, emit: Callable[[str], None], started: float) -> int:
    """Runs the four workflows of a release in pipeline order and reports each."""
    emit(f"Dry run of a {model} release, scenario {scenario!r}: {RELEASE_SCENARIOS[scenario]}")
    current: list[str] = []

    def on_event(stage: str, event: dict[str, Any]) -> None:
        if not current or current[-1] != stage:
            current.append(stage)
            emit(f"[{stage}]")
        emit("  " + summarize_event(event))

    release = run_release_scenario(model, scenario, models_dir=models_dir, on_event=on_event)
    emit("")
    for stage in STAGES:
        run = release.executions.get(stage)
        status = run.status if run else "not run"
        detail = f" ({run.error}: {run.cause})" if run and not run.succeeded else ""
        emit(f"{stage:<18} {status}{detail}")
    for arn, package in release.model_packages.items():
        emit(f"Model package: {arn} ({package.get('ModelApprovalStatus')})")
    for stage, parameters in release.stack_parameters.items():
        emit(f"{stage} stack ModelPackageArn: {parameters.get('ModelPackageArn') or '(empty)'}")
    emit(f"Notifications sent: {len(release.notifications)}")
    for notification in release.notifications:
        emit(f"  [{notification.subject}] {notification.message}")
    emit(f"State transitions: {release.transitions}")
    emit(f"Wall time: {time.perf_counter() - started:.2f} s (executions {release.wall_seconds:.2f} s)")
    return 0 if release.succeeded else 1
