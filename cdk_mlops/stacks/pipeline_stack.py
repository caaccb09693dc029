"""One model's deployment pipeline and workflows."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_mlops.config.model_config import ModelConfig
from cdk_mlops.constructs.ml_pipeline import MlPipeline, MlPipelineBase


class ModelPipelineStack(Stack):
    """The pipeline of one model (``pipeline``, an instance of ``pipeline_class``, default
    ``MlPipeline``), deploying to the endpoint stacks named ``staging_stack_name`` and
    ``production_stack_name``. Shared resources come in as ARNs of the platform stack's exports and are
    imported here, so grants land in this stack's IAM policies and never in the platform's key policy
    (which would make the platform depend on every model)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model: ModelConfig,
        artifact_bucket_arn: str,
        encryption_key_arn: str,
        staging_stack_name: str,
        production_stack_name: str,
        pipeline_class: type[MlPipelineBase] = MlPipeline,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        key = kms.Key.from_key_arn(self, "PlatformKey", encryption_key_arn)
        bucket = s3.Bucket.from_bucket_attributes(
            self, "ArtifactBucket", bucket_arn=artifact_bucket_arn, encryption_key=key
        )
        self.pipeline = pipeline_class(
            self,
            "MlPipeline",
            model=model,
            artifact_bucket=bucket,
            encryption_key=key,
            staging_stack_name=staging_stack_name,
            production_stack_name=production_stack_name,
        )
