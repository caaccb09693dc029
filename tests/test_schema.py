"""``cdk-mlops schema``: the JSON Schema of model.yaml, committed as ``model.schema.json`` at the
repository root, with a description on every property and the default of every optional one, and the
first line of every model.yaml pointing editors at it (the yaml-language-server modeline, see
https://github.com/redhat-developer/yaml-language-server#using-inlined-schema)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cdk_mlops.cli import main
from cdk_mlops.config.schema import SCHEMA_FILE_NAME, model_schema, schema_text
from cdk_mlops_testing import REPO_ROOT

SCHEMA_FILE = REPO_ROOT / SCHEMA_FILE_NAME
MODEL_FILES = sorted([*REPO_ROOT.glob("models/*/model.yaml"), *REPO_ROOT.glob("examples/*/model.yaml")])


def properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(section, property, its schema)`` of every property of every section."""
    sections = {"ModelConfig": schema, **schema["$defs"]}
    return [
        (section, name, body)
        for section, definition in sections.items()
        for name, body in definition.get("properties", {}).items()
    ]


def test_committed_schema_is_what_cdk_mlops_schema_generates_today() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "model.schema.json is out of date: a field of cdk_mlops/config/model_config.py changed; "
        "regenerate it with: cdk-mlops schema -o model.schema.json"
    )


def test_every_property_has_a_description_of_one_paragraph() -> None:
    found = properties(model_schema())

    assert len(found) > 100
    undocumented = [f"{section}.{name}" for section, name, body in found if not body.get("description")]
    assert undocumented == []
    assert all("\n" not in body["description"] for _, _, body in found)


def test_every_optional_property_shows_its_default_including_whole_sections() -> None:
    schema = model_schema()
    required = {
        (section, name)
        for section, definition in {"ModelConfig": schema, **schema["$defs"]}.items()
        for name in definition.get("required", [])
    }

    missing = [f"{s}.{n}" for s, n, body in properties(schema) if (s, n) not in required and "default" not in body]
    assert missing == []
    assert schema["properties"]["training"]["default"]["instance_type"] == "ml.m5.xlarge"
    assert schema["$defs"]["EndpointsConfig"]["properties"]["staging"]["default"]["serverless"] is True


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_model_file_points_editors_at_the_committed_schema(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]

    prefix = "# yaml-language-server: $schema="
    assert first_line.startswith(prefix)
    assert (path.parent / first_line.removeprefix(prefix)).resolve() == SCHEMA_FILE.resolve()


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_model_file_is_valid_against_the_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))

    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))).validate(data)


def test_schema_refuses_an_unknown_key_and_an_unknown_enum_value() -> None:
    validator = jsonschema.Draft202012Validator(model_schema())
    data = yaml.safe_load((REPO_ROOT / "tests" / "fixtures" / "models" / "churn-xgb" / "model.yaml").read_text())
    data["training"]["instance_typ"] = "ml.m5.large"
    data["inference"] = "bach"

    messages = sorted(error.message for error in validator.iter_errors(data))

    assert any("'instance_typ' was unexpected" in message for message in messages)
    assert any("'bach' is not one of ['endpoint', 'batch']" in message for message in messages)


def test_cli_writes_the_schema_to_the_file_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schema.json"

    assert main(["schema", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == schema_text()
    assert capsys.readouterr().out == f"wrote {target}\n"


def test_cli_prints_the_schema_without_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()
