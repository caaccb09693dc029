"""Where a model's code comes from, as a CodePipeline source action plus its push trigger."""

from __future__ import annotations

import dataclasses

from aws_cdk import Annotations, RemovalPolicy, Stack, Token
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_mlops.config.model_config import SourceConfig, SourceProvider

SOURCE_VARIABLES = "SourceVariables"


@dataclasses.dataclass(frozen=True)
class BoundSource:
    """A source action ready for the pipeline, and the V2 trigger that filters pushes (if any)."""

    action: codepipeline.IAction
    trigger: codepipeline.TriggerProps | None
    revision_variable: str


def _warn_of_connection_region(scope: Construct, connection_arn: str) -> None:
    """A synthesis warning when the connection is in another region than the pipeline: a pipeline's
    source actions run in its own region (CodePipeline enforces it), and a connection is a resource of
    the region it was created in; create one in the pipeline's region."""
    region = Stack.of(scope).region
    connection_region = connection_arn.split(":")[3]
    if not Token.is_unresolved(region) and connection_region != region:
        Annotations.of(scope).add_warning_v2(
            "cdk-mlops:connection-region",
            f"source.connection_arn is a connection in {connection_region}, but this pipeline is in {region}: "
            f"create the CodeConnections connection in {region} (or deploy the pipeline to {connection_region}, "
            f"CDK_DEFAULT_REGION={connection_region}) (got {connection_arn!r})",
        )


def bind_source(scope: Construct, settings: SourceConfig, output: codepipeline.Artifact) -> BoundSource:
    """Creates the source action for ``settings``.

    CodeConnections (GitHub, GitLab, Bitbucket): a push to ``branch`` touching ``path/**`` (or anything,
    without ``path``) starts the pipeline through a CodePipeline V2 trigger. CodeCommit: the repository
    is created when ``create_repository`` is true (retained on delete), else imported by name; pushes
    to ``branch`` start the pipeline through EventBridge. S3: a new version of ``object_key`` starts it
    (EventBridge, which needs a CloudTrail trail logging the bucket's data events).
    """
    if settings.provider is SourceProvider.CODECONNECTIONS:
        assert settings.connection_arn and settings.repository  # guaranteed by SourceConfig
        _warn_of_connection_region(scope, settings.connection_arn)
        owner, repo = settings.repository.split("/", 1)
        connection_action = actions.CodeStarConnectionsSourceAction(
            action_name="Source",
            connection_arn=settings.connection_arn,
            owner=owner,
            repo=repo,
            branch=settings.branch,
            output=output,
            trigger_on_push=False,
            variables_namespace=SOURCE_VARIABLES,
        )
        push_filter = codepipeline.GitPushFilter(
            branches_includes=[settings.branch],
            file_paths_includes=[f"{settings.path.strip('/')}/**"] if settings.path else None,
        )
        trigger = codepipeline.TriggerProps(
            provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
            git_configuration=codepipeline.GitConfiguration(source_action=connection_action, push_filter=[push_filter]),
        )
        return BoundSource(connection_action, trigger, f"#{{{SOURCE_VARIABLES}.CommitId}}")
    if settings.provider is SourceProvider.CODECOMMIT:
        assert settings.repository
        repository: codecommit.IRepository
        if settings.create_repository:
            created = codecommit.Repository(scope, "Repository", repository_name=settings.repository)
            created.apply_removal_policy(RemovalPolicy.RETAIN)
            repository = created
        else:
            repository = codecommit.Repository.from_repository_name(scope, "Repository", settings.repository)
        commit_action = actions.CodeCommitSourceAction(
            action_name="Source",
            repository=repository,
            branch=settings.branch,
            output=output,
            variables_namespace=SOURCE_VARIABLES,
        )
        return BoundSource(commit_action, None, f"#{{{SOURCE_VARIABLES}.CommitId}}")
    assert settings.bucket and settings.object_key
    bucket = s3.Bucket.from_bucket_name(scope, "SourceBucket", settings.bucket)
    s3_action = actions.S3SourceAction(
        action_name="Source",
        bucket=bucket,
        bucket_key=settings.object_key,
        output=output,
        trigger=actions.S3Trigger.EVENTS,
        variables_namespace=SOURCE_VARIABLES,
    )
    return BoundSource(s3_action, None, f"#{{{SOURCE_VARIABLES}.VersionId}}")
