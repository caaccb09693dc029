"""``cdk-mlops status <model>``: the latest release and its stages, the training workflow's last run and
its failure cause, the registered versions with status and metrics, and what each endpoint serves."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """``--region`` and ``--profile`` (default: boto3's, from the environment and ~/.aws)."""
    parser.add_argument("--region", help="the pipeline's region (default: AWS_REGION or the profile's)")
    parser.add_argument("--profile", help="the AWS profile to use (default: AWS_PROFILE or the default one)")


def register(commands: Any) -> None:
    """Adds ``cdk-mlops status`` to ``commands``."""
    parser = commands.add_parser("status", help="show a deployed model's releases, training runs, versions, endpoints")
    parser.add_argument("model", help="model name, e.g. churn-xgb")
    add_aws_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.operations import Clients, OperatorError, format_status, model_status

    try:
        print(format_status(model_status(Clients(args.region, args.profile), args.model)))
    except OperatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
