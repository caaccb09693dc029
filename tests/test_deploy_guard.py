"""The example app cannot be deployed by accident: with credentials (the CDK CLI sets
``CDK_DEFAULT_ACCOUNT``), a chosen model that still holds the examples' placeholder accounts or
connection stops synthesis; offline synthesis, and your own models next to the examples, still work.
Also: a CodeConnections connection in another region than the pipeline is warned about."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_mlops.config import ModelConfigError, find_model_files, load_model_config, load_model_configs
from cdk_mlops.deploy_guard import placeholder_problems, refuse_placeholders
from cdk_mlops_testing import MODELS_DIR, REPO_ROOT, example_config_data, write_model

CREDENTIALS = {"CDK_DEFAULT_ACCOUNT": "123456789012"}
OWN_ARN = "arn:aws:codeconnections:eu-west-1:123456789012:connection/6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


def own_model(models: Path, name: str = "my-churn") -> Path:
    data = example_config_data("churn-xgb")
    data["name"] = name
    data["source"]["connection_arn"] = OWN_ARN
    data["source"]["path"] = f"models/{name}"
    shutil.copytree(MODELS_DIR / "churn-xgb", models / name)
    return write_model(models, name, data)


def test_every_model_the_example_app_reads_by_default_is_refused_with_credentials() -> None:
    # models/ is what `cdk deploy --all` reads; examples/ needs an explicit -c models_dir=examples.
    files = find_model_files(MODELS_DIR)
    refused = [path for path, config in load_model_configs(files).items() if placeholder_problems(config)]

    assert refused == files
    assert refused  # the shipped set is not empty


def test_refusal_names_the_file_the_field_the_placeholder_and_the_way_out() -> None:
    config = load_model_config(MODELS_DIR / "iris-sklearn" / "model.yaml")

    with pytest.raises(ModelConfigError) as error:
        refuse_placeholders([config], "models", CREDENTIALS)

    assert error.value.path == Path("models/iris-sklearn/model.yaml")
    assert error.value.problems[0].startswith(
        "source.connection_arn: is the examples' placeholder (account 111111111111, connection "
        "00000000-0000-0000-0000-000000000000)"
    )
    assert error.value.problems[1].startswith("endpoints.production.account: is a placeholder account")
    assert "(got '222222222222')" in error.value.problems[1]
    assert 'npx cdk deploy -c models=<your model> "Mlops-<your model>-*"' in error.value.problems[2]


def test_offline_synthesis_of_the_examples_is_not_refused() -> None:
    config = load_model_config(MODELS_DIR / "churn-xgb" / "model.yaml")

    assert refuse_placeholders([config], "models", {}) is None


def test_own_model_is_not_refused(tmp_path: Path) -> None:
    config = load_model_config(own_model(tmp_path))

    assert placeholder_problems(config) == []
    assert refuse_placeholders([config], tmp_path, CREDENTIALS) is None


def run_app(
    models: Path, tmp_path: Path, context: dict[str, str], environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``python app.py`` as ``cdk synth`` runs it: context in ``CDK_CONTEXT_JSON``, output in ``CDK_OUTDIR``."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "CDK_DEFAULT_ACCOUNT"},
        **environment,
        "CDK_CONTEXT_JSON": json.dumps({"models_dir": str(models), "nag": "false", **context}),
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "CDK_DEFAULT_REGION": "eu-west-1",
        "CDK_VALIDATION": "false",
    }
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def mixed_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unmodified example (churn-xgb) next to a model of one's own."""
    models = tmp_path_factory.mktemp("repo") / "models"
    shutil.copytree(MODELS_DIR / "churn-xgb", models / "churn-xgb")
    own_model(models)
    return models


def test_example_app_with_credentials_stops_before_synthesis(mixed_models, tmp_path) -> None:
    result = run_app(mixed_models, tmp_path, {}, CREDENTIALS)

    assert result.returncode == 2
    assert f"error: invalid model configuration {mixed_models}/churn-xgb/model.yaml:" in result.stderr
    assert "account 111111111111" in result.stderr
    assert not (tmp_path / "cdk.out" / "manifest.json").exists()


def test_example_app_deploys_only_your_own_model_with_credentials(mixed_models, tmp_path) -> None:
    result = run_app(mixed_models, tmp_path, {"models": "my-churn"}, CREDENTIALS)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cdk.out" / "Mlops-my-churn-Pipeline.template.json").is_file()
    assert not (tmp_path / "cdk.out" / "Mlops-churn-xgb-Pipeline.template.json").exists()


def test_connection_in_another_region_than_the_pipeline_is_warned_about(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match

    from cdk_mlops.app_builder import build_app

    models = tmp_path / "models"
    own_model(models)
    mlops = build_app(cdk.App(builtin_cloud_formation_validation=False), models, region="us-east-1")

    Annotations.from_stack(mlops.models["my-churn"].pipeline).has_warning(
        "*",
        Match.string_like_regexp(
            "source.connection_arn is a connection in eu-west-1, but this pipeline is in us-east-1: create the "
            "CodeConnections connection in us-east-1"
        ),
    )


def test_connection_in_the_pipelines_region_is_not_warned_about(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match

    from cdk_mlops.app_builder import build_app

    models = tmp_path / "models"
    own_model(models)
    mlops = build_app(cdk.App(builtin_cloud_formation_validation=False), models, region="eu-west-1")

    Annotations.from_stack(mlops.models["my-churn"].pipeline).has_no_warning(
        "*", Match.string_like_regexp("source.connection_arn is a connection in")
    )
