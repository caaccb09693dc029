"""``cdk-mlops dry-run <model> --scenario S``: a model's synthesized workflows on the local engine,
with scripted SageMaker outcomes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    parser = commands.add_parser("dry-run", help="run a model's synthesized workflows locally (moto) under a scenario")
    parser.add_argument("model", help="model name, e.g. churn-xgb")
    parser.add_argument(
        "--scenario",
        default="approve",
        help="training: approve, reject, training-fails, throttled, preprocessing-fails, missing-evaluation, "
        "metric-missing; champion gate: champion-wins, champion-loses, no-champion; "
        "whole release: release, smoke-fails, rollback, production-rollback; "
        "shadow test: shadow-passes, shadow-fails, shadow-promotion-rollback, shadow-already-promoted; "
        "batch models: batch, batch-fails, batch-scheduled, batch-no-approved",
    )
    parser.add_argument("--models-dir", default="models", type=Path)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.commands.preflight import reject_unknown_model

    rejected = reject_unknown_model(args.models_dir, args.model)  # before anything slow is imported
    if rejected is not None:
        return rejected
    from cdk_mlops.local.dry_run import dry_run

    return dry_run(args.model, args.scenario, args.models_dir)
