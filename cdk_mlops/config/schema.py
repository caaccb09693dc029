"""The JSON Schema of ``model.yaml`` (``cdk-mlops schema``, committed as ``model.schema.json``).

Generated from the pydantic models of :mod:`cdk_mlops.config.model_config`: every property carries
the description written beside its field (``use_attribute_docstrings``) and, when it has one, its
default, including the defaults pydantic leaves out because a factory builds them (whole sections such
as ``training``). Editors that read ``# yaml-language-server: $schema=...`` complete and check with it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from cdk_mlops.config.model_config import ModelConfig

#: Where editors find the schema: ``$id`` of the file and its name at the repository root.
SCHEMA_FILE_NAME = "model.schema.json"


def _section_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Each field's default as JSON (factories called), for fields that have one."""
    defaults: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if field.is_required():
            continue
        value = field.get_default(call_default_factory=True)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        elif isinstance(value, tuple):
            value = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in value]
        elif hasattr(value, "value"):  # an enum member
            value = value.value
        defaults[name] = value
    return defaults


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    """``model`` and every section model under it, by class name (the schema's ``$defs`` keys)."""
    seen[model.__name__] = model
    for field in model.model_fields.values():
        for candidate in _nested(field.annotation):
            if candidate.__name__ not in seen:
                _models(candidate, seen)
    return seen


def _nested(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in getattr(annotation, "__args__", ()) or ():
        found += _nested(argument)
    return found


def model_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a model.yaml, with descriptions and defaults."""
    schema = ModelConfig.model_json_schema(mode="validation")
    models = _models(ModelConfig, {})
    sections = {"ModelConfig": schema, **schema.get("$defs", {})}
    for name, section in sections.items():
        model = models.get(name)
        if model is None or "properties" not in section:
            continue
        for field_name, default in _section_defaults(model).items():
            section["properties"][field_name].setdefault("default", default)
    _one_line_descriptions(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cdk-mlops model.yaml"
    return schema


def _one_line_descriptions(node: Any) -> None:
    """Docstrings wrap at the code's line length; editors show a description as one paragraph."""
    if isinstance(node, dict):
        if isinstance(node.get("description"), str):
            node["description"] = " ".join(node["description"].replace("``", "").split())
        for value in node.values():
            _one_line_descriptions(value)
    elif isinstance(node, list):
        for value in node:
            _one_line_descriptions(value)


def schema_text() -> str:
    """``model_schema()`` as the text of ``model.schema.json`` (indented, sorted keys, final newline)."""
    return json.dumps(model_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
