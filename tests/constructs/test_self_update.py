"""The opt-in ``UpdatePipeline`` stage (``pipeline.self_update: true``): right after Source it deploys
the model's stacks from the pushed commit with the CDK CLI through the bootstrap roles, and when that
changed the pipeline itself, the running execution stops and CodePipeline restarts it on the new
definition.

Built from ``examples/other-region`` (demand-us: production in account 333333333333, us-west-2), the
example that turns it on, copied into a ``models/`` folder; churn-xgb keeps the default (off). The
stage's build commands run in bash with stand-in ``npx`` and ``aws`` commands for the restart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Template

from cdk_mlops.app_builder import build_app
from cdk_mlops_testing import (
    MODELS_DIR,
    REPO_ROOT,
    construct_resource,
    only_resource,
    render,
    role_statements,
)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
MODEL = "demand-us"


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    models = tmp_path_factory.mktemp("repo") / "models"
    shutil.copytree(REPO_ROOT / "examples" / "other-region", models / MODEL)
    shutil.copytree(MODELS_DIR / "churn-xgb", models / "churn-xgb")
    mlops = build_app(cdk.App(builtin_cloud_formation_validation=False), models, region=REGION, account=ACCOUNT)
    return {name: Template.from_stack(stacks.pipeline).to_json() for name, stacks in mlops.models.items()}


def pipeline(template: dict[str, Any]) -> dict[str, Any]:
    return only_resource(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]


def self_update_project(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return construct_resource(template, "AWS::CodeBuild::Project", "MlPipelineSelfUpdate")


def build_spec(template: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(render(self_update_project(template)[1]["Properties"]["Source"]["BuildSpec"]))


def test_the_example_turns_self_update_on_in_its_model_file() -> None:
    from cdk_mlops.config import load_model_config

    assert load_model_config(REPO_ROOT / "examples" / "other-region" / "model.yaml").pipeline.self_update
    assert not load_model_config(MODELS_DIR / "churn-xgb" / "model.yaml").pipeline.self_update


def test_update_pipeline_stage_comes_right_after_source_and_runs_on_the_pushed_commit(templates) -> None:
    stages = pipeline(templates[MODEL])["Stages"]
    (action,) = stages[1]["Actions"]
    project_id, _ = self_update_project(templates[MODEL])

    assert [stage["Name"] for stage in stages[:3]] == ["Source", "UpdatePipeline", "BuildAndTest"]
    assert action["ActionTypeId"]["Provider"] == "CodeBuild"
    assert action["InputArtifacts"] == [{"Name": "SourceCode"}]
    assert action["Configuration"]["ProjectName"] == {"Ref": project_id}
    assert '"name":"PIPELINE_EXECUTION_ID"' in render(action["Configuration"]["EnvironmentVariables"]).replace(" ", "")


def test_self_update_is_off_by_default(templates) -> None:
    stages = [stage["Name"] for stage in pipeline(templates["churn-xgb"])["Stages"]]

    assert "UpdatePipeline" not in stages
    assert pipeline(templates["churn-xgb"])["RestartExecutionOnUpdate"] is False
    assert not any("SelfUpdate" in logical_id for logical_id in templates["churn-xgb"]["Resources"])


def test_pipeline_restarts_on_its_new_definition_after_an_update(templates) -> None:
    # What CDK Pipelines sets for self-mutation: CodePipeline starts a new execution once the
    # pipeline's definition is updated (AWS::CodePipeline::Pipeline RestartExecutionOnUpdate).
    assert pipeline(templates[MODEL])["RestartExecutionOnUpdate"] is True


def test_stage_deploys_only_this_models_stacks_for_this_model_only(templates) -> None:
    commands = build_spec(templates[MODEL])["phases"]["build"]["commands"]
    (deploy,) = [command for command in commands if command.startswith("npx cdk deploy")]

    assert deploy == (
        'npx cdk deploy "Mlops-demand-us-*" --exclusively -c models=demand-us --require-approval never --progress events'
    )
    assert "--parameters" not in deploy  # endpoint stacks keep ModelPackageArn (UsePreviousValue)
    install = build_spec(templates[MODEL])["phases"]["install"]
    assert install["runtime-versions"] == {"python": "3.12", "nodejs": "20"}
    # The app runs as its cdk.json says: .venv/bin/python app.py
    assert install["commands"][1:] == [
        "python -m venv .venv",
        "if [ -f requirements.txt ]; then .venv/bin/pip install -r requirements.txt; else .venv/bin/pip install .; fi",
        "npm ci",
    ]


def test_a_model_in_a_models_folder_synthesizes_that_folder(tmp_path: Path) -> None:
    from cdk_mlops.constructs.self_update import self_update_build_spec

    spec = self_update_build_spec("churn-xgb", "", "models")

    assert " -c models=churn-xgb -c models_dir=models " in spec["phases"]["build"]["commands"][2]


def test_role_may_assume_only_the_bootstrap_roles_of_the_models_environments(templates) -> None:
    role_id = self_update_project(templates[MODEL])[1]["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    (assume,) = [s for s in role_statements(templates[MODEL], role_id) if s.allows("sts:AssumeRole")]

    assert sorted(render(resource) for resource in assume.resources) == sorted(
        f"arn:${{AWS::Partition}}:iam::{account}:role/cdk-hnb659fds-{role}-role-{account}-{region}"
        for account, region in ((ACCOUNT, REGION), ("333333333333", "us-west-2"))
        for role in ("deploy", "file-publishing", "lookup")
    )
    assert assume.body["Condition"] == {
        "ForAnyValue:StringEquals": {"iam:ResourceTag/aws-cdk:bootstrap-role": ["deploy", "file-publishing", "lookup"]}
    }


def test_role_reads_and_stops_only_its_own_pipeline_and_calls_nothing_else(templates) -> None:
    template = templates[MODEL]
    role_id = self_update_project(template)[1]["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    statements = role_statements(template, role_id)
    pipeline_id = only_resource(template, "AWS::CodePipeline::Pipeline")[0]
    (codepipeline,) = [s for s in statements if any(a.startswith("codepipeline:") for a in s.actions)]
    services = {action.split(":")[0] for statement in statements for action in statement.actions}

    assert sorted(codepipeline.actions) == [
        "codepipeline:GetPipeline",
        "codepipeline:GetPipelineExecution",
        "codepipeline:StopPipelineExecution",
    ]
    assert [render(resource) for resource in codepipeline.resources] == [
        f"arn:${{AWS::Partition}}:codepipeline:{REGION}:{ACCOUNT}:${{{pipeline_id}}}"
    ]
    # No CloudFormation, IAM or SageMaker rights of its own: the CLI works as the bootstrap roles.
    assert services == {"codebuild", "codepipeline", "kms", "logs", "s3", "sts"}
    assert not any(statement.allows("iam:PassRole") for statement in statements)


def run_build(template: dict[str, Any], tmp_path: Path, *, running: str, current: str) -> str:
    """The stage's build commands with stand-ins: ``npx`` records the deploy; ``aws`` answers the
    execution's pipeline version ``running`` and the pipeline's ``current`` one, and records calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    (bin_dir / "npx").write_text(f'#!/bin/bash\necho "npx $*" >> {calls}\n', encoding="utf-8")
    (bin_dir / "aws").write_text(
        "#!/bin/bash\n"
        f'echo "aws $*" >> {calls}\n'
        f'case "$2" in get-pipeline-execution) echo {running};; get-pipeline) echo {current};; esac\n',
        encoding="utf-8",
    )
    for tool in ("npx", "aws"):
        (bin_dir / tool).chmod(0o755)
    commands = build_spec(template)["phases"]["build"]["commands"]
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "CODEBUILD_SRC_DIR": str(tmp_path),
        "CODEBUILD_INITIATOR": "codepipeline/Mlops-demand-us-Pipeline-MlPipeline-ABC123",
        "PIPELINE_EXECUTION_ID": "11111111-2222-3333-4444-555555555555",
    }
    subprocess.run(["bash", "-e", "-c", "\n".join(commands)], env=environment, check=True, timeout=60)
    return calls.read_text(encoding="utf-8")


def test_execution_stops_when_the_deploy_changed_the_pipeline(templates, tmp_path) -> None:
    calls = run_build(templates[MODEL], tmp_path, running="3", current="4")

    assert calls.splitlines()[-1] == (
        "aws codepipeline stop-pipeline-execution --pipeline-name Mlops-demand-us-Pipeline-MlPipeline-ABC123 "
        "--pipeline-execution-id 11111111-2222-3333-4444-555555555555 --reason superseded by its own update "
        "(version 4)"
    )
    assert "--abandon" not in calls  # the action finishes; no later stage runs on the old definition


def test_execution_continues_when_the_pipeline_is_unchanged(templates, tmp_path) -> None:
    calls = run_build(templates[MODEL], tmp_path, running="3", current="3")

    assert "npx cdk deploy Mlops-demand-us-* --exclusively -c models=demand-us" in calls
    assert "stop-pipeline-execution" not in calls


def test_self_update_from_python_overrides_the_config(tmp_path: Path) -> None:
    from cdk_mlops.config import load_model_config
    from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
    from cdk_mlops_testing import BUCKET_ARN, KEY_ARN

    stack = ModelPipelineStack(
        cdk.App(builtin_cloud_formation_validation=False),
        "Mlops-churn-xgb-Pipeline",
        model=load_model_config(MODELS_DIR / "churn-xgb" / "model.yaml"),
        artifact_bucket_arn=BUCKET_ARN,
        encryption_key_arn=KEY_ARN,
        staging_stack_name="Mlops-churn-xgb-Staging",
        production_stack_name="Mlops-churn-xgb-Production",
        self_update=True,
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )

    assert stack.pipeline.self_update is not None
    assert [s["Name"] for s in pipeline(Template.from_stack(stack).to_json())["Stages"]][1] == "UpdatePipeline"
