"""``cdk-mlops new <name> --template T``: a new model folder (model.yaml with comments, src/, tests/,
requirements.txt and sample_data/) that passes validate, cdk synth, its own tests, dry-run and run as
it is. An existing or invalid name is refused."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cdk_mlops.commands.preflight import USAGE_ERROR


def register(commands: Any) -> None:
    """Adds ``new`` to the ``cdk-mlops`` subcommands."""
    from cdk_mlops.scaffold import TEMPLATES

    parser = commands.add_parser("new", help="scaffold a new model folder from a template")
    parser.add_argument("name", help="the model's name: 1 to 20 lowercase letters, digits or hyphens")
    parser.add_argument(
        "--template",
        required=True,
        choices=list(TEMPLATES),
        help="; ".join(f"{name}: {what}" for name, what in TEMPLATES.items()),
    )
    parser.add_argument("--models-dir", default="models", type=Path, help="the models folder (default: models)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.scaffold import ScaffoldError, describe, scaffold

    try:
        result = scaffold(args.name, args.template, args.models_dir)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    print(describe(result, args.template))
    return 0
