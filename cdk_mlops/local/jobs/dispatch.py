"""Which module runs a job: training (script mode or the XGBoost stand-in), processing or transform."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdk_mlops.local.scenario import JobKind, JobOutcome

if TYPE_CHECKING:
    from cdk_mlops.local.jobs.runner import LocalJobRunner

__all__ = ["JobResult", "run_job"]


@dataclasses.dataclass(frozen=True)
class JobResult:
    """How a job ended and where its output went."""

    outcome: JobOutcome
    log_path: Path | None


def run_job(runner: LocalJobRunner, kind: JobKind, name: str, request: Mapping[str, Any]) -> JobResult:
    """Runs job ``name`` of ``kind`` from its request; any error of ours becomes a ``Failed`` job."""
    try:
        if kind is JobKind.TRAINING:
            from cdk_mlops.local.jobs.training import run as run_training

            return run_training(runner, name, request)
        if kind is JobKind.PROCESSING:
            from cdk_mlops.local.jobs.processing import run as run_processing

            return run_processing(runner, name, request)
        from cdk_mlops.local.jobs.transform import run as run_transform

        return run_transform(runner, name, request)
    except Exception as error:  # reported as the job's failure, as SageMaker would
        return JobResult(JobOutcome.failed(f"ClientError: {error}"), None)
