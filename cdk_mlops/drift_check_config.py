"""``python -m cdk_mlops.drift_check_config <pushed model.yaml>``: the first command of a model's build.

Compares the pushed ``model.yaml`` (and its ``pipeline_class`` file) with the configuration the pipeline
was synthesized from, which the build receives in its environment (``CDK_MLOPS_DEPLOYED_CONFIG``,
``CDK_MLOPS_PIPELINE_CLASS_SHA256``, see :mod:`cdk_mlops.config_drift`). Exit status: 0 when they are
the same; 1 when they differ, with each changed field (deployed → pushed) and the command that applies
the change; 2 when the pushed file is invalid (the error ``cdk synth`` prints) or the record is missing.
Everything goes to standard output, which the build also publishes to the model's topic.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cdk_mlops.config.loader import ModelConfigError, load_model_config
from cdk_mlops.config.model_config import ModelConfig
from cdk_mlops.config_drift import CONFIG_VARIABLE, DeployedConfig, drift_changes, drift_message


def pipeline_class_file(model_file: Path, config: ModelConfig) -> Path | None:
    """The file ``pipeline_class`` names, relative to the model's folder (None without one); refused
    with the message ``cdk synth`` gives for a malformed reference or a missing file."""
    reference = config.pipeline_class
    if reference is None:
        return None
    file_name, _, class_name = reference.partition(":")
    path = model_file.parent / file_name
    if not class_name or not file_name.endswith(".py"):
        raise ModelConfigError(model_file, [f"pipeline_class: must be '<file>.py:<ClassName>' (got {reference!r})"])
    if not path.is_file():
        raise ModelConfigError(model_file, [f"pipeline_class: no file {path} (got {reference!r})"])
    return path


def check_config(model_file: Path, environment: Mapping[str, str]) -> tuple[int, str]:
    """The exit status and message of a check of ``model_file`` against the record in ``environment``."""
    if CONFIG_VARIABLE not in environment:
        return 2, f"error: {CONFIG_VARIABLE} is not set: this build has no record of the deployed configuration"
    deployed = DeployedConfig.from_environment(dict(environment))
    name = str(deployed.config.get("name", "?"))
    if not model_file.is_file():
        return 2, (
            f"error: the pushed commit has no {model_file}: the build compares it with the configuration "
            f"Mlops-{name}-Pipeline was deployed with (the model's folder is source.path)"
        )
    try:
        pushed = load_model_config(model_file)
        changes = drift_changes(deployed, pushed, pipeline_class_file(model_file, pushed))
    except ModelConfigError as error:
        return 2, f"error: {error}"
    if not changes:
        return 0, f"{model_file}: the configuration Mlops-{name}-Pipeline was deployed with (no change)"
    return 1, drift_message(name, str(model_file), changes, deployed)


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
