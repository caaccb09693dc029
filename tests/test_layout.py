"""The package layout: our constructs live in ``cdk_mlops.constructs`` so that ``import constructs``
keeps resolving to the ``constructs`` library aws-cdk-lib is built on (aws-cdk issue 19301)."""

from __future__ import annotations

import importlib
import sysconfig
from pathlib import Path

from cdk_mlops_testing import REPO_ROOT


def test_import_constructs_resolves_to_the_installed_library_not_the_repository() -> None:
    import constructs

    location = Path(constructs.__file__).resolve()
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()

    assert location == site_packages / "constructs" / "__init__.py"
    assert "site-packages" in location.parts
    assert location.parent != REPO_ROOT / "constructs"


def test_the_constructs_library_provides_the_construct_base_class_of_aws_cdk() -> None:
    import aws_cdk as cdk
    import constructs

    assert isinstance(constructs.Construct, type)
    assert issubclass(cdk.Stack, constructs.Construct)


def test_the_repository_has_no_top_level_constructs_package_to_shadow_the_library() -> None:
    assert not (REPO_ROOT / "constructs").exists()
    assert not (REPO_ROOT / "constructs.py").exists()


def test_cdk_mlops_constructs_is_our_package_inside_cdk_mlops() -> None:
    package = importlib.import_module("cdk_mlops.constructs")

    assert Path(package.__file__).resolve() == REPO_ROOT / "cdk_mlops" / "constructs" / "__init__.py"
    assert package.__name__ == "cdk_mlops.constructs"


def test_every_construct_module_is_importable_from_cdk_mlops_constructs() -> None:
    modules = [
        "batch_transform_workflow",
        "deploy_workflow",
        "ml_pipeline",
        "model_build_project",
        "model_endpoint",
        "model_source",
        "promotion",
        "sagemaker_tasks",
        "smoke_test_workflow",
        "training_workflow",
        "workflow_steps",
    ]

    loaded = {name: importlib.import_module(f"cdk_mlops.constructs.{name}") for name in modules}

    assert {name: Path(module.__file__).parent for name, module in loaded.items()} == {
        name: REPO_ROOT / "cdk_mlops" / "constructs" for name in modules
    }
