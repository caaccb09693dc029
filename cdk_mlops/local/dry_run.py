"""``cdk-mlops dry-run``: run a model's synthesized training workflow locally under a scenario."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from cdk_mlops.local.engine import summarize_event
from cdk_mlops.local.harness import SCENARIOS, ScenarioError, run_training_scenario, synthesize_workflows

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
        if scenario not in SCENARIOS:
            raise ScenarioError(f"unknown scenario {scenario!r} (known scenarios: {', '.join(SCENARIOS)})")
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
