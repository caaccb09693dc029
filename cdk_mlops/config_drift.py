"""What a pipeline was deployed with, and how a pushed ``model.yaml`` differs from it.

A pipeline's workflows and stacks are built from ``model.yaml`` at the last ``cdk deploy``; a push that
changes the file changes nothing until the next deploy. So that such a change is never silent, each
pipeline records a ``DeployedConfig`` at synthesis (the validated configuration dumped canonically, the
digest of its ``pipeline_class`` source file, the library version), and the first command of its build
compares the pushed file with it (``python -m cdk_mlops.drift_check_config``).

Pure Python (pydantic and PyYAML through :mod:`cdk_mlops.config`): the build installs no CDK.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cdk_mlops.config.model_config import ModelConfig

#: The build's environment variables that carry the recorded configuration.
CONFIG_VARIABLE = "CDK_MLOPS_DEPLOYED_CONFIG"
PIPELINE_CLASS_VARIABLE = "CDK_MLOPS_PIPELINE_CLASS_SHA256"
VERSION_VARIABLE = "CDK_MLOPS_VERSION"
TOPIC_VARIABLE = "CDK_MLOPS_TOPIC_ARN"
#: The pipeline's region and account, which some checks of a model file depend on.
REGION_VARIABLE = "CDK_MLOPS_REGION"
ACCOUNT_VARIABLE = "CDK_MLOPS_ACCOUNT"

_MISSING = object()


def library_version() -> str:
    """The installed cdk-mlops version (``0+unknown`` when it is not installed as a distribution)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cdk-mlops")
    except PackageNotFoundError:
        return "0+unknown"


def canonical_config(config: ModelConfig) -> dict[str, Any]:
    """``config`` as plain JSON data with every default filled in, so that two files that mean the
    same pipeline (comments, key order, a default written out) have the same canonical form."""
    data: dict[str, Any] = json.loads(config.model_dump_json())
    return data


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def deploy_command(model_name: str) -> str:
    """The command that applies a changed ``model.yaml``: deploy every stack of the model."""
    return f'npx cdk deploy "Mlops-{model_name}-*"'


@dataclasses.dataclass(frozen=True)
class DeployedConfig:
    """What a pipeline was synthesized from: the canonical ``config`` (``canonical_config``), the SHA-256
    of its ``pipeline_class`` file (None without one) and the cdk-mlops ``version``."""

    config: dict[str, Any]
    pipeline_class_sha256: str | None
    version: str

    @classmethod
    def of(cls, config: ModelConfig, pipeline_class_file: Path | None = None) -> DeployedConfig:
        """The record of ``config`` and, when it names a ``pipeline_class``, of that class's file."""
        digest = file_sha256(pipeline_class_file) if pipeline_class_file is not None else None
        return cls(canonical_config(config), digest, library_version())

    @property
    def digest(self) -> str:
        """SHA-256 over the canonical configuration and the pipeline class digest."""
        payload = json.dumps([self.config, self.pipeline_class_sha256], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

    def environment(self) -> dict[str, str]:
        """The build environment variables that carry this record (``CONFIG_VARIABLE``...)."""
        return {
            CONFIG_VARIABLE: json.dumps(self.config, sort_keys=True, separators=(",", ":")),
            PIPELINE_CLASS_VARIABLE: self.pipeline_class_sha256 or "",
            VERSION_VARIABLE: self.version,
        }

    @classmethod
    def from_environment(cls, environment: dict[str, str]) -> DeployedConfig:
        """The record ``environment()`` wrote; a ``KeyError`` names a missing variable."""
        return cls(
            json.loads(environment[CONFIG_VARIABLE]),
            environment.get(PIPELINE_CLASS_VARIABLE) or None,
            environment.get(VERSION_VARIABLE, "0+unknown"),
        )


@dataclasses.dataclass(frozen=True)
class Change:
    """One field that differs: its dotted ``field`` path, the ``deployed`` and the ``pushed`` value."""

    field: str
    deployed: Any
    pushed: Any

    def __str__(self) -> str:
        return f"{self.field}: {_show(self.deployed)} → {_show(self.pushed)}"


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(not set)"
    return json.dumps(value, sort_keys=True)


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, value


def config_changes(deployed: dict[str, Any], pushed: dict[str, Any]) -> list[Change]:
    """Every leaf field whose value differs between two canonical configurations, in field order."""
    old, new = dict(_flatten(deployed)), dict(_flatten(pushed))
    changes = []
    for field in sorted(old.keys() | new.keys()):
        before, after = old.get(field, _MISSING), new.get(field, _MISSING)
        if before != after or type(before) is not type(after):
            changes.append(Change(field, before, after))
    return changes


def drift_changes(deployed: DeployedConfig, pushed: ModelConfig, pushed_pipeline_class: Path | None) -> list[Change]:
    """The differences between the deployed record and the pushed configuration, and of the pushed
    pipeline class file when the record tracks one (a pipeline built from its ``pipeline_class``)."""
    changes = config_changes(deployed.config, canonical_config(pushed))
    if deployed.pipeline_class_sha256 is None:  # not tracked; adding pipeline_class is a field change
        return changes
    pushed_digest = file_sha256(pushed_pipeline_class) if pushed_pipeline_class is not None else None
    if pushed_digest != deployed.pipeline_class_sha256:
        changes.append(
            Change(
                f"pipeline_class source ({pushed.pipeline_class or 'none'}), sha256",
                deployed.pipeline_class_sha256,
                pushed_digest or _MISSING,
            )
        )
    return changes


def drift_message(model_name: str, model_file: str, changes: list[Change], deployed: DeployedConfig) -> str:
    """The build's failure message: each changed field (deployed → pushed) and the deploy command."""
    lines = [
        f"error: {model_file} differs from the configuration pipeline Mlops-{model_name}-Pipeline was deployed "
        f"with (cdk-mlops {deployed.version}); this run stops so that it does not train, gate and deploy with "
        "the old settings:",
        *(f"  - {change}" for change in changes),
        f"Apply it from the platform app at this commit: {deploy_command(model_name)}",
        "then release again (push, or Release change on the pipeline).",
    ]
    return "\n".join(lines)
