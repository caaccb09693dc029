"""The CodeBuild project (``ModelBuildProject``) that runs the model author's tests and packages the
code, read from the churn-xgb pipeline stack of the example app."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Match, Template

from cdk_mlops_testing import BUCKET_EXPORT, BUCKET_NAME, KEY, KEY_EXPORT, construct_resource, render, role_statements

MODEL_DIR = "models/churn-xgb"
DESTINATION = f"s3://{BUCKET_NAME}/churn-xgb/source/$PIPELINE_EXECUTION_ID"


@pytest.fixture(scope="module")
def template(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-churn-xgb-Pipeline"]


@pytest.fixture(scope="module")
def project(template) -> tuple[str, dict[str, Any]]:
    return construct_resource(template, "AWS::CodeBuild::Project", "MlPipelineBuild")


@pytest.fixture(scope="module")
def build_spec(project) -> dict[str, Any]:
    """The buildspec, tokens replaced by ``${...}`` placeholders."""
    return yaml.safe_load(render(project[1]["Properties"]["Source"]["BuildSpec"]))


def test_project_encrypts_artifacts_with_the_platform_key_and_caches_locally(example_app) -> None:
    example_app.templates["Mlops-churn-xgb-Pipeline"].has_resource_properties(
        "AWS::CodeBuild::Project",
        {
            "EncryptionKey": {"Fn::ImportValue": KEY_EXPORT},
            "Cache": {"Type": "LOCAL", "Modes": ["LOCAL_CUSTOM_CACHE"]},
            "Environment": Match.object_like(
                {
                    "Image": "aws/codebuild/standard:7.0",
                    "ComputeType": "BUILD_GENERAL1_SMALL",
                    "PrivilegedMode": False,
                    "Type": "LINUX_CONTAINER",
                }
            ),
            "TimeoutInMinutes": 30,
            "Source": Match.object_like({"Type": "CODEPIPELINE"}),
        },
    )


def test_build_installs_requirements_and_runs_the_model_tests(build_spec) -> None:
    assert build_spec["version"] == "0.2"
    assert build_spec["phases"]["install"]["runtime-versions"] == {"python": "3.12"}
    assert build_spec["phases"]["install"]["commands"][0] == f"cd {MODEL_DIR}"
    assert (
        "if [ -f requirements.txt ]; then pip install -r requirements.txt; fi"
        in (build_spec["phases"]["install"]["commands"])
    )
    assert build_spec["phases"]["build"]["commands"] == [
        f"cd $CODEBUILD_SRC_DIR/{MODEL_DIR}",
        'if [ -d tests ]; then python -m pytest tests --junitxml="$CODEBUILD_SRC_DIR/test-report.xml"; '
        'else echo "no tests/ folder: nothing to test"; fi',
        "mkdir -p src && tar -czf sourcedir.tar.gz -C src .",
    ]
    assert build_spec["reports"] == {"model-tests": {"files": ["test-report.xml"], "file-format": "JUNITXML"}}


def test_build_uploads_sourcedir_tarball_and_sources_encrypted_only_after_passing_tests(build_spec) -> None:
    assert build_spec["phases"]["post_build"]["commands"] == [
        f"cd $CODEBUILD_SRC_DIR/{MODEL_DIR}",
        '[ "$CODEBUILD_BUILD_SUCCEEDING" = "1" ] || exit 1',
        f"aws s3 cp sourcedir.tar.gz {DESTINATION}/sourcedir.tar.gz --sse aws:kms --sse-kms-key-id {KEY}",
        f"aws s3 sync src {DESTINATION}/src/ --sse aws:kms --sse-kms-key-id {KEY}",
        # churn-xgb has a drift check, which runs the newest tested copy of src/
        f"aws s3 sync src s3://{BUCKET_NAME}/churn-xgb/source/latest/src/ --sse aws:kms --sse-kms-key-id {KEY}",
    ]


def test_build_logs_go_to_an_encrypted_log_group_kept_a_year(template, project) -> None:
    logs = project[1]["Properties"]["LogsConfig"]["CloudWatchLogs"]
    log_group = template["Resources"][logs["GroupName"]["Ref"]]

    assert logs["Status"] == "ENABLED"
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::ImportValue": KEY_EXPORT}
    assert log_group["Properties"]["RetentionInDays"] == 365
    assert log_group["DeletionPolicy"] == "Retain"


def test_build_role_writes_only_the_model_source_prefix(template, project) -> None:
    role_id = project[1]["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    writes = [s for s in role_statements(template, role_id) if s.allows("s3:PutObject")]

    assert len(writes) >= 1
    assert {render(resource) for statement in writes for resource in statement.resources} == {
        f"${{Import({BUCKET_EXPORT})}}/churn-xgb/source/*"
    }


def test_build_of_a_model_in_its_own_repository_runs_in_the_repository_root() -> None:
    from cdk_mlops.constructs.model_build_project import default_build_spec

    spec = default_build_spec("churn-xgb", "", "bucket", "arn:aws:kms:eu-west-1:123456789012:key/k")

    assert spec["phases"]["install"]["commands"][0] == "cd ."
    assert spec["phases"]["post_build"]["commands"][2] == (
        "aws s3 cp sourcedir.tar.gz s3://bucket/churn-xgb/source/$PIPELINE_EXECUTION_ID/sourcedir.tar.gz "
        "--sse aws:kms --sse-kms-key-id arn:aws:kms:eu-west-1:123456789012:key/k"
    )


def test_every_model_gets_its_own_build_project(example_app) -> None:
    for stack in ("Mlops-churn-xgb-Pipeline", "Mlops-iris-sklearn-Pipeline"):
        example_app.templates[stack].resource_count_is("AWS::CodeBuild::Project", 1)
    Template.from_json(example_app.json["Mlops-iris-sklearn-Pipeline"]).has_resource_properties(
        "AWS::CodeBuild::Project", {"Description": "Tests and packages model iris-sklearn"}
    )
