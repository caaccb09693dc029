"""Drift is never silent: a pipeline's build compares the pushed ``model.yaml`` (and ``pipeline_class``
file) with the configuration the pipeline was synthesized from, and fails within its first commands
with each changed field and the deploy command that applies it.

The build stage runs here as it would in CodeBuild: the check command of the synthesized buildspec
runs in bash from a copy of the pushed repository, with the buildspec's variables, this interpreter
as the check's Python, and a stand-in ``aws`` command that records the SNS notification.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdk_mlops.constructs.config_check import CHECK_ENV
from cdk_mlops_testing import MODELS_DIR, construct_resource, example_config_data, render, write_model

CHECK_MARK = "cdk_mlops.drift_check_config"


@dataclasses.dataclass
class SynthesizedModel:
    """One model's synthesized build spec and the repository it was synthesized from."""

    name: str
    folder: str
    spec: dict[str, Any]

    @property
    def variables(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.spec["env"]["variables"].items()}

    @property
    def check_command(self) -> str:
        (command,) = [c for c in self.spec["phases"]["install"]["commands"] if CHECK_MARK in c]
        return command


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository in the example layout (``models/<name>/``) with churn-xgb and iris-sklearn (which
    names a ``pipeline_class``)."""
    root = tmp_path_factory.mktemp("repo")
    for name in ("churn-xgb", "iris-sklearn"):
        shutil.copytree(MODELS_DIR / name, root / "models" / name)
    return root


@pytest.fixture(scope="module")
def synthesized(repository: Path) -> dict[str, SynthesizedModel]:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from cdk_mlops.app_builder import build_app

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
        mlops = build_app(cdk.App(builtin_cloud_formation_validation=False), repository / "models")
    models = {}
    for name, stacks in mlops.models.items():
        template = Template.from_stack(stacks.pipeline, skip_cyclical_dependencies_check=True).to_json()
        _, project = construct_resource(template, "AWS::CodeBuild::Project", "MlPipelineBuild")
        spec = yaml.safe_load(render(project["Properties"]["Source"]["BuildSpec"]))
        models[name] = SynthesizedModel(name, f"models/{name}", spec)
    return models


@dataclasses.dataclass
class BuildRun:
    status: int
    output: str
    notifications: list[str]


def run_check(model: SynthesizedModel, pushed: Path, tmp_path: Path) -> BuildRun:
    """The buildspec's check command in bash, from the pushed repository ``pushed``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "aws-calls.txt"
    fake_aws = bin_dir / "aws"
    # Records `aws sns publish ... --message file://<path>`: the arguments, then the message file.
    fake_aws.write_text(
        "#!/bin/bash\n"
        f'echo "aws $*" >> {calls}\n'
        'for arg in "$@"; do case "$arg" in file://*) cat "${arg#file://}" >> ' + str(calls) + ";; esac; done\n",
        encoding="utf-8",
    )
    fake_aws.chmod(0o755)
    environment = {
        **os.environ,
        **model.variables,
        "CDK_MLOPS_CHECK_PYTHON": sys.executable,
        "CODEBUILD_SRC_DIR": str(pushed),
        "CODEBUILD_BUILD_URL": "https://console.aws.amazon.com/codesuite/codebuild/build/1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        ["bash", "-c", model.check_command],
        cwd=pushed / model.folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    notifications = calls.read_text(encoding="utf-8").split("aws sns publish")[1:] if calls.exists() else []
    return BuildRun(result.returncode, result.stdout + result.stderr, notifications)


def push_copy(repository: Path, tmp_path: Path) -> Path:
    pushed = tmp_path / "pushed"
    shutil.copytree(repository, pushed)
    return pushed


def test_build_runs_the_configuration_check_before_installing_the_model_requirements(synthesized) -> None:
    commands = synthesized["churn-xgb"].spec["phases"]["install"]["commands"]
    check = next(index for index, command in enumerate(commands) if CHECK_MARK in command)
    requirements = next(index for index, command in enumerate(commands) if "requirements.txt" in command)

    assert commands[0] == "cd models/churn-xgb"
    assert commands[1] == "python -m venv /tmp/cdk-mlops-check"
    assert '--no-deps "cdk-mlops==0.1.0" || ' in commands[2]  # else the pushed repository's library
    assert commands[3].startswith(
        f'{CHECK_ENV}/bin/pip install --quiet --disable-pip-version-check --no-deps "sagemaker-core=='
    )
    assert check == 5 < requirements


def test_build_installs_the_synthesizing_versions_of_the_library_and_its_validators(synthesized) -> None:
    import botocore
    import pydantic
    import yaml

    install = synthesized["churn-xgb"].spec["phases"]["install"]["commands"][4]

    assert install.endswith(
        f'"pydantic=={pydantic.VERSION}" "PyYAML=={yaml.__version__}" "botocore=={botocore.__version__}"'
    )
    assert synthesized["churn-xgb"].variables["CDK_MLOPS_VERSION"] == "0.1.0"


def test_build_checks_in_the_pipelines_region_and_account(synthesized) -> None:
    variables = synthesized["churn-xgb"].variables

    assert variables["CDK_MLOPS_REGION"] == "eu-west-1"
    assert variables["CDK_MLOPS_ACCOUNT"] == "${AWS::AccountId}"  # an environment-agnostic test app


def test_build_records_the_validated_configuration_with_every_default(synthesized) -> None:
    import json

    recorded = json.loads(synthesized["churn-xgb"].variables["CDK_MLOPS_DEPLOYED_CONFIG"])

    # Every field, those the file leaves out included (an unset champion margin is recorded as null).
    assert recorded["quality_gate"] == [
        {
            "beat_champion_by": None,
            "comparison": ">=",
            "metric": "validation:auc",
            "threshold": 0.8,
            "within_champion_by": None,
        }
    ]
    assert recorded["training"]["volume_size_gib"] == 30  # a default the file leaves out
    assert synthesized["churn-xgb"].variables["CDK_MLOPS_PIPELINE_CLASS_SHA256"] == ""
    assert len(synthesized["iris-sklearn"].variables["CDK_MLOPS_PIPELINE_CLASS_SHA256"]) == 64


def test_unchanged_push_passes_without_a_notification(synthesized, repository, tmp_path) -> None:
    pushed = push_copy(repository, tmp_path)
    # Comments, key order and a default written out change nothing.
    data = example_config_data("churn-xgb")
    data["training"]["volume_size_gib"] = 30
    write_model(pushed / "models", "churn-xgb", dict(reversed(list(data.items()))))

    run = run_check(synthesized["churn-xgb"], pushed, tmp_path)

    assert run.status == 0, run.output
    assert "no change" in run.output
    assert run.notifications == []


def test_changed_field_fails_the_build_naming_old_and_new_value_and_the_deploy_command(
    synthesized, repository, tmp_path
) -> None:
    pushed = push_copy(repository, tmp_path)
    data = example_config_data("churn-xgb")
    data["quality_gate"][0]["threshold"] = 0.9
    data["training"]["hyperparameters"]["eta"] = 0.3
    write_model(pushed / "models", "churn-xgb", data)

    run = run_check(synthesized["churn-xgb"], pushed, tmp_path)

    assert run.status == 1
    assert "  - quality_gate.0.threshold: 0.8 → 0.9\n" in run.output
    assert "  - training.hyperparameters.eta: 0.2 → 0.3\n" in run.output
    assert 'npx cdk deploy "Mlops-churn-xgb-*"' in run.output
    (notification,) = run.notifications
    assert "--topic-arn ${MlPipelineNotifications" in notification
    assert "quality_gate.0.threshold: 0.8 → 0.9" in notification
    assert 'npx cdk deploy "Mlops-churn-xgb-*"' in notification
    assert "Build log: https://console.aws.amazon.com/codesuite/codebuild/build/1" in notification


def test_added_section_is_listed_as_a_change_from_not_set(synthesized, repository, tmp_path) -> None:
    pushed = push_copy(repository, tmp_path)
    data = example_config_data("churn-xgb")
    data["training"]["hyperparameters"]["gamma"] = 1
    write_model(pushed / "models", "churn-xgb", data)

    run = run_check(synthesized["churn-xgb"], pushed, tmp_path)

    assert run.status == 1
    assert "  - training.hyperparameters.gamma: (not set) → 1\n" in run.output


def test_changed_pipeline_class_fails_the_build(synthesized, repository, tmp_path) -> None:
    pushed = push_copy(repository, tmp_path)
    with (pushed / "models" / "iris-sklearn" / "pipeline.py").open("a", encoding="utf-8") as source:
        source.write("\n# a changed quality gate\n")

    run = run_check(synthesized["iris-sklearn"], pushed, tmp_path)

    assert run.status == 1
    assert "pipeline_class source (pipeline.py:IrisPipeline), sha256" in run.output
    assert 'npx cdk deploy "Mlops-iris-sklearn-*"' in run.output
    assert len(run.notifications) == 1


@pytest.mark.parametrize(
    "instance_type",
    [
        "m5.large",  # refused by the schema
        "ml.m5.huge",  # well-formed, but no SageMaker training instance type (the synthesis plan's check)
    ],
)
def test_invalid_pushed_file_fails_the_build_with_the_error_synthesis_gives(
    synthesized, repository, tmp_path, instance_type
) -> None:
    import aws_cdk as cdk

    from cdk_mlops.app_builder import build_app
    from cdk_mlops.config import ModelConfigError

    pushed = push_copy(repository, tmp_path)
    data = example_config_data("churn-xgb")
    data["training"]["instance_type"] = instance_type
    write_model(pushed / "models", "churn-xgb", data)
    with pytest.raises(ModelConfigError) as synth_error:
        build_app(cdk.App(), pushed / "models", only=["churn-xgb"])

    run = run_check(synthesized["churn-xgb"], pushed, tmp_path)

    assert run.status == 1
    assert "error: invalid model configuration models/churn-xgb/model.yaml:" in run.output
    assert synth_error.value.problems[0].startswith("training.instance_type: ")
    for problem in synth_error.value.problems:
        assert f"  - {problem}" in run.output
    assert len(run.notifications) == 1


def test_push_without_the_model_file_fails_the_build(synthesized, repository, tmp_path) -> None:
    pushed = push_copy(repository, tmp_path)
    (pushed / "models" / "churn-xgb" / "model.yaml").unlink()

    run = run_check(synthesized["churn-xgb"], pushed, tmp_path)

    assert run.status == 1
    assert "has no models/churn-xgb/model.yaml" in run.output


def test_check_module_exit_status_distinguishes_drift_from_an_invalid_file(tmp_path) -> None:
    from cdk_mlops.config import load_model_config
    from cdk_mlops.config_drift import DeployedConfig
    from cdk_mlops.drift_check_config import check_config

    path = write_model(tmp_path / "deployed" / "models", "churn-xgb", example_config_data("churn-xgb"))
    record = DeployedConfig.of(load_model_config(path)).environment()
    data = example_config_data("churn-xgb")
    data["endpoints"]["production"]["instance_count"] = 3
    changed = write_model(tmp_path / "changed" / "models", "churn-xgb", data)
    invalid = write_model(tmp_path / "invalid" / "models", "churn-xgb", "name: [")

    drift_status, drift_message = check_config(changed, record)

    assert check_config(path, record)[0] == 0
    assert drift_status == 1
    assert "endpoints.production.instance_count: 2 → 3" in drift_message
    assert check_config(invalid, record)[0] == 2
    assert check_config(path, {}) == (
        2,
        "error: CDK_MLOPS_DEPLOYED_CONFIG is not set: this build has no record of the deployed configuration",
    )


def test_model_in_its_own_repository_without_a_model_file_passes_with_a_note(tmp_path, monkeypatch) -> None:
    from cdk_mlops.config import load_model_config
    from cdk_mlops.config_drift import DeployedConfig
    from cdk_mlops.drift_check_config import check_config

    data = example_config_data("churn-xgb")
    del data["source"]["path"]  # the model's own repository: model.yaml stays with the platform app
    record = DeployedConfig.of(load_model_config(write_model(tmp_path / "platform", "churn-xgb", data)))
    monkeypatch.chdir(tmp_path)

    status, message = check_config(Path("model.yaml"), record.environment())

    assert status == 0
    assert "a push here cannot change it" in message


def test_model_file_at_the_root_of_its_own_repository_is_compared(tmp_path, monkeypatch) -> None:
    from cdk_mlops.config import load_model_config
    from cdk_mlops.config_drift import DeployedConfig
    from cdk_mlops.drift_check_config import check_config

    data = example_config_data("churn-xgb")
    del data["source"]["path"]
    record = DeployedConfig.of(load_model_config(write_model(tmp_path / "platform", "churn-xgb", data)))
    data["smoke_test"]["max_latency_ms"] = 500
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    status, message = check_config(Path("model.yaml"), record.environment())

    assert status == 1
    assert "  - smoke_test.max_latency_ms: 3000 → 500\n" in message
