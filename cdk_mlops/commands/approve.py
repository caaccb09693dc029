"""``cdk-mlops approve <model> [--reject --reason ...]``: decides the manual approval a release of the
model waits at (CodePipeline ``PutApprovalResult`` with the token from ``GetPipelineState``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cdk_mlops.commands.status import add_aws_arguments


def register(commands: Any) -> None:
    """Adds ``cdk-mlops approve`` to ``commands``."""
    parser = commands.add_parser("approve", help="approve (or --reject) the release waiting for approval")
    parser.add_argument("model", help="model name, e.g. churn-xgb")
    parser.add_argument("--reject", action="store_true", help="reject instead: the release stops there")
    parser.add_argument("--reason", help="the summary recorded with the decision (default: who decided)")
    add_aws_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.operations import Clients, OperatorError, decide

    try:
        print(decide(Clients(args.region, args.profile), args.model, reject=args.reject, reason=args.reason))
    except OperatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
