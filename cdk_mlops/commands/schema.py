"""``cdk-mlops schema [-o FILE]``: the JSON Schema of model.yaml, for editors (``model.schema.json``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Adds ``schema`` to the ``cdk-mlops`` subcommands."""
    parser = commands.add_parser(
        "schema",
        help="write the JSON Schema of model.yaml (descriptions and defaults on every field)",
        description="Print the JSON Schema of model.yaml, or write it to FILE. Editors use it through a first "
        "line '# yaml-language-server: $schema=<path to model.schema.json>'.",
    )
    parser.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.config.schema import schema_text

    try:
        text = schema_text()
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
            print(f"wrote {args.output}")
    except Exception as error:  # the CLI boundary: a reason, never a traceback
        print(f"error: schema: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0
