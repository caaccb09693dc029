"""Stateful resources: the platform's KMS key and buckets and each model's package group survive stack
deletion, and their logical IDs are pinned so that a refactor cannot replace them (a new logical ID
means CloudFormation creates a new key/bucket/group and orphans the data of the old one)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from cdk_mlops_testing import resources

KEY_ID = "Key961B73FD"
ARTIFACT_BUCKET_ID = "Artifacts82DD59A1"
ACCESS_LOGS_BUCKET_ID = "AccessLogs8B620ECA"
MODEL_PACKAGE_GROUP_ID = "MlPipelineModelPackageGroup546B40B4"


@pytest.fixture(scope="module")
def platform(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-Platform"]


def test_stateful_platform_logical_ids_are_pinned(platform) -> None:
    assert set(resources(platform, "AWS::KMS::Key")) == {KEY_ID}
    assert set(resources(platform, "AWS::S3::Bucket")) == {ARTIFACT_BUCKET_ID, ACCESS_LOGS_BUCKET_ID}


@pytest.mark.parametrize(
    ("stack", "name"), [("Mlops-churn-xgb-Pipeline", "churn-xgb"), ("Mlops-iris-sklearn-Pipeline", "iris-sklearn")]
)
def test_model_package_group_logical_id_is_pinned(example_app, stack: str, name: str) -> None:
    groups = resources(example_app.json[stack], "AWS::SageMaker::ModelPackageGroup")

    assert set(groups) == {MODEL_PACKAGE_GROUP_ID}
    assert groups[MODEL_PACKAGE_GROUP_ID]["Properties"]["ModelPackageGroupName"] == name


def test_kms_key_rotates_yearly_and_is_retained(example_app) -> None:
    example_app.templates["Mlops-Platform"].has_resource(
        "AWS::KMS::Key",
        {
            "Properties": Match.object_like({"EnableKeyRotation": True}),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_artifact_bucket_is_versioned_kms_encrypted_private_logged_and_retained(platform) -> None:
    bucket = platform["Resources"][ARTIFACT_BUCKET_ID]
    properties = bucket["Properties"]

    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": {"Fn::GetAtt": [KEY_ID, "Arn"]},
                },
            }
        ]
    }
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": ACCESS_LOGS_BUCKET_ID},
        "LogFilePrefix": "artifacts/",
    }


def test_artifact_bucket_expires_old_object_versions_after_90_days(platform) -> None:
    rules = platform["Resources"][ARTIFACT_BUCKET_ID]["Properties"]["LifecycleConfiguration"]["Rules"]

    assert rules == [{"NoncurrentVersionExpiration": {"NoncurrentDays": 90}, "Status": "Enabled"}]


@pytest.mark.parametrize("bucket_id", [ARTIFACT_BUCKET_ID, ACCESS_LOGS_BUCKET_ID])
def test_bucket_policy_denies_every_request_without_tls(platform, bucket_id: str) -> None:
    (policy,) = [
        policy
        for policy in resources(platform, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]

    assert {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [
            {"Fn::GetAtt": [bucket_id, "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
        ],
    } in policy["Properties"]["PolicyDocument"]["Statement"]


def test_access_logs_bucket_is_private_versioned_and_retained(platform) -> None:
    bucket = platform["Resources"][ACCESS_LOGS_BUCKET_ID]

    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]


@pytest.mark.parametrize("stack", ["Mlops-churn-xgb-Pipeline", "Mlops-iris-sklearn-Pipeline"])
def test_model_package_group_is_retained(example_app, stack: str) -> None:
    group = example_app.json[stack]["Resources"][MODEL_PACKAGE_GROUP_ID]

    assert group["DeletionPolicy"] == "Retain"
    assert group["UpdateReplacePolicy"] == "Retain"


def test_platform_exports_the_key_and_bucket_arns_the_model_stacks_import(platform, example_app) -> None:
    exports = {
        output["Export"]["Name"]: output["Value"] for output in platform["Outputs"].values() if "Export" in output
    }

    assert exports == {
        "Mlops-Platform:ExportsOutputFnGetAttKey961B73FDArn5A860C43": {"Fn::GetAtt": [KEY_ID, "Arn"]},
        "Mlops-Platform:ExportsOutputFnGetAttArtifacts82DD59A1Arn3B515032": {"Fn::GetAtt": [ARTIFACT_BUCKET_ID, "Arn"]},
    }


def test_platform_names_its_bucket_and_key_in_outputs_for_deploy_workflows_of_other_regions(platform) -> None:
    outputs = {name: output for name, output in platform["Outputs"].items() if "Export" not in output}

    assert {name: output["Value"] for name, output in outputs.items()} == {
        "ArtifactBucketName": {"Ref": ARTIFACT_BUCKET_ID},
        "EncryptionKeyArn": {"Fn::GetAtt": [KEY_ID, "Arn"]},
    }
