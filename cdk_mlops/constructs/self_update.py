"""The opt-in ``UpdatePipeline`` stage (``pipeline.self_update: true``): a push applies ``model.yaml``.

Modelled on CDK Pipelines' self-mutation (aws-cdk-lib ``pipelines/lib/codepipeline/codepipeline.ts``,
``selfMutateAction``): one CodeBuild project, right after Source, runs the CDK CLI on the pushed commit
and deploys through the bootstrap roles, and the pipeline restarts on its new definition
(``RestartExecutionOnUpdate``). Differences, on purpose:

- it synthesizes the platform app for this model only (``-c models=<name>``) and deploys only this
  model's stacks (``"Mlops-<name>-*" --exclusively``: never the shared ``Mlops-Platform`` stacks);
- its role may assume only the named ``deploy``, ``file-publishing`` and ``lookup`` bootstrap roles of
  the environments this model's stacks live in (CDK Pipelines allows any role of the account tagged
  ``aws-cdk:bootstrap-role``; we require both the name and the tag);
- when the deploy changed the pipeline itself (its version is newer than the one this execution runs
  on), it stops this execution once the action ends (``StopPipelineExecution`` without abandon), so
  the old definition never trains; ``RestartExecutionOnUpdate`` has CodePipeline start a new execution
  of the same commit on the new definition (queued behind this one, which stops).

Endpoint stacks keep their ``ModelPackageArn``: the CDK CLI passes ``UsePreviousValue: true`` for every
parameter of an existing stack not given with ``--parameters`` (``--previous-parameters``, default
true; toolkit-lib ``TemplateParameters.updateExisting``).

It assumes the monorepo layout of the example app: the pushed repository holds the platform app
(``app.py``, ``cdk.json``, ``package.json`` with the ``aws-cdk`` CLI, ``requirements.txt`` or a
``pyproject.toml``) in ``app_path`` and the models below it; the stage installs the app into
``.venv`` there, where this repository's ``cdk.json`` runs it (``.venv/bin/python app.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_mlops.constructs.compliance import Justification, allow_key, justify_wildcards

#: The default CDK bootstrap qualifier (``cdk bootstrap`` without ``--qualifier``).
BOOTSTRAP_QUALIFIER = "hnb659fds"
#: The bootstrap roles the CLI assumes to deploy, upload file assets and look up context.
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "lookup")
STAGE_NAME = "UpdatePipeline"


def self_update_build_spec(model_name: str, app_path: str, models_dir: str | None = None) -> dict[str, Any]:
    """Install the platform app and the CLI, deploy ``Mlops-<model>-*`` for this model only (reading the
    model files of ``models_dir``, relative to the app, when given: ``-c models_dir=...``), then stop
    this execution if the pipeline's definition changed (CodePipeline restarts it on the new one)."""
    folder = app_path.strip("/") or "."
    models = f" -c models_dir={models_dir}" if models_dir else ""
    pipeline = '"${CODEBUILD_INITIATOR#codepipeline/}"'
    execution = '"$PIPELINE_EXECUTION_ID"'
    return {
        "version": "0.2",
        "env": {"shell": "bash", "variables": {"CDK_DISABLE_CLI_TELEMETRY": "true"}},
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.12", "nodejs": "20"},
                "commands": [
                    f"cd {folder}",
                    # The app's own environment, where its cdk.json looks (.venv/bin/python app.py here).
                    "python -m venv .venv",
                    "if [ -f requirements.txt ]; then .venv/bin/pip install -r requirements.txt; "
                    "else .venv/bin/pip install .; fi",
                    "npm ci",
                ],
            },
            "build": {
                "commands": [
                    f"cd $CODEBUILD_SRC_DIR/{folder}",
                    f"running=$(aws codepipeline get-pipeline-execution --pipeline-name {pipeline} "
                    f"--pipeline-execution-id {execution} --query pipelineExecution.pipelineVersion --output text)",
                    f'npx cdk deploy "Mlops-{model_name}-*" --exclusively -c models={model_name}{models} '
                    "--require-approval never --progress events",
                    f"current=$(aws codepipeline get-pipeline --name {pipeline} "
                    "--query pipeline.version --output text)",
                    f'if [ "$current" != "$running" ]; then echo "pipeline updated (version $running -> $current): '
                    'this execution stops; CodePipeline restarts the commit on the new definition"; '
                    f"aws codepipeline stop-pipeline-execution --pipeline-name {pipeline} "
                    f"--pipeline-execution-id {execution} "
                    '--reason "superseded by its own update (version $current)"; fi',
                ],
            },
        },
    }


class SelfUpdate(Construct):
    """The CodeBuild project (``project``) of the ``UpdatePipeline`` stage of ``model_name``'s pipeline.

    ``environments``: the ``(account, region)`` pairs this model's stacks are deployed to (the
    pipeline's first); its role may assume the ``deploy``, ``file-publishing`` and ``lookup`` bootstrap
    roles (qualifier ``hnb659fds``) of those only, and read, stop and describe executions of
    ``pipeline`` (``bind``). ``app_path``: the platform app's folder in the repository (default the
    root); ``models_dir``: the folder of model files the app reads, relative to it (default: the app's
    own default, ``models/``). Defaults: standard Linux image 7.0, SMALL compute, 60 minute timeout, logs encrypted with
    ``encryption_key`` and kept a year."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        encryption_key: kms.IKey,
        environments: Sequence[tuple[str, str]],
        app_path: str = "",
        models_dir: str | None = None,
        timeout: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.model_name = model_name
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.project = codebuild.PipelineProject(
            self,
            "Resource",
            description=f"Deploys the stacks of model {model_name} from the pushed commit (self-update)",
            build_spec=codebuild.BuildSpec.from_object_to_yaml(
                self_update_build_spec(model_name, app_path, models_dir)
            ),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=False,
            ),
            encryption_key=encryption_key,
            timeout=timeout or Duration.minutes(60),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
        )
        allow_key(self.project, encryption_key)
        stack = Stack.of(self)
        roles = [
            stack.format_arn(
                service="iam",
                region="",
                account=account,
                resource="role",
                resource_name=f"cdk-{BOOTSTRAP_QUALIFIER}-{role}-role-{account}-{region}",
            )
            for account, region in dict.fromkeys(environments)
            for role in BOOTSTRAP_ROLES
        ]
        self.project.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=roles,
                conditions={
                    "ForAnyValue:StringEquals": {"iam:ResourceTag/aws-cdk:bootstrap-role": list(BOOTSTRAP_ROLES)}
                },
            )
        )
        justify_wildcards(
            self,
            [
                Justification(
                    "Resource::arn:<AWS::Partition>:logs:*:*:log-group:/aws/codebuild/<*>:*",
                    "CodeBuild's default log group of this project (log streams are named per build).",
                ),
                Justification(
                    "Resource::arn:<AWS::Partition>:codebuild:*:*:report-group/<*>-*",
                    "Test report groups CodeBuild creates for this project, named after it.",
                ),
            ],
        )

    def bind(self, pipeline: codepipeline.IPipeline) -> None:
        """Lets the build read ``pipeline``'s version and stop the execution it runs in."""
        self.project.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "codepipeline:GetPipeline",
                    "codepipeline:GetPipelineExecution",
                    "codepipeline:StopPipelineExecution",
                ],
                resources=[pipeline.pipeline_arn],
            )
        )

    def action(self, source_output: codepipeline.Artifact, execution_id: str) -> actions.CodeBuildAction:
        """The stage's one action, on the pushed commit."""
        return actions.CodeBuildAction(
            action_name="SelfUpdate",
            project=self.project,
            input=source_output,
            environment_variables={"PIPELINE_EXECUTION_ID": codebuild.BuildEnvironmentVariable(value=execution_id)},
        )
