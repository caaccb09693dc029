"""The CodeBuild project that tests and packages a model's code."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_mlops.constructs.compliance import Justification, allow_key, allow_objects, justify_wildcards


def default_build_spec(
    model_name: str, model_path: str, bucket_name: str, key_arn: str, *, latest_copy: bool = False
) -> dict[str, Any]:
    """Install the model's requirements, run its tests (a failing test fails the build and stops the
    pipeline), then upload ``src/`` as-is and as ``sourcedir.tar.gz`` to
    ``s3://<bucket>/<model>/source/<pipeline execution id>/``. ``latest_copy`` also syncs ``src/`` to
    ``s3://<bucket>/<model>/source/latest/src/`` (what the scheduled drift check runs)."""
    folder = model_path.strip("/") or "."
    destination = f"s3://{bucket_name}/{model_name}/source/$PIPELINE_EXECUTION_ID"
    encryption = f"--sse aws:kms --sse-kms-key-id {key_arn}"
    latest = [f"aws s3 sync src s3://{bucket_name}/{model_name}/source/latest/src/ {encryption}"] if latest_copy else []
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.12"},
                "commands": [
                    f"cd {folder}",
                    "python -m pip install --upgrade pip",
                    "if [ -f requirements.txt ]; then pip install -r requirements.txt; fi",
                    "if [ -f requirements-dev.txt ]; then pip install -r requirements-dev.txt; fi",
                    "pip install pytest",
                ],
            },
            "build": {
                "commands": [
                    f"cd $CODEBUILD_SRC_DIR/{folder}",
                    'if [ -d tests ]; then python -m pytest tests --junitxml="$CODEBUILD_SRC_DIR/test-report.xml"; '
                    'else echo "no tests/ folder: nothing to test"; fi',
                    "mkdir -p src && tar -czf sourcedir.tar.gz -C src .",
                ],
            },
            "post_build": {
                "commands": [
                    f"cd $CODEBUILD_SRC_DIR/{folder}",
                    '[ "$CODEBUILD_BUILD_SUCCEEDING" = "1" ] || exit 1',
                    f"aws s3 cp sourcedir.tar.gz {destination}/sourcedir.tar.gz {encryption}",
                    f"aws s3 sync src {destination}/src/ {encryption}",
                    *latest,
                ],
            },
        },
        "reports": {"model-tests": {"files": ["test-report.xml"], "file-format": "JUNITXML"}},
        "cache": {"paths": ["/root/.cache/pip/**/*"]},
    }


class ModelBuildProject(Construct):
    """A CodeBuild project (``project``) that runs the model author's tests and packages the code.

    Defaults: the standard Linux image (``STANDARD_7_0``), SMALL compute, 30 minute timeout, local
    caching of pip downloads, artifacts and logs encrypted with ``encryption_key``, logs kept one year
    in ``log_group``. Its role may write only ``<model>/source/*`` in the artifact bucket.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        model_path: str,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        compute_type: codebuild.ComputeType = codebuild.ComputeType.SMALL,
        timeout: Duration | None = None,
        build_spec: dict[str, Any] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        spec = build_spec or default_build_spec(
            model_name, model_path, artifact_bucket.bucket_name, encryption_key.key_arn
        )
        self.project = codebuild.PipelineProject(
            self,
            "Resource",
            description=f"Tests and packages model {model_name}",
            build_spec=codebuild.BuildSpec.from_object_to_yaml(spec),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=compute_type,
                privileged=False,
            ),
            encryption_key=encryption_key,
            cache=codebuild.Cache.local(codebuild.LocalCacheMode.CUSTOM),
            timeout=timeout or Duration.minutes(30),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
        )
        allow_objects(self.project, artifact_bucket, f"{model_name}/source/", write=True, list_prefix=True)
        allow_key(self.project, encryption_key)
        justify_wildcards(
            self,
            [
                Justification(
                    f"Resource::{{bucket}}/{model_name}/source/*",
                    "The build uploads the packaged code of each pipeline run under the model's source/ prefix.",
                ),
                Justification(
                    "Resource::arn:<AWS::Partition>:logs:*:*:log-group:/aws/codebuild/<*>:*",
                    "CodeBuild's default log group of this project (log streams are named per build).",
                ),
                Justification(
                    "Resource::arn:<AWS::Partition>:codebuild:*:*:report-group/<*>-*",
                    "Test report groups CodeBuild creates for this project, named after it.",
                ),
            ],
            values={"bucket": artifact_bucket.bucket_arn},
        )
