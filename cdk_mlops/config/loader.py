"""Reads ``models/*/model.yaml`` files and turns every problem into one readable ``ModelConfigError``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cdk_mlops.config.model_config import FieldError, ModelConfig

MODEL_FILE_NAME = "model.yaml"

# libyaml's loader when PyYAML was built with it (several times faster); same safe subset of YAML.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ModelConfigError(ValueError):
    """A model file that cannot become a pipeline. The message names the file, the field and the value."""

    def __init__(self, path: Path | str, problems: Sequence[str]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid model configuration {self.path}:\n{lines}")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _format_validation_error(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        value: Any = item.get("input")
        message = item["msg"].removeprefix("Value error, ")
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            location.append(cause.field)
            value = cause.value
            message = str(cause)
        field = ".".join(location) or "<file>"
        if item["type"] == "missing":
            problems.append(f"{field}: is required")
        elif item["type"] == "extra_forbidden":
            problems.append(f"{field}: is not a known field (got {_describe(value)})")
        else:
            problems.append(f"{field}: {message} (got {_describe(value)})")
    return problems


def parse_model_config(data: Any, path: Path | str) -> ModelConfig:
    """Validates an already-parsed mapping as if it came from ``path``."""
    if not isinstance(data, dict):
        raise ModelConfigError(path, [f"<file>: must be a YAML mapping (got {_describe(data)})"])
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as error:
        raise ModelConfigError(path, _format_validation_error(error)) from None


def _detailed_yaml_error(path: Path, error: yaml.YAMLError) -> yaml.YAMLError:
    """libyaml's error, or the pure-Python parser's, which also quotes the offending line."""
    if _SafeLoader is yaml.SafeLoader:
        return error
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as detailed:
        return detailed
    return error


def load_model_config(path: Path | str) -> ModelConfig:
    """Reads and validates one ``model.yaml``."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # a safe loader
    except OSError as error:
        raise ModelConfigError(path, [f"<file>: cannot be read ({error.strerror})"]) from None
    except yaml.YAMLError as error:
        raise ModelConfigError(path, [f"<file>: is not valid YAML ({_detailed_yaml_error(path, error)})"]) from None
    return parse_model_config(data, path)


def find_model_files(models_dir: Path | str) -> list[Path]:
    """Every ``<models_dir>/<name>/model.yaml``, sorted by folder name."""
    return sorted(Path(models_dir).glob(f"*/{MODEL_FILE_NAME}"))


def load_model_configs(paths: Iterable[Path]) -> dict[Path, ModelConfig]:
    """Loads several files and rejects two files that declare the same model name."""
    configs: dict[Path, ModelConfig] = {}
    owners: dict[str, Path] = {}
    for path in paths:
        config = load_model_config(path)
        if config.name in owners:
            raise ModelConfigError(
                path,
                [f"name: model {config.name!r} is already defined in {owners[config.name]} (got {config.name!r})"],
            )
        owners[config.name] = path
        configs[path] = config
    return configs
