"""The IAM role SageMaker jobs and models run as, with only what one model needs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_mlops.constructs.compliance import (
    KEY_DECRYPT,
    KEY_ENCRYPT_DECRYPT,
    Justification,
    allow_key,
    allow_objects,
    justify_wildcards,
)

ECR_IMAGE_PATTERN = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repository>[^:@]+)"
)


def ecr_repository_arn(scope: Construct, image_uri: str) -> str | None:
    """The ARN of the ECR repository an image URI points at, or None for images outside ECR."""
    match = ECR_IMAGE_PATTERN.match(image_uri)
    if match is None:
        return None
    return Stack.of(scope).format_arn(
        service="ecr",
        account=match["account"],
        region=match["region"],
        resource="repository",
        resource_name=match["repository"],
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


class SageMakerExecutionRole(Construct):
    """A role for SageMaker training and processing jobs (and hosted models) of one model.

    Grants: read on the data prefix; read/write on ``<model>/*`` in the artifact bucket; use of the KMS
    key; pull of the given ECR images; writing SageMaker's own log groups and metric namespaces.
    ``role`` is the created ``iam.Role``. ``read_only=True`` (for hosting) drops all writes to S3.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        image_uris: Sequence[str],
        data_bucket: s3.IBucket | None = None,
        data_prefix: str | None = None,
        read_only: bool = False,
        vpc_access: bool = False,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Resource",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker jobs and models of {model_name}",
        )
        allow_objects(self.role, artifact_bucket, f"{model_name}/", write=not read_only, list_prefix=not read_only)
        allow_key(self.role, encryption_key, KEY_DECRYPT if read_only else KEY_ENCRYPT_DECRYPT)
        if data_bucket is not None and data_prefix is not None:
            allow_objects(self.role, data_bucket, data_prefix, list_prefix=True)
        repositories = sorted({arn for uri in image_uris if (arn := ecr_repository_arn(self, uri)) is not None})
        if repositories:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                    resources=repositories,
                )
            )
            # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
            self.role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/sagemaker/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        # PutMetricData has no resource-level permissions; the namespace condition scopes it.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
            )
        )
        if vpc_access:
            # SageMaker creates and removes the jobs' network interfaces in the caller's VPC; these EC2
            # actions have no resource-level scoping for that use.
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:CreateNetworkInterfacePermission",
                        "ec2:DeleteNetworkInterface",
                        "ec2:DeleteNetworkInterfacePermission",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeVpcs",
                        "ec2:DescribeDhcpOptions",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeSecurityGroups",
                    ],
                    resources=["*"],
                )
            )
        justify_wildcards(
            self,
            [
                Justification(
                    f"Resource::{{bucket}}/{model_name}/*",
                    f"Jobs of model {model_name} read and write only under its own prefix of the artifact bucket; "
                    "object keys are generated per run.",
                ),
                Justification(
                    f"Resource::{{data}}/{data_prefix or ''}*",
                    f"Training data of {model_name} lives under this prefix; file names are the data owner's.",
                ),
                Justification(
                    "Resource::arn:<AWS::Partition>:logs:*:log-group:/aws/sagemaker/*",
                    "SageMaker writes job and endpoint logs to log groups it names under /aws/sagemaker/.",
                ),
                Justification(
                    "Resource::*",
                    "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permissions "
                    "(PutMetricData is limited to the /aws/sagemaker/* namespaces by condition); in a VPC, the "
                    "network-interface actions SageMaker performs for the jobs cannot be scoped either.",
                ),
            ],
            values={"bucket": artifact_bucket.bucket_arn, "data": (data_bucket or artifact_bucket).bucket_arn},
        )
