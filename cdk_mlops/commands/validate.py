"""``cdk-mlops validate [--models-dir DIR]``: every model file checked at once, without the CDK runtime.

Prints a line per model file (``ok`` or ``FAIL``, then its errors and warnings), a table of the models
at the end, and exits 1 when any file has an error (0 otherwise, warnings included). It reads the same
plan ``build_app`` consumes (``cdk_mlops.plan``), so what it accepts synthesizes; it never starts
jsii and never prints a traceback: anything unexpected is reported as one line and exit code 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cdk_mlops.plan import Plan


def register(commands: Any) -> None:
    """Adds ``validate`` to the ``cdk-mlops`` subcommands."""
    parser = commands.add_parser(
        "validate",
        help="check every model.yaml (all errors at once, warnings too; no CDK runtime)",
        description="Check every <models-dir>/*/model.yaml: fields, the files each names, instance types, "
        "images, regions and placement. Exit 1 on any error.",
    )
    parser.add_argument("--models-dir", default="models", type=Path, help="folder of model folders (default: models)")
    parser.add_argument("--region", help="the pipeline's region (default: CDK_DEFAULT_REGION, else eu-west-1)")
    parser.add_argument("--account", help="the pipeline's account (default: CDK_DEFAULT_ACCOUNT, else none)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        return validate(args.models_dir, region=args.region, account=args.account)
    except Exception as error:  # the CLI boundary: a reason, never a traceback
        print(f"error: validate stopped: {type(error).__name__}: {error}")
        return 1


def validate(models_dir: Path, *, region: str | None = None, account: str | None = None) -> int:
    """Prints the report of ``plan_models(models_dir)`` and returns the exit code (1 on any error)."""
    from cdk_mlops.plan import plan_models

    if not models_dir.is_dir():
        print(f"error: --models-dir: no folder {models_dir} (got {str(models_dir)!r})")
        return 1
    plan = plan_models(models_dir, region=region, account=account)
    print(report(plan))
    return 1 if plan.errors else 0


def report(plan: Plan) -> str:
    """The text ``validate`` prints: a line per model file with its problems, then a table."""
    lines = []
    general = [problem for problem in plan.errors if problem.path == plan.models_dir]
    lines += [f"FAIL  {plan.models_dir}: {problem.text}" for problem in general]
    if not plan.files:
        lines.append(f"FAIL  {plan.models_dir}: no */model.yaml files")
    by_path = {model.path: model for model in plan.models.values()}
    for path in plan.files:
        errors, warnings = plan.errors_of(path), plan.warnings_of(path)
        model = by_path.get(path)
        name = model.name if model is not None else path.parent.name
        counts = ", ".join(
            part
            for part in (_count(len(errors), "error"), _count(len(warnings), "warning"))
            if not part.startswith("0 ")
        )
        lines.append(f"{'FAIL' if errors else 'ok':<5} {name:<20} {path}" + (f"  ({counts})" if counts else ""))
        lines += [f"      error:   {problem.text}" for problem in errors]
        lines += [f"      warning: {problem.text}" for problem in warnings]
    lines += ["", *_table(plan)]
    failed = len({problem.path for problem in plan.errors})
    verdict = f"{failed} of {len(plan.files)} model files have errors" if plan.errors else "all valid"
    lines.append(
        f"\n{_count(len(plan.files), 'model file')}, {_count(len(plan.errors), 'error')}, "
        f"{_count(len(plan.warnings), 'warning')}: {verdict} (region {plan.region})"
    )
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _table(plan: Plan) -> list[str]:
    rows = [("model", "inference", "stacks", "production", "errors", "warnings")]
    by_path = {model.path: model for model in plan.models.values()}
    for path in plan.files:
        model = by_path.get(path)
        errors, warnings = str(len(plan.errors_of(path))), str(len(plan.warnings_of(path)))
        if model is None:
            rows.append((path.parent.name, "?", "-", "-", errors, warnings))
            continue
        config = model.config
        batch = config.inference == "batch"
        stacks = "1" if batch else "3"
        where = "-" if batch else _production(model.placement, config.endpoints.production.serverless)
        rows.append((model.name, config.inference, stacks, where, errors, warnings))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _production(placement: Any, serverless: bool) -> str:
    kind = "serverless" if serverless else "instances"
    if placement is None:
        return f"{kind} (not placed)"
    where = [f"account {placement.account}"] if placement.account else []
    where += [placement.region] if placement.other_region else []
    return f"{kind}" + (f" in {', '.join(where)}" if where else "")
