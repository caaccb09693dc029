"""``cdk-mlops summary`` (what README command 1 prints after ``cdk synth``): one line per stack with its
resource count and template size, the pipeline's stages, each workflow's states and where endpoints go."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdk_mlops.cli import summary
from cdk_mlops_testing import render_definition


@pytest.fixture(scope="module")
def printed(example_app) -> str:
    assembly = example_app.mlops.platform.node.root.synth()
    return summary(Path(assembly.directory))


def test_summary_lists_every_stack_once_and_counts_them(example_app, printed) -> None:
    lines = printed.splitlines()
    stack_lines = [line.split()[0] for line in lines[1:] if line and not line.startswith(" ")]

    assert lines[0].split() == ["stack", "resources", "KiB", "contents"]
    assert sorted(stack_lines[:-1]) == sorted(example_app.templates)
    assert lines[-1].startswith(f"{len(example_app.templates)} stacks in ")


def test_summary_shows_the_pipeline_stages_and_the_workflow_states(example_app, printed) -> None:
    (line,) = [line for line in printed.splitlines() if line.startswith("Mlops-churn-xgb-Pipeline ")]
    resources = len(example_app.json["Mlops-churn-xgb-Pipeline"]["Resources"])

    assert line.split()[1] == str(resources)
    assert line.endswith(
        "pipeline Source > BuildAndTest > Train > DeployStaging > SmokeTest > ManualApproval > DeployProduction"
    )
    training = example_app.json["Mlops-churn-xgb-Pipeline"]["Resources"]["MlPipelineTrainingE4186D57"]
    states = render_definition(training["Properties"]["DefinitionString"])["States"]
    assert f"MlPipelineTrainingE4186D57: {len(states)} states" in printed  # the top-level states it defines


def test_summary_names_the_account_of_an_endpoint_deployed_to_another_account(printed) -> None:
    lines = {line.split()[0]: line for line in printed.splitlines() if line.startswith("Mlops-")}

    assert lines["Mlops-iris-sklearn-Production"].endswith(
        "SageMaker endpoint in account 222222222222 (created once ModelPackageArn is set)"
    )
    assert lines["Mlops-churn-xgb-Production"].endswith("SageMaker endpoint (created once ModelPackageArn is set)")


def test_summary_of_an_empty_folder_says_to_synthesize_first(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="run 'cdk synth' first"):
        summary(tmp_path)


def test_summary_names_the_region_of_an_endpoint_outside_the_apps_usual_region(tmp_path: Path) -> None:
    import aws_cdk as cdk
    import yaml

    from cdk_mlops.app_builder import build_app
    from cdk_mlops_testing import REPO_ROOT, write_model

    data = yaml.safe_load((REPO_ROOT / "examples" / "other-region" / "model.yaml").read_text(encoding="utf-8"))
    write_model(tmp_path / "models", "demand-us", data)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), builtin_cloud_formation_validation=False)
    build_app(app, tmp_path / "models", region="eu-west-1")
    printed = summary(Path(app.synth().directory))
    lines = {line.split()[0]: line for line in printed.splitlines() if line.startswith("Mlops-")}

    assert lines["Mlops-demand-us-Production"].endswith(
        "SageMaker endpoint in account 333333333333, region us-west-2 (created once ModelPackageArn is set)"
    )
    assert lines["Mlops-demand-us-Staging"].endswith("SageMaker endpoint (created once ModelPackageArn is set)")
