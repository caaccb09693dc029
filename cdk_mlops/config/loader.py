"""Reads ``models/*/model.yaml`` files and turns every problem into one readable ``ModelConfigError``."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

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


def did_you_mean(value: Any, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when ``value`` is close to one of ``choices`` (difflib), else ``""``."""
    if not isinstance(value, str):
        return ""
    matches = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``X``, ``X | None``, ``tuple[X, ...]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            found = _section_model(argument)
            if found is not None:
                return found
    return None


def _known_fields(location: Sequence[Any]) -> list[str]:
    """The field names of the section holding ``location`` (its last part is the unknown key)."""
    model: type[BaseModel] | None = ModelConfig
    for part in location[:-1]:
        if model is None:
            return []
        if isinstance(part, int):
            continue  # an item of a list section: same model
        field = model.model_fields.get(str(part))
        model = _section_model(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _enum_choices(item: Any) -> list[str]:
    """The values an ``enum`` or ``literal_error`` accepts, from pydantic's ``'a', 'b' or 'c'``."""
    expected = str((item.get("ctx") or {}).get("expected", ""))
    return re.findall(r"'([^']*)'", expected)


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
            hint = did_you_mean(location[-1], _known_fields(item["loc"]))
            problems.append(f"{field}: is not a known field{hint} (got {_describe(value)})")
        elif item["type"] in ("enum", "literal_error"):
            problems.append(f"{field}: {message}{did_you_mean(value, _enum_choices(item))} (got {_describe(value)})")
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


def _duplicate_keys(node: yaml.Node | None, location: tuple[str, ...] = ()) -> list[str]:
    """A problem per mapping key given twice under the same parent (YAML would keep only the last,
    silently dropping the first), naming the key's path and both lines."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            field = ".".join((*location, key))
            line = key_node.start_mark.line + 1
            if key in lines and key_node.tag != "tag:yaml.org,2002:merge":
                problems.append(
                    f"{field}: is given twice (lines {lines[key]} and {line}); YAML would silently keep only "
                    f"the second, so merge the two into one (got {key!r} twice)"
                )
            lines.setdefault(key, line)
            problems += _duplicate_keys(value_node, (*location, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*location, str(index)))
    return problems


def read_model_data(path: Path | str) -> Any:
    """The parsed YAML of one ``model.yaml``; ``ModelConfigError`` when it cannot be read, is not YAML
    or gives a key twice in one mapping (the error names the key and both lines)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        duplicates = _duplicate_keys(yaml.compose(text, Loader=_SafeLoader))
        if duplicates:
            raise ModelConfigError(path, duplicates)
        return yaml.load(text, Loader=_SafeLoader)  # a safe loader
    except OSError as error:
        raise ModelConfigError(path, [f"<file>: cannot be read ({error.strerror})"]) from None
    except yaml.YAMLError as error:
        raise ModelConfigError(path, [f"<file>: is not valid YAML ({_detailed_yaml_error(path, error)})"]) from None


def load_model_config(path: Path | str) -> ModelConfig:
    """Reads and validates one ``model.yaml`` (duplicate keys refused, see ``read_model_data``)."""
    return parse_model_config(read_model_data(path), path)


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
