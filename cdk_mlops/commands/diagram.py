"""``cdk-mlops diagram <model> [--format mermaid|dot|svg]``: the model's pipeline stages and every state
machine of its pipeline stack (states, Choice branches, dashed Catch edges), drawn from the synthesized
template. Mermaid text by default; DOT for Graphviz; SVG through Graphviz compiled to WebAssembly."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

FORMATS = ("mermaid", "dot", "svg")


def register(commands: Any) -> None:
    """Adds ``diagram`` to the ``cdk-mlops`` subcommands."""
    parser = commands.add_parser("diagram", help="draw a model's pipeline and workflows from its synthesized template")
    parser.add_argument("model", help="model name, e.g. churn-xgb")
    parser.add_argument("--models-dir", default="models", type=Path, help="the models folder (default: models)")
    parser.add_argument("--format", default="mermaid", choices=FORMATS, help="default: mermaid")
    parser.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from cdk_mlops.commands.preflight import USAGE_ERROR, reject_unknown_model

    rejected = reject_unknown_model(args.models_dir, args.model)
    if rejected is not None:
        return rejected
    from cdk_mlops.config import ModelConfigError
    from cdk_mlops.diagram_svg import SvgUnavailableError, svg_renderer

    try:
        if args.format == "svg":
            svg_renderer()  # before synthesis: say at once what is missing
        text = render(args.model, args.models_dir, args.format)
    except ModelConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except SvgUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def render(model: str, models_dir: Path, output_format: str = "mermaid") -> str:
    """``model``'s diagram in ``output_format`` (one of :data:`FORMATS`), from the app of ``models_dir``
    synthesized in-process (as ``dry-run`` does)."""
    from cdk_mlops.diagram import pipeline_graph, to_dot, to_mermaid
    from cdk_mlops.local.harness import TokenResolver, synthesize_templates

    templates = synthesize_templates(Path(models_dir))
    stack = f"Mlops-{model}-Pipeline"
    graph = pipeline_graph(model, templates[stack], TokenResolver(templates).state_machine_definitions(stack))
    if output_format == "mermaid":
        return to_mermaid(graph)
    dot = to_dot(graph)
    if output_format == "dot":
        return dot
    from cdk_mlops.diagram_svg import render_svg

    return render_svg(dot)
