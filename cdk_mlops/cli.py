"""cdk-mlops: build, check and run the SageMaker MLOps pipelines of the models in a folder (models/ by
default). Each subcommand lives in its own module of cdk_mlops.commands; "cdk-mlops <command> --help"
describes it."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cdk_mlops.commands import COMMAND_MODULES
from cdk_mlops.commands.help_text import PlainHelpFormatter, describe_commands, plain_text, version


def _templates(assembly: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(assembly.glob("*.template.json"))
    }


def state_machine_definitions(template: dict[str, Any]) -> dict[str, str]:
    """Each state machine's definition with CloudFormation tokens shown as ``<ref>`` (for display)."""
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        definition = resource["Properties"]["DefinitionString"]
        if isinstance(definition, dict) and "Fn::Join" in definition:
            definition = "".join(part if isinstance(part, str) else "<ref>" for part in definition["Fn::Join"][1])
        found[logical_id] = definition
    return found


def _environments(assembly: Path) -> dict[str, tuple[str | None, str | None]]:
    """``(account, region)`` of each stack, from ``aws://<account>/<region>`` in the manifest; either is
    None when the stack is environment-agnostic in it."""
    manifest = assembly / "manifest.json"
    artifacts = json.loads(manifest.read_text()).get("artifacts", {}) if manifest.is_file() else {}
    environments: dict[str, tuple[str | None, str | None]] = {}
    for name, artifact in artifacts.items():
        if "environment" not in artifact:
            continue
        account, _, region = str(artifact["environment"]).removeprefix("aws://").partition("/")
        environments[name] = (account if account.isdigit() else None, region if region != "unknown-region" else None)
    return environments


def _placement(environment: tuple[str | None, str | None], home_region: str | None) -> str:
    """`` in account A, region R``: the parts that are fixed (and, for the region, not the usual one)."""
    account, region = environment
    parts = [f"account {account}"] if account else []
    parts += [f"region {region}"] if region and region != home_region else []
    return f" in {', '.join(parts)}" if parts else ""


def summary(assembly: Path) -> str:
    """A table of the stacks in ``assembly``: resources, template size, pipelines and workflow states."""
    templates = _templates(assembly)
    environments = _environments(assembly)
    # The pipelines' region is the usual one: an endpoint elsewhere says where.
    regions = Counter(
        environments.get(name, (None, None))[1]
        for name, template in templates.items()
        if any(r["Type"] == "AWS::CodePipeline::Pipeline" for r in template.get("Resources", {}).values())
    )
    home_region = regions.most_common(1)[0][0] if regions else None
    if not templates:
        raise SystemExit(f"error: no templates in {assembly} (run 'cdk synth' first)")
    lines = [f"{'stack':<34} {'resources':>9} {'KiB':>6}  contents"]
    for name, template in templates.items():
        resources = template.get("Resources", {})
        kinds = Counter(resource["Type"] for resource in resources.values())
        size = (assembly / f"{name}.template.json").stat().st_size / 1024
        contents = []
        for machine_id, definition in state_machine_definitions(template).items():
            states = json.loads(definition)["States"]
            contents.append(f"{machine_id.split('Resource')[0] or machine_id}: {len(states)} states")
        if kinds.get("AWS::CodePipeline::Pipeline"):
            pipeline = next(r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline")
            stages = [stage["Name"] for stage in pipeline["Properties"]["Stages"]]
            contents.insert(0, "pipeline " + " > ".join(stages))
        if kinds.get("AWS::SageMaker::Endpoint"):
            where = _placement(environments.get(name, (None, None)), home_region)
            contents.append(f"SageMaker endpoint{where} (created once ModelPackageArn is set)")
        if kinds.get("AWS::KMS::Key"):
            contents.append(f"KMS key, {kinds['AWS::S3::Bucket']} buckets")
        lines.append(f"{name:<34} {len(resources):>9} {size:>6.1f}  {contents[0] if contents else ''}")
        lines.extend(f"{'':<52}{item}" for item in contents[1:])
    lines.append(f"\n{len(templates)} stacks in {assembly}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cdk-mlops", description=plain_text(__doc__), formatter_class=PlainHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"cdk_mlops.commands.{module_name}")
        before = set(commands.choices)
        module.register(commands)
        describe_commands([commands.choices[name] for name in commands.choices if name not in before], module.__doc__)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
