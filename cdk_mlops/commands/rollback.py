"""``cdk-mlops rollback <model> --to <version|package ARN>``: runs the production deploy workflow with an
earlier Approved package, so the endpoint's guardrails and rollback alarms apply as in a release."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cdk_mlops.commands.status import add_aws_arguments


def register(commands: Any) -> None:
    """Adds ``cdk-mlops rollback`` to ``commands``."""
    parser = commands.add_parser("rollback", help="deploy an earlier approved version to production")
    parser.add_argument("model", help="model name, e.g. churn-xgb")
    parser.add_argument("--to", required=True, help="the version number (e.g. 3) or model package ARN to deploy")
    add_aws_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.operations import Clients, OperatorError, rollback

    try:
        execution = rollback(Clients(args.region, args.profile), args.model, args.to)
    except OperatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"started the production deploy workflow: {execution}")
    print(f"follow it with: cdk-mlops status {args.model}")
    return 0
