"""The example app as ``build_app`` and ``app.py`` assemble it: which stacks exist, where they deploy,
how they are tagged and linked, and how ``-c models=`` and configuration errors behave."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import aws_cdk as cdk
import pytest

from cdk_mlops.app_builder import build_app, load_pipeline_class, selected_models, stack_names
from cdk_mlops.constructs.ml_pipeline import MlPipeline
from cdk_mlops_testing import MODELS_DIR, REPO_ROOT, example_config_data, write_model

EXAMPLE_STACKS = {
    "Mlops-Platform",
    "Mlops-churn-xgb-Pipeline",
    "Mlops-churn-xgb-Staging",
    "Mlops-churn-xgb-Production",
    "Mlops-iris-sklearn-Pipeline",
    "Mlops-iris-sklearn-Staging",
    "Mlops-iris-sklearn-Production",
    "Mlops-fraud-batch-Pipeline",
}


def test_example_app_has_a_platform_stack_and_three_stacks_per_endpoint_model(example_app) -> None:
    assert set(example_app.templates) == EXAMPLE_STACKS
    assert sorted(example_app.mlops.models) == ["churn-xgb", "fraud-batch", "iris-sklearn"]


def test_a_batch_model_gets_a_pipeline_stack_and_no_endpoint_stacks(example_app) -> None:
    fraud = example_app.mlops.models["fraud-batch"]

    assert fraud.config.inference == "batch"
    assert (fraud.staging, fraud.production) == (None, None)
    assert fraud.stacks == [fraud.pipeline]
    assert fraud.pipeline.pipeline.deploy_staging is None
    assert fraud.pipeline.pipeline.batch_transform is not None


def test_stack_names_follow_the_mlops_model_stage_convention() -> None:
    assert stack_names("churn-xgb") == {
        "Pipeline": "Mlops-churn-xgb-Pipeline",
        "Staging": "Mlops-churn-xgb-Staging",
        "Production": "Mlops-churn-xgb-Production",
    }


def test_stacks_deploy_to_eu_west_1_by_default_and_stay_account_agnostic(example_app) -> None:
    mlops = example_app.mlops
    stacks = [mlops.platform, *mlops.production_platforms.values(), *mlops.regional_platforms.values()] + [
        stack for model in mlops.models.values() for stack in model.stacks
    ]
    iris_production = mlops.models["iris-sklearn"].production  # endpoints.production.account

    assert {stack.region for stack in stacks} == {"eu-west-1"}
    assert all(cdk.Token.is_unresolved(stack.account) for stack in stacks if stack is not iris_production)
    assert iris_production.account == "222222222222"


def test_model_stacks_are_tagged_with_their_model(example_app) -> None:
    for name, model in example_app.mlops.models.items():
        for stack in model.stacks:
            assert stack.tags.tag_values() == {"cdk-mlops:model": name}
    assert example_app.mlops.platform.tags.tag_values() == {}


def test_pipeline_stacks_depend_on_the_platform_and_endpoint_stacks_also_on_their_pipeline(example_app) -> None:
    mlops = example_app.mlops
    platform = mlops.platform.stack_name
    for model in mlops.models.values():
        pipeline = model.pipeline.stack_name
        assert [dependency.stack_name for dependency in model.pipeline.dependencies] == [platform]
        # an instance endpoint's alarms notify the model's topic, an export of the pipeline stack
        endpoints = model.config.endpoints
        for stack, settings in ((model.staging, endpoints.staging), (model.production, endpoints.production)):
            if stack is None:  # fraud-batch hosts no endpoint
                continue
            expected = {platform} if settings.serverless else {platform, pipeline}
            if stack is mlops.models["iris-sklearn"].production:
                expected = set()  # serverless in another account: no platform, no topic across accounts
            assert {dependency.stack_name for dependency in stack.dependencies} == expected, stack.stack_name
    assert mlops.platform.dependencies == []


def test_model_stacks_carry_their_descriptions(example_app) -> None:
    assert {name: template.get("Description") for name, template in example_app.json.items()} == {
        "Mlops-Platform": "cdk-mlops shared platform: KMS key and artifact bucket",
        "Mlops-churn-xgb-Pipeline": "cdk-mlops churn-xgb: deployment pipeline and workflows",
        "Mlops-churn-xgb-Staging": "cdk-mlops churn-xgb: staging endpoint",
        "Mlops-churn-xgb-Production": "cdk-mlops churn-xgb: production endpoint",
        "Mlops-iris-sklearn-Pipeline": "cdk-mlops iris-sklearn: deployment pipeline and workflows",
        "Mlops-fraud-batch-Pipeline": "cdk-mlops fraud-batch: deployment pipeline and workflows",
        "Mlops-iris-sklearn-Staging": "cdk-mlops iris-sklearn: staging endpoint",
        "Mlops-iris-sklearn-Production": "cdk-mlops iris-sklearn: production endpoint",
    }


def test_selected_models_reads_a_comma_separated_context() -> None:
    assert selected_models(cdk.App(context={"models": " churn-xgb , iris-sklearn ,"})) == ["churn-xgb", "iris-sklearn"]
    assert selected_models(cdk.App()) is None


def test_models_context_builds_only_the_selected_model_in_the_cdk_environment(monkeypatch) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "210987654321")
    app = cdk.App(builtin_cloud_formation_validation=False, context={"models": "iris-sklearn"})

    mlops = build_app(app, MODELS_DIR, only=selected_models(app))

    assert list(mlops.models) == ["iris-sklearn"]
    assert [child.node.id for child in app.node.children] == [
        "Mlops-Platform",
        "Mlops-iris-sklearn-Pipeline",
        "Mlops-iris-sklearn-Staging",
        "Mlops-iris-sklearn-Production",
    ]
    assert {(stack.account, stack.region) for stack in app.node.children} == {
        ("210987654321", "us-east-1"),
        ("222222222222", "us-east-1"),  # iris-sklearn's production account
    }
    assert mlops.models["iris-sklearn"].production.account == "222222222222"


def test_app_main_prints_a_readable_error_and_exits_with_2_for_an_invalid_model(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    data = example_config_data("churn-xgb")
    data["training"]["instance_type"] = "m5.large"
    path = write_model(tmp_path, "churn-xgb", data)
    spec = importlib.util.spec_from_file_location("mlops_example_app", REPO_ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "MODELS_DIR", tmp_path)

    with pytest.raises(SystemExit) as exited:
        module.main()

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: invalid model configuration {path}:")
    assert "training.instance_type" in error
    assert "(got 'm5.large')" in error
    assert "jsii" not in error.lower()


def test_pipeline_class_is_loaded_from_the_model_folder(tmp_path: Path) -> None:
    path = write_model(tmp_path, "churn-xgb", example_config_data("churn-xgb"))
    (path.parent / "pipeline.py").write_text(
        "from cdk_mlops import MlPipeline\n\n\nclass ChurnPipeline(MlPipeline):\n    pass\n", encoding="utf-8"
    )

    loaded = load_pipeline_class(path, "pipeline.py:ChurnPipeline")

    assert loaded.__name__ == "ChurnPipeline"
    assert issubclass(loaded, MlPipeline)
    assert load_pipeline_class(path, None) is MlPipeline


def test_pipeline_class_module_may_define_dataclasses_with_postponed_annotations(tmp_path: Path) -> None:
    path = write_model(tmp_path, "churn-xgb", example_config_data("churn-xgb"))
    (path.parent / "pipeline.py").write_text(
        "from __future__ import annotations\n"
        "\n"
        "import dataclasses\n"
        "\n"
        "from cdk_mlops import MlPipeline\n"
        "\n"
        "\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class GateSettings:\n"
        "    floor: float = 0.8\n"
        "\n"
        "\n"
        "class ChurnPipeline(MlPipeline):\n"
        "    settings = GateSettings()\n",
        encoding="utf-8",
    )

    loaded = load_pipeline_class(path, "pipeline.py:ChurnPipeline")

    assert issubclass(loaded, MlPipeline)
    assert loaded.settings.floor == 0.8
