"""The app-level rules hold for any valid set of models, not just the examples: a copy of the repository's
``models/`` plus a model scaffolded by ``cdk-mlops new`` validates, synthesizes, and gets the stacks, tags, dependencies and
well-formed state machines every model gets. (Tests that pin particular models read the frozen copies in
``tests/fixtures/models/``; this one is the check that adding a model to ``models/`` breaks nothing.)"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cdk_mlops.cli import main
from cdk_mlops.plan import plan_models, stack_names
from cdk_mlops_testing import REPO_ROOT

#: The model added to the copy, as a new user starts one.
ADDED = "added-sklearn"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_state_machines", REPO_ROOT / "scripts" / "check_state_machines.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``models/`` as it is in the repository today, plus ``cdk-mlops new added-sklearn --template sklearn``."""
    folder = tmp_path_factory.mktemp("repository") / "models"
    shutil.copytree(REPO_ROOT / "models", folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert main(["new", ADDED, "--template", "sklearn", "--models-dir", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def synthesized(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    import aws_cdk as cdk

    from cdk_mlops.app_builder import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    mlops = build_app(app, models_dir, region="eu-west-1")
    app.synth()
    return mlops, outdir


def test_the_models_with_one_added_validate(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "--models-dir", str(models_dir), "--region", "eu-west-1"])

    assert code == 0, capsys.readouterr().out
    assert ADDED in plan_models(models_dir, region="eu-west-1").names


def test_every_model_gets_a_pipeline_stack_and_endpoint_models_their_two_endpoint_stacks(
    models_dir: Path, synthesized: tuple[Any, Path]
) -> None:
    mlops, _ = synthesized
    plan = plan_models(models_dir, region="eu-west-1")

    assert sorted(mlops.models) == plan.names
    for name, model in mlops.models.items():
        names = stack_names(name)
        expected = [names["Pipeline"]] if model.config.inference == "batch" else list(names.values())
        assert [stack.stack_name for stack in model.stacks] == expected
    assert mlops.platform.stack_name == "Mlops-Platform"


def test_every_model_stack_is_tagged_and_every_pipeline_depends_on_the_platform(synthesized: tuple[Any, Path]) -> None:
    mlops, _ = synthesized

    for name, model in mlops.models.items():
        for stack in model.stacks:
            assert stack.tags.tag_values() == {"cdk-mlops:model": name}
        assert mlops.platform.stack_name in {dependency.stack_name for dependency in model.pipeline.dependencies}


def test_every_synthesized_state_machine_passes_the_static_checks(synthesized: tuple[Any, Path]) -> None:
    checker = _checker()
    if not checker.VALIDATOR.exists():
        pytest.fail(f"asl-validator is missing ({checker.VALIDATOR}): run npm ci")
    mlops, outdir = synthesized

    count, problems = checker.check_assembly(outdir)

    assert problems == []
    assert count >= 4 * len([model for model in mlops.models.values() if model.config.inference != "batch"])
