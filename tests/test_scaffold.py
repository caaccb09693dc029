"""``cdk-mlops new``: each template gives a model folder that passes ``validate``, builds into an app with
cdk-nag on, passes its own tests (as the build stage runs them) and the project's lint, and whose
training workflow approves in a dry run; bad or taken names are refused before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.cli import main
from cdk_mlops.scaffold import TEMPLATES
from cdk_mlops_testing import REPO_ROOT

NAMES = {template: f"my-{template}" for template in TEMPLATES}


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A repository with a ``model.schema.json`` and one scaffolded model per template in ``models/``,
    made by the CLI from the repository root (where ``source.path`` is relative to)."""
    root = tmp_path_factory.mktemp("repository")
    (root / "model.schema.json").write_text("{}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for template, name in NAMES.items():
            assert main(["new", name, "--template", template]) == 0
        yield root


@pytest.fixture(scope="module")
def templates(repository: Path) -> dict[str, dict[str, Any]]:
    """The app of the scaffolded models, synthesized with cdk-nag on: each stack's template."""
    import aws_cdk as cdk

    from cdk_mlops.app_builder import build_app, enable_compliance_checks

    app = cdk.App(outdir=str(repository / "cdk.out"), builtin_cloud_formation_validation=False)
    enable_compliance_checks(app)
    build_app(app, repository / "models", region="eu-west-1")
    assembly = app.synth()  # a cdk-nag finding fails this
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in Path(assembly.directory).glob("*.template.json")
    }


def test_new_prints_the_folder_its_files_and_what_to_run_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["new", "churn", "--template", "xgboost"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("created models/churn (xgboost: ")
    assert "  model.yaml\n" in out and "  sample_data/train/train.csv\n" in out
    assert "  cdk-mlops dry-run churn\n" in out


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_each_template_writes_the_files_a_model_needs(repository: Path, template: str) -> None:
    folder = repository / "models" / NAMES[template]
    files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())

    assert {"model.yaml", "README.md", "requirements.txt", "sample_data/train/train.csv"} <= set(files)
    assert "sample_data/validation/validation.csv" in files
    assert any(path.startswith("src/") for path in files) and any(path.startswith("tests/test_") for path in files)
    assert ("sample_data/batch_input/records.csv" in files) == (template == "batch")


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_model_yaml_starts_with_the_schema_line_and_names_its_folder(repository: Path, template: str) -> None:
    text = (repository / "models" / NAMES[template] / "model.yaml").read_text(encoding="utf-8")

    assert text.splitlines()[0] == "# yaml-language-server: $schema=../../model.schema.json"
    assert f"\nname: {NAMES[template]}\n" in text
    assert f"\n  path: models/{NAMES[template]}\n" in text
    assert "{{" not in text


def test_every_scaffolded_model_passes_validate(repository: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "--models-dir", str(repository / "models")])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 model files, 0 errors, 0 warnings" in out


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_each_scaffolded_model_passes_its_own_tests(repository: Path, template: str) -> None:
    folder = repository / "models" / NAMES[template]

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary


def test_scaffolded_code_is_clean_under_the_projects_lint(repository: Path) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    config = str(REPO_ROOT / "pyproject.toml")

    check = subprocess.run(
        [str(ruff), "check", "--no-cache", "--config", config, "models"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
    )
    format_ = subprocess.run(
        [str(ruff), "format", "--check", "--no-cache", "--config", config, "models"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
    )

    assert check.returncode == 0, check.stdout
    assert format_.returncode == 0, format_.stdout


def test_the_app_builds_every_scaffolded_model_with_cdk_nag_on(templates: dict[str, dict[str, Any]]) -> None:
    endpoint_models = [name for template, name in NAMES.items() if template != "batch"]

    assert sorted(templates) == sorted(
        ["Mlops-Platform", f"Mlops-{NAMES['batch']}-Pipeline"]
        + [f"Mlops-{name}-{stack}" for name in endpoint_models for stack in ("Pipeline", "Staging", "Production")]
    )


def test_the_batch_template_ends_its_pipeline_with_a_batch_transform(templates: dict[str, dict[str, Any]]) -> None:
    (pipeline,) = [
        resource
        for resource in templates[f"Mlops-{NAMES['batch']}-Pipeline"]["Resources"].values()
        if resource["Type"] == "AWS::CodePipeline::Pipeline"
    ]

    assert [stage["Name"] for stage in pipeline["Properties"]["Stages"]][-2:] == ["ManualApproval", "BatchTransform"]


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_each_scaffolded_models_training_dry_run_registers_it(
    repository: Path, template: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["dry-run", NAMES[template], "--scenario", "approve", "--models-dir", str(repository / "models")])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "Final status: SUCCEEDED" in out
    assert f"model-package/{NAMES[template]}/1 (PendingManualApproval)" in out


def test_new_refuses_a_name_whose_folder_exists_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "churn").mkdir()

    code = main(["new", "churn", "--template", "sklearn", "--models-dir", str(tmp_path)])

    assert code == 2
    assert f"error: model 'churn' already exists: {tmp_path / 'churn'} is there" in capsys.readouterr().err
    assert list((tmp_path / "churn").iterdir()) == []


def test_new_refuses_a_name_another_model_yaml_declares(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "old-folder").mkdir()
    (tmp_path / "old-folder" / "model.yaml").write_text("name: churn\n", encoding="utf-8")

    code = main(["new", "churn", "--template", "sklearn", "--models-dir", str(tmp_path)])

    assert code == 2
    assert "a model.yaml in" in capsys.readouterr().err
    assert not (tmp_path / "churn").exists()


@pytest.mark.parametrize("name", ["Churn", "1churn", "churn_xgb", "a" * 21, "churn.v2"])
def test_new_refuses_a_name_model_yaml_would_refuse(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["new", name, "--template", "xgboost", "--models-dir", str(tmp_path)])

    assert code == 2
    assert f"error: invalid model name {name!r}: model names are 1 to 20 lowercase letters" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_new_says_how_to_get_the_schema_when_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["new", "churn", "--template", "batch"]) == 0

    assert (
        f"note: no model.schema.json found above models/churn: 'cdk-mlops schema -o {tmp_path / 'model.schema.json'}'"
        in (capsys.readouterr().out)
    )
