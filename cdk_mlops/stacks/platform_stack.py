"""Resources every model shares: one KMS key, the artifact bucket and its access-log bucket."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_mlops.constructs.regional_deploy import served_objects

#: The outputs naming the bucket and key, read by a deploy workflow replicating model data to this region.
BUCKET_OUTPUT = "ArtifactBucketName"
KEY_OUTPUT = "EncryptionKeyArn"


class PlatformStack(Stack):
    """The shared platform: ``encryption_key`` (customer managed, yearly rotation, retained), the
    ``artifact_bucket`` (KMS, versioned, TLS only, public access blocked, access logs, retained; old
    versions expire after 90 days) and ``access_logs_bucket`` (SSE-S3 as S3 server access logging
    requires, same guards). The key policy lets CloudWatch Logs, CloudWatch alarms and SNS use the key
    in this account; everything else is granted through IAM policies of the model stacks.

    One key and one bucket for all models: a KMS key costs 1 USD a month, and per-model S3 prefixes
    with prefix-scoped IAM keep models apart.

    ``model_readers`` (default none) maps other AWS accounts to the models whose production endpoints
    they host: the bucket policy lets each account ``s3:GetObject`` what its models' endpoints serve
    only (model data, ``<model>/runs/*/model/*``, and serving code, ``<model>/source/*/sourcedir.tar.gz``),
    and the key policy lets it ``kms:Decrypt`` through S3 in this region only. The account's own IAM
    policies (the endpoint stacks' hosting roles) must allow the same.

    Outputs ``ArtifactBucketName`` and ``EncryptionKeyArn``: a deploy workflow in another region finds
    the bucket it copies model data to through them (see ``RegionalRollout``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_readers: Mapping[str, Sequence[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        # S3 server access logging is granted to logging.s3.amazonaws.com in the access-log bucket's
        # policy, not with the legacy LogDeliveryWrite ACL (cfn-lint W3045), whatever the app's flags.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.encryption_key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description="cdk-mlops: artifacts, model data, training volumes, endpoints, logs, notifications",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogs",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlarmsAndPipelineNotifications",
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("codestar-notifications.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(30))
            ],
        )
        self.artifact_bucket = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="artifacts/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
        )
        for account, models in sorted((model_readers or {}).items()):
            self._grant_model_data_read(account, models)
        CfnOutput(self, BUCKET_OUTPUT, value=self.artifact_bucket.bucket_name, description="The artifact bucket")
        CfnOutput(self, KEY_OUTPUT, value=self.encryption_key.key_arn, description="The platform's KMS key")

    def _grant_model_data_read(self, account: str, models: Sequence[str]) -> None:
        principal = iam.AccountPrincipal(account)
        self.artifact_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"ModelDataReadBy{account}",
                principals=[principal],
                actions=["s3:GetObject"],
                resources=[
                    self.artifact_bucket.arn_for_objects(key)
                    for model in sorted(models)
                    for key in served_objects(model)
                ],
            )
        )
        self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"ModelDataDecryptBy{account}",
                principals=[principal],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            )
        )
