"""``python -m cdk_mlops.drift_check_config <pushed model.yaml>``: the first command of a model's build.

Compares the pushed ``model.yaml`` (and its ``pipeline_class`` file) with the configuration the pipeline
was synthesized from, which the build receives in its environment (``CDK_MLOPS_DEPLOYED_CONFIG``,
``CDK_MLOPS_PIPELINE_CLASS_SHA256``, see :mod:`cdk_mlops.config_drift`). Exit status: 0 when they are
the same; 1 when they differ, with each changed field (deployed → pushed) and the command that applies
the change; 2 when the pushed file is invalid (the error ``cdk synth`` prints: the same checks, from
:mod:`cdk_mlops.plan`, in the pipeline's region ``CDK_MLOPS_REGION`` and account
``CDK_MLOPS_ACCOUNT``) or the record is missing.
Everything goes to standard output, which the build also publishes to the model's topic.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cdk_mlops.config.loader import ModelConfigError
from cdk_mlops.config.model_config import ModelConfig
from cdk_mlops.config_drift import (
    ACCOUNT_VARIABLE,
    CONFIG_VARIABLE,
    REGION_VARIABLE,
    DeployedConfig,
    drift_changes,
    drift_message,
    library_version,
)


def pipeline_class_file(model_file: Path, config: ModelConfig) -> Path | None:
    """The file ``pipeline_class`` names, relative to the model's folder (None without one)."""
    if config.pipeline_class is None:
        return None
    return model_file.parent / config.pipeline_class.partition(":")[0]


def load_as_synthesis_does(model_file: Path, environment: Mapping[str, str]) -> ModelConfig:
    """The pushed configuration, checked as ``cdk synth`` checks it before building a stack
    (:func:`cdk_mlops.plan.plan_models` of its models folder, in the pipeline's region and account
    from ``environment``); raises the ``ModelConfigError`` synthesis raises, for this file. A
    ``model.yaml`` at the repository root (a model in its own repository) is checked against the schema
    only: the folder checks of the plan are about the platform app's ``models/<name>/``."""
    from cdk_mlops.config.loader import load_model_config
    from cdk_mlops.plan import plan_models

    if not model_file.parent.parts:
        # model.yaml at the root of the model's own repository: not a models/<name>/ folder the plan reads.
        return load_model_config(model_file)
    plan = plan_models(
        model_file.parent.parent,
        region=environment.get(REGION_VARIABLE) or None,
        account=environment.get(ACCOUNT_VARIABLE) or None,
    )
    errors = [problem.text for problem in plan.errors if problem.path == model_file]
    if errors:
        raise ModelConfigError(model_file, errors)
    return next(model.config for model in plan.models.values() if model.path == model_file)


def check_config(model_file: Path, environment: Mapping[str, str]) -> tuple[int, str]:
    """The exit status and message of a check of ``model_file`` against the record in ``environment``."""
    if CONFIG_VARIABLE not in environment:
        return 2, f"error: {CONFIG_VARIABLE} is not set: this build has no record of the deployed configuration"
    deployed = DeployedConfig.from_environment(dict(environment))
    name = str(deployed.config.get("name", "?"))
    if not model_file.is_file():
        if (deployed.config.get("source") or {}).get("path") is None:
            # The model's own repository: its model.yaml lives with the platform app, out of reach of a push.
            return 0, (
                f"{model_file}: not in the pushed commit, and {name} has no source.path: its configuration "
                "lives with the platform app, so a push here cannot change it (nothing to compare)"
            )
        return 2, (
            f"error: the pushed commit has no {model_file}: the build compares it with the configuration "
            f"Mlops-{name}-Pipeline was deployed with (the model's folder is source.path)"
        )
    try:
        pushed = load_as_synthesis_does(model_file, environment)
        changes = drift_changes(deployed, pushed, pipeline_class_file(model_file, pushed))
    except ModelConfigError as error:
        return 2, f"error: {error}"
    checked_with = library_version()
    note = (
        f"\nnote: checked with cdk-mlops {checked_with}; the pipeline was synthesized with {deployed.version}"
        if checked_with != deployed.version
        else ""
    )
    if not changes:
        return 0, f"{model_file}: the configuration Mlops-{name}-Pipeline was deployed with (no change){note}"
    return 1, drift_message(name, str(model_file), changes, deployed) + note


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the check on the command line's file with this process's environment; prints the result."""
    parser = argparse.ArgumentParser(prog="python -m cdk_mlops.drift_check_config", description=__doc__)
    parser.add_argument("model_file", type=Path, help="the pushed model.yaml, relative to the repository root")
    args = parser.parse_args(argv)
    status, message = check_config(args.model_file, os.environ)
    print(message)
    return status


if __name__ == "__main__":
    sys.exit(main())
