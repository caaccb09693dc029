"""``cdk-mlops summary [cdk.out]``: the stacks of a synthesized cloud assembly."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    parser = commands.add_parser("summary", help="describe the stacks of a synthesized cloud assembly")
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.cli import summary

    print(summary(args.assembly))
    return 0
