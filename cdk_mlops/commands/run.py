"""``cdk-mlops run <model>``: the model's synthesized workflows on the local engine, with every SageMaker
job run for real on this machine from the model's code and sample data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="run a model's code end to end locally: its workflows, with real training, processing, "
        "serving and batch jobs on its sample_data/",
    )
    parser.add_argument("model", help="model name, e.g. iris-sklearn")
    parser.add_argument("--models-dir", default="models", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep each job's folder and log (prints where)")
    parser.add_argument("--report", type=Path, metavar="FILE.json", help="also write the report as JSON")
    parser.add_argument(
        "--max-tuning-jobs",
        type=_positive,
        default=3,
        metavar="N",
        help="a tuning job runs at most N real training jobs, Random over its ranges (default 3)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.commands.preflight import reject_unknown_model

    rejected = reject_unknown_model(args.models_dir, args.model)  # before anything slow is imported
    if rejected is not None:
        return rejected
    from cdk_mlops.local.run import run_model

    return run_model(
        args.model,
        models_dir=args.models_dir,
        keep=args.keep,
        report=args.report,
        max_tuning_jobs=args.max_tuning_jobs,
    ).exit_code


def _positive(text: str) -> int:
    """``--max-tuning-jobs``: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer of at least 1 (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer of at least 1 (got {text!r})")
    return value
