"""Tests for the cross-region deploy Lambda (``lambda_src/regional_deploy/handler.py``), offline against moto.

The handler module is loaded from its file, as Lambda loads it from the asset directory, so the tests
also prove it needs nothing from ``lambda_src`` or ``cdk_mlops``. The Lambda "runs" in the pipeline's region
(eu-west-1) of the pipeline account (moto's default account); the target is eu-central-1, and the production
stack lives in another account that the handler reaches by assuming a role with moto's STS.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from moto.cloudformation.models import cloudformation_backends
from moto.core import DEFAULT_ACCOUNT_ID

from cdk_mlops.lambda_code import load_handler
from cdk_mlops_testing import offline_aws

# Not moto's default region: proves the handler takes its own region from the environment.
PIPELINE_REGION = "eu-west-1"
TARGET_REGION = "eu-central-1"
PIPELINE_ACCOUNT = DEFAULT_ACCOUNT_ID
TARGET_ACCOUNT = "222222222222"

SOURCE_BUCKET = f"mlops-artifacts-{PIPELINE_ACCOUNT}-{PIPELINE_REGION}"
REPLICA_BUCKET = f"mlops-artifacts-{PIPELINE_ACCOUNT}-{TARGET_REGION}"
REPLICA_STACK = f"Mlops-Platform-{TARGET_REGION}"
MODEL_KEY = "churn/runs/exec-1/model/model.tar.gz"
SOURCE_DIR_KEY = "churn/source/p-1/sourcedir.tar.gz"

PRODUCTION_STACK = "Mlops-churn-Production"
DEPLOY_ROLE = f"arn:aws:iam::{TARGET_ACCOUNT}:role/cdk-hnb659fds-deploy-role-{TARGET_ACCOUNT}-{TARGET_REGION}"
CFN_EXEC_ROLE = f"arn:aws:iam::{TARGET_ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{TARGET_ACCOUNT}-{TARGET_REGION}"
OLD_MODEL_PACKAGE = f"arn:aws:sagemaker:{PIPELINE_REGION}:{PIPELINE_ACCOUNT}:model-package/churn/3"
NEW_MODEL_PACKAGE = f"arn:aws:sagemaker:{PIPELINE_REGION}:{PIPELINE_ACCOUNT}:model-package/churn/4"
MIB = 1024 * 1024

# moto has no model for this resource type; it still creates the stack and its literal outputs.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.+WaitConditionHandle:UserWarning")


regional = load_handler("regional_deploy", "regional_deploy_handler_under_test")


# --------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region, fresh moto backends, and no clients cached from another test."""
    with offline_aws(monkeypatch, PIPELINE_REGION, regional):
        yield


def _stand_in_template(parameters: dict[str, str], outputs: dict[str, Any]) -> str:
    """A stack with String parameters (name -> default), one placeholder resource and the given outputs."""
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {name: {"Type": "String", "Default": default} for name, default in parameters.items()},
            "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )


def _target_account_session() -> boto3.Session:
    """Credentials of the target account, from moto's STS (moto keys its backends by the caller's account)."""
    credentials = boto3.client("sts", region_name=PIPELINE_REGION).assume_role(
        RoleArn=f"arn:aws:iam::{TARGET_ACCOUNT}:role/test-setup", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _create_bucket(name: str, region: str) -> None:
    boto3.client("s3", region_name=region).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
    )


def _put_sources(contents: dict[str, bytes]) -> None:
    """The pipeline's artifact bucket in the Lambda's region, holding ``contents`` (key -> bytes)."""
    _create_bucket(SOURCE_BUCKET, PIPELINE_REGION)
    s3 = boto3.client("s3", region_name=PIPELINE_REGION)
    for key, body in contents.items():
        s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=body)


def _create_replica(
    outputs: tuple[str, ...] = ("ArtifactBucketName", "EncryptionKeyArn"), region: str = TARGET_REGION
) -> str:
    """The replica bucket and KMS key in ``region`` and the replica stack whose outputs name them (via Ref of
    parameters, so moto resolves them). Returns the key ARN."""
    _create_bucket(REPLICA_BUCKET, region)
    key_arn = str(boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"])
    references = {"ArtifactBucketName": {"Ref": "BucketName"}, "EncryptionKeyArn": {"Ref": "KeyArn"}}
    boto3.client("cloudformation", region_name=region).create_stack(
        StackName=REPLICA_STACK,
        TemplateBody=_stand_in_template({"BucketName": "", "KeyArn": ""}, {name: references[name] for name in outputs}),
        Parameters=[
            {"ParameterKey": "BucketName", "ParameterValue": REPLICA_BUCKET},
            {"ParameterKey": "KeyArn", "ParameterValue": key_arn},
        ],
    )
    return key_arn


def _create_production_stack(session: boto3.Session | None = None) -> Any:
    """The production endpoint stand-in in the target region (of the target account by default). Returns the
    CloudFormation client it was created with."""
    client = (session or _target_account_session()).client("cloudformation", region_name=TARGET_REGION)
    client.create_stack(
        StackName=PRODUCTION_STACK,
        TemplateBody=_stand_in_template(
            {"ModelPackageArn": "", "BootstrapVersion": "20"}, {"ModelPackageArn": {"Ref": "ModelPackageArn"}}
        ),
        Parameters=[
            {"ParameterKey": "ModelPackageArn", "ParameterValue": OLD_MODEL_PACKAGE},
            {"ParameterKey": "BootstrapVersion", "ParameterValue": "21"},
        ],
        RoleARN=CFN_EXEC_ROLE,
    )
    return client


def _set_stack_status(account: str, region: str, stack_name: str, status: str, reason: str | None = None) -> None:
    """moto completes stacks at once and has no API to change their status: edit its backend."""
    backend = cloudformation_backends[account][region]
    (stack,) = [stack for stack in backend.stacks.values() if stack.name == stack_name]
    stack.status = status
    if reason is not None:
        # moto's Stack has no such attribute, but its serializer reads ``status_reason`` for StackStatusReason.
        stack.status_reason = reason  # type: ignore[attr-defined]


def _record_params(client: Any, service: str, operation: str) -> list[dict[str, Any]]:
    """Capture the parameters of every ``operation`` call ``client`` makes."""
    calls: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    client.meta.events.register(f"provide-client-params.{service}.{operation}", capture)
    return calls


def _record_assumed_role_calls(monkeypatch: pytest.MonkeyPatch, operation: str) -> list[dict[str, Any]]:
    """Capture the parameters of CloudFormation ``operation`` calls made with assumed-role clients."""
    calls: list[dict[str, Any]] = []
    original = regional.assumed_role_client

    def capture(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    def recording_client(service: str, target: Any) -> Any:
        client = original(service, target)
        client.meta.events.register(f"provide-client-params.{service}.{operation}", capture)
        return client

    monkeypatch.setattr(regional, "assumed_role_client", recording_client)
    return calls


def _replicate_event(**overrides: Any) -> dict[str, Any]:
    """A valid ReplicateModel event; an override of ``None`` removes that field."""
    event: dict[str, Any] = {
        "Action": "ReplicateModel",
        "Region": TARGET_REGION,
        "ReplicaStackName": REPLICA_STACK,
        "Objects": {
            "ModelDataUrl": f"s3://{SOURCE_BUCKET}/{MODEL_KEY}",
            "SourceDirUrl": f"s3://{SOURCE_BUCKET}/{SOURCE_DIR_KEY}",
        },
    }
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


def _update_event(**overrides: Any) -> dict[str, Any]:
    """A valid UpdateStack event; an override of ``None`` removes that field."""
    event: dict[str, Any] = {
        "Action": "UpdateStack",
        "Region": TARGET_REGION,
        "RoleArn": DEPLOY_ROLE,
        "StackName": PRODUCTION_STACK,
        "Parameters": [
            {"ParameterKey": "ModelPackageArn", "ParameterValue": NEW_MODEL_PACKAGE},
            {"ParameterKey": "BootstrapVersion", "UsePreviousValue": True},
        ],
        "CloudFormationRoleArn": CFN_EXEC_ROLE,
        "ClientRequestToken": "exec-name",
    }
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


def _describe_event(**overrides: Any) -> dict[str, Any]:
    """A valid DescribeStack event; an override of ``None`` removes that field."""
    event: dict[str, Any] = {
        "Action": "DescribeStack",
        "Region": TARGET_REGION,
        "RoleArn": DEPLOY_ROLE,
        "StackName": PRODUCTION_STACK,
    }
    event.update(overrides)
    return {key: value for key, value in event.items() if value is not None}


# --------------------------------------------------------------------------------------------------------
# ReplicateModel
# --------------------------------------------------------------------------------------------------------


def test_replicate_model_copies_each_object_to_the_same_key_in_the_replica_bucket(aws: None) -> None:
    model, source_dir = b"model weights \x00\x01" * 100, b"inference.py contents"
    _put_sources({MODEL_KEY: model, SOURCE_DIR_KEY: source_dir})
    _create_replica()

    regional.handler(_replicate_event(), None)

    target = boto3.client("s3", region_name=TARGET_REGION)
    assert target.get_bucket_location(Bucket=REPLICA_BUCKET)["LocationConstraint"] == TARGET_REGION
    assert target.get_object(Bucket=REPLICA_BUCKET, Key=MODEL_KEY)["Body"].read() == model
    assert target.get_object(Bucket=REPLICA_BUCKET, Key=SOURCE_DIR_KEY)["Body"].read() == source_dir
    replica_keys = [item["Key"] for item in target.list_objects_v2(Bucket=REPLICA_BUCKET)["Contents"]]
    assert sorted(replica_keys) == sorted([MODEL_KEY, SOURCE_DIR_KEY])


def test_replicated_objects_are_encrypted_with_the_replica_key(aws: None) -> None:
    _put_sources({MODEL_KEY: b"model", SOURCE_DIR_KEY: b"code"})
    key_arn = _create_replica()

    regional.handler(_replicate_event(), None)

    target = boto3.client("s3", region_name=TARGET_REGION)
    for key in (MODEL_KEY, SOURCE_DIR_KEY):
        head = target.head_object(Bucket=REPLICA_BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn


def test_replicate_model_returns_bucket_key_and_one_url_per_object(aws: None) -> None:
    _put_sources({MODEL_KEY: b"model", SOURCE_DIR_KEY: b"code", "churn/baseline/statistics.json": b"{}"})
    key_arn = _create_replica()
    objects = {
        "ModelDataUrl": f"s3://{SOURCE_BUCKET}/{MODEL_KEY}",
        "SourceDirUrl": f"s3://{SOURCE_BUCKET}/{SOURCE_DIR_KEY}",
        "statistics": f"s3://{SOURCE_BUCKET}/churn/baseline/statistics.json",
    }

    result = regional.handler(_replicate_event(Objects=objects), None)

    assert result == {
        "Bucket": REPLICA_BUCKET,
        "KeyArn": key_arn,
        "ModelDataUrl": f"s3://{REPLICA_BUCKET}/{MODEL_KEY}",
        "SourceDirUrl": f"s3://{REPLICA_BUCKET}/{SOURCE_DIR_KEY}",
        "statistics": f"s3://{REPLICA_BUCKET}/churn/baseline/statistics.json",
    }


def test_large_objects_are_copied_in_parts_and_still_encrypted(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Real thresholds (64 MiB, and 5 GB for a single CopyObject) are too big for a unit test: lower the
    # handler's transfer threshold so a 6 MiB object takes the same multipart path a 6 GB model would.
    monkeypatch.setattr(
        regional, "TRANSFER_CONFIG", TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    )
    model = bytes(range(256)) * (6 * MIB // 256) + b"tail"
    _put_sources({MODEL_KEY: model})
    key_arn = _create_replica()
    part_copies = _record_params(regional.s3_client(TARGET_REGION), "s3", "UploadPartCopy")
    single_copies = _record_params(regional.s3_client(TARGET_REGION), "s3", "CopyObject")

    result = regional.handler(_replicate_event(Objects={"ModelDataUrl": f"s3://{SOURCE_BUCKET}/{MODEL_KEY}"}), None)

    assert result["ModelDataUrl"] == f"s3://{REPLICA_BUCKET}/{MODEL_KEY}"
    assert len(part_copies) == 2 and single_copies == []
    assert {call["CopySource"]["Bucket"] for call in part_copies} == {SOURCE_BUCKET}
    target = boto3.client("s3", region_name=TARGET_REGION)
    assert target.get_object(Bucket=REPLICA_BUCKET, Key=MODEL_KEY)["Body"].read() == model
    head = target.head_object(Bucket=REPLICA_BUCKET, Key=MODEL_KEY)
    assert head["ETag"].endswith('-2"')  # a multipart object of two parts
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)


def test_sources_are_read_in_the_lambdas_region_falling_back_to_aws_default_region(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    _put_sources({MODEL_KEY: b"model", SOURCE_DIR_KEY: b"code"})
    _create_replica()
    source_reads = _record_params(regional.s3_client(PIPELINE_REGION), "s3", "HeadObject")

    regional.handler(_replicate_event(), None)

    assert regional.s3_client(PIPELINE_REGION).meta.region_name == PIPELINE_REGION
    assert sorted(call["Key"] for call in source_reads) == sorted([MODEL_KEY, SOURCE_DIR_KEY])
    assert {call["Bucket"] for call in source_reads} == {SOURCE_BUCKET}


def test_replicate_model_names_the_stack_and_region_when_the_replica_stack_is_missing(aws: None) -> None:
    # The replica stack exists, but in the pipeline's region: the handler must look in the target region.
    _put_sources({MODEL_KEY: b"model", SOURCE_DIR_KEY: b"code"})
    _create_replica(region=PIPELINE_REGION)

    with pytest.raises(regional.ReplicaStackError) as raised:
        regional.handler(_replicate_event(), None)

    assert str(raised.value) == (
        "replica stack 'Mlops-Platform-eu-central-1' in region eu-central-1 does not exist; "
        "run `cdk deploy Mlops-Platform-eu-central-1` first "
        "(it creates the bucket and KMS key that models deployed to eu-central-1 are copied to)"
    )


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_FAILED"])
def test_replicate_model_rejects_a_replica_stack_that_is_not_usable(aws: None, status: str) -> None:
    _put_sources({MODEL_KEY: b"model", SOURCE_DIR_KEY: b"code"})
    _create_replica()
    _set_stack_status(PIPELINE_ACCOUNT, TARGET_REGION, REPLICA_STACK, status)

    with pytest.raises(regional.ReplicaStackError) as raised:
        regional.handler(_replicate_event(), None)

    message = str(raised.value)
    assert message.startswith(f"replica stack 'Mlops-Platform-eu-central-1' in region eu-central-1 is {status}, ")
    assert "run `cdk deploy Mlops-Platform-eu-central-1` first" in message
    assert "Contents" not in boto3.client("s3", region_name=TARGET_REGION).list_objects_v2(Bucket=REPLICA_BUCKET)


@pytest.mark.parametrize("status", ["UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"])
def test_replicate_model_accepts_a_replica_stack_that_was_updated_or_rolled_back(aws: None, status: str) -> None:
    _put_sources({MODEL_KEY: b"model", SOURCE_DIR_KEY: b"code"})
    _create_replica()
    _set_stack_status(PIPELINE_ACCOUNT, TARGET_REGION, REPLICA_STACK, status)

    result = regional.handler(_replicate_event(), None)

    assert result["ModelDataUrl"] == f"s3://{REPLICA_BUCKET}/{MODEL_KEY}"


@pytest.mark.parametrize(
    ("outputs", "missing"),
    [
        (("ArtifactBucketName",), "EncryptionKeyArn"),
        (("EncryptionKeyArn",), "ArtifactBucketName"),
        ((), "ArtifactBucketName or EncryptionKeyArn"),
    ],
)
def test_replicate_model_names_the_missing_replica_stack_output(
    aws: None, outputs: tuple[str, ...], missing: str
) -> None:
    _put_sources({MODEL_KEY: b"model", SOURCE_DIR_KEY: b"code"})
    _create_replica(outputs=outputs)

    with pytest.raises(regional.ReplicaStackError) as raised:
        regional.handler(_replicate_event(), None)

    assert str(raised.value).startswith(
        f"replica stack 'Mlops-Platform-eu-central-1' in region eu-central-1 has no output {missing}; "
        "run `cdk deploy Mlops-Platform-eu-central-1` first"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://src-bucket.s3.eu-west-1.amazonaws.com/churn/model.tar.gz",
        "S3://src-bucket/churn/model.tar.gz",
        "s3://src-bucket",
        "s3://src-bucket/",
        "s3:///churn/model.tar.gz",
        "s3://Src_Bucket/churn/model.tar.gz",
        "",
        42,
    ],
)
def test_replicate_model_rejects_a_url_that_is_not_s3(aws: None, url: Any) -> None:
    objects = {"ModelDataUrl": url, "SourceDirUrl": f"s3://{SOURCE_BUCKET}/{SOURCE_DIR_KEY}"}

    with pytest.raises(regional.RegionalDeployInputError) as raised:
        regional.handler(_replicate_event(Objects=objects), None)

    assert str(raised.value) == (
        f"Objects.ModelDataUrl must be an S3 URL of the form s3://bucket/key, got {type(url).__name__} {url!r}"
    )


@pytest.mark.parametrize(
    ("overrides", "expected_message"),
    [
        ({"Region": None}, "Region must be a non-empty string, got nothing (the field is missing)"),
        ({"Region": "Frankfurt"}, "Region must be an AWS region such as eu-central-1, got str 'Frankfurt'"),
        ({"ReplicaStackName": ""}, "ReplicaStackName must be a non-empty string, got str ''"),
        ({"ReplicaStackName": None}, "ReplicaStackName must be a non-empty string, got nothing (the field is missing)"),
        (
            {"Objects": None},
            "Objects must be a non-empty object mapping names to S3 URLs, got nothing (the field is missing)",
        ),
        ({"Objects": {}}, "Objects must be a non-empty object mapping names to S3 URLs, got dict {}"),
        (
            {"Objects": ["s3://bucket/model.tar.gz"]},
            "Objects must be a non-empty object mapping names to S3 URLs, got list ['s3://bucket/model.tar.gz']",
        ),
        (
            {"Objects": {"Bucket": "s3://bucket/model.tar.gz"}},
            "Objects names must be non-empty strings other than Bucket, KeyArn (the result uses those), "
            "got str 'Bucket'",
        ),
    ],
)
def test_replicate_model_rejects_missing_or_empty_fields(
    aws: None, overrides: dict[str, Any], expected_message: str
) -> None:
    with pytest.raises(regional.RegionalDeployInputError, match=f"^{re.escape(expected_message)}$"):
        regional.handler(_replicate_event(**overrides), None)


# --------------------------------------------------------------------------------------------------------
# UpdateStack
# --------------------------------------------------------------------------------------------------------


def test_update_stack_runs_as_the_assumed_role_in_the_target_account_and_region(aws: None) -> None:
    target_client = _create_production_stack()

    result = regional.handler(_update_event(), None)

    assert result["StackId"].startswith(
        f"arn:aws:cloudformation:{TARGET_REGION}:{TARGET_ACCOUNT}:stack/{PRODUCTION_STACK}/"
    )
    (stack,) = target_client.describe_stacks(StackName=PRODUCTION_STACK)["Stacks"]
    assert stack["StackId"] == result["StackId"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {parameter["ParameterKey"]: parameter["ParameterValue"] for parameter in stack["Parameters"]} == {
        "ModelPackageArn": NEW_MODEL_PACKAGE,
        "BootstrapVersion": "21",  # UsePreviousValue kept the value the stack had, not the default "20"
    }
    assert stack["RoleARN"] == CFN_EXEC_ROLE
    # Nothing was created in the pipeline account, in either region.
    for region in (TARGET_REGION, PIPELINE_REGION):
        assert boto3.client("cloudformation", region_name=region).describe_stacks()["Stacks"] == []


def test_update_stack_does_not_touch_a_same_named_stack_of_the_pipeline_account(aws: None) -> None:
    # Only the pipeline account has the stack: the assumed role in the target account must not find it,
    # and CloudFormation's error propagates unchanged (it is not a NoUpdatesError).
    pipeline_client = _create_production_stack(boto3.Session())

    with pytest.raises(ClientError) as raised:
        regional.handler(_update_event(), None)

    assert not isinstance(raised.value, regional.NoUpdatesError)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "does not exist" in raised.value.response["Error"]["Message"]
    (stack,) = pipeline_client.describe_stacks(StackName=PRODUCTION_STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_update_stack_keeps_the_template_and_passes_capabilities_role_and_token(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create_production_stack()
    calls = _record_assumed_role_calls(monkeypatch, "UpdateStack")

    regional.handler(_update_event(), None)

    assert calls == [
        {
            "StackName": PRODUCTION_STACK,
            "UsePreviousTemplate": True,
            "Parameters": [
                {"ParameterKey": "ModelPackageArn", "ParameterValue": NEW_MODEL_PACKAGE},
                {"ParameterKey": "BootstrapVersion", "UsePreviousValue": True},
            ],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            "RoleARN": CFN_EXEC_ROLE,
            "ClientRequestToken": "exec-name",
        }
    ]


def test_update_stack_without_cloudformation_role_leaves_role_arn_out(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create_production_stack()
    calls = _record_assumed_role_calls(monkeypatch, "UpdateStack")

    regional.handler(_update_event(CloudFormationRoleArn=None), None)

    assert len(calls) == 1
    assert "RoleARN" not in calls[0]
    assert calls[0]["StackName"] == PRODUCTION_STACK


def test_update_stack_assumes_the_role_for_a_short_session_named_after_the_token(aws: None) -> None:
    _create_production_stack()
    assume_role_calls = _record_params(regional.sts_client(), "sts", "AssumeRole")

    regional.handler(_update_event(ClientRequestToken="deploy-churn-2024-06-01"), None)

    assert assume_role_calls == [
        {"RoleArn": DEPLOY_ROLE, "RoleSessionName": "cdk-mlops-deploy-churn-2024-06-01", "DurationSeconds": 900}
    ]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("exec-name", "cdk-mlops-exec-name"),
        ("a_b+c=d,e.f@g-h", "cdk-mlops-a_b+c=d,e.f@g-h"),
        ("run 7/äbc:x", "cdk-mlops-run-7--bc-x"),
        ("x" * 100, "cdk-mlops-" + "x" * 54),
    ],
)
def test_role_session_name_keeps_only_allowed_characters_and_64_of_them(label: str, expected: str) -> None:
    name = regional.role_session_name(label)

    assert name == expected
    assert len(name) <= 64
    assert re.fullmatch(r"[\w+=,.@-]+", name, re.ASCII)


def test_update_stack_without_changes_raises_no_updates_error(aws: None) -> None:
    # moto answers an identical update with CloudFormation's ValidationError "No updates are to be performed."
    _create_production_stack()
    regional.handler(_update_event(), None)

    with pytest.raises(regional.NoUpdatesError) as raised:
        regional.handler(_update_event(ClientRequestToken="exec-name-retry"), None)

    error = raised.value
    assert "No updates are to be performed" in str(error)
    assert f"'{PRODUCTION_STACK}'" in str(error) and TARGET_ACCOUNT in str(error) and TARGET_REGION in str(error)
    assert isinstance(error.__cause__, ClientError)
    # What the state machine's Catch sees: Lambda's error cause, matched with a wildcard pattern.
    cause = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__})
    assert fnmatch.fnmatchcase(cause, "*No updates are to be performed*")


@pytest.mark.parametrize(
    ("overrides", "expected_message"),
    [
        ({"RoleArn": None}, "RoleArn must be a non-empty string, got nothing (the field is missing)"),
        (
            {"RoleArn": TARGET_ACCOUNT},
            "RoleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got str '222222222222'",
        ),
        (
            {"CloudFormationRoleArn": f"arn:aws:iam::{TARGET_ACCOUNT}:user/deployer"},
            "CloudFormationRoleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), "
            "got str 'arn:aws:iam::222222222222:user/deployer'",
        ),
        ({"Region": "EU"}, "Region must be an AWS region such as eu-central-1, got str 'EU'"),
        ({"StackName": ""}, "StackName must be a non-empty string, got str ''"),
        (
            {"ClientRequestToken": None},
            "ClientRequestToken must be a non-empty string, got nothing (the field is missing)",
        ),
        ({"Parameters": None}, "Parameters must be a non-empty list, got nothing (the field is missing)"),
        ({"Parameters": []}, "Parameters must be a non-empty list, got list []"),
        ({"Parameters": ["ModelPackageArn"]}, "Parameters[0] must be an object, got str 'ModelPackageArn'"),
        (
            {"Parameters": [{"ParameterValue": "x"}]},
            "Parameters[0].ParameterKey must be a non-empty string, got nothing (the field is missing)",
        ),
        (
            {"Parameters": [{"ParameterKey": "ModelPackageArn"}]},
            "Parameters[0].ParameterValue (ModelPackageArn) must be a string unless UsePreviousValue is true, "
            "got nothing (the field is missing)",
        ),
        (
            {"Parameters": [{"ParameterKey": "Replicas", "ParameterValue": 2}]},
            "Parameters[0].ParameterValue (Replicas) must be a string unless UsePreviousValue is true, got int 2",
        ),
        (
            {"Parameters": [{"ParameterKey": "BootstrapVersion", "UsePreviousValue": "yes"}]},
            "Parameters[0].UsePreviousValue must be true or false, got str 'yes'",
        ),
        (
            {"Parameters": [{"ParameterKey": "BootstrapVersion", "ParameterValue": "21", "UsePreviousValue": True}]},
            "Parameters[0] (BootstrapVersion) gives both ParameterValue and UsePreviousValue true",
        ),
        (
            {
                "Parameters": [
                    {"ParameterKey": "ModelPackageArn", "ParameterValue": "a"},
                    {"ParameterKey": "ModelPackageArn", "ParameterValue": "b"},
                ]
            },
            "Parameters[1].ParameterKey 'ModelPackageArn' is given more than once",
        ),
    ],
)
def test_update_stack_rejects_a_malformed_event_before_assuming_the_role(
    aws: None, overrides: dict[str, Any], expected_message: str
) -> None:
    assume_role_calls = _record_params(regional.sts_client(), "sts", "AssumeRole")

    with pytest.raises(regional.RegionalDeployInputError, match=f"^{re.escape(expected_message)}$"):
        regional.handler(_update_event(**overrides), None)

    assert assume_role_calls == []


def test_update_stack_accepts_an_empty_parameter_value(aws: None) -> None:
    target_client = _create_production_stack()
    parameters = [
        {"ParameterKey": "ModelPackageArn", "ParameterValue": ""},
        {"ParameterKey": "BootstrapVersion", "UsePreviousValue": True},
    ]

    regional.handler(_update_event(Parameters=parameters), None)

    (stack,) = target_client.describe_stacks(StackName=PRODUCTION_STACK)["Stacks"]
    assert {parameter["ParameterKey"]: parameter["ParameterValue"] for parameter in stack["Parameters"]} == {
        "ModelPackageArn": "",
        "BootstrapVersion": "21",
    }


# --------------------------------------------------------------------------------------------------------
# DescribeStack
# --------------------------------------------------------------------------------------------------------


def test_describe_stack_returns_status_and_reason(aws: None) -> None:
    _create_production_stack()

    assert regional.handler(_describe_event(), None) == {"status": "CREATE_COMPLETE", "reason": ""}

    _set_stack_status(
        TARGET_ACCOUNT,
        TARGET_REGION,
        PRODUCTION_STACK,
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to update: [Endpoint].",
    )
    assert regional.handler(_describe_event(), None) == {
        "status": "UPDATE_ROLLBACK_IN_PROGRESS",
        "reason": "The following resource(s) failed to update: [Endpoint].",
    }


def test_describe_stack_accepts_the_stack_id_returned_by_update_stack(aws: None) -> None:
    _create_production_stack()
    stack_id = regional.handler(_update_event(), None)["StackId"]

    result = regional.handler(_describe_event(StackName=stack_id), None)

    assert result == {"status": "UPDATE_COMPLETE", "reason": ""}


@pytest.mark.parametrize(
    ("overrides", "session_name"),
    [
        ({}, "cdk-mlops-Mlops-churn-Production"),
        ({"ClientRequestToken": "exec-name"}, "cdk-mlops-exec-name"),
    ],
)
def test_describe_stack_session_is_named_after_the_token_or_else_the_stack(
    aws: None, overrides: dict[str, Any], session_name: str
) -> None:
    _create_production_stack()
    assume_role_calls = _record_params(regional.sts_client(), "sts", "AssumeRole")

    regional.handler(_describe_event(**overrides), None)

    assert [call["RoleSessionName"] for call in assume_role_calls] == [session_name]
    assert [call["RoleArn"] for call in assume_role_calls] == [DEPLOY_ROLE]


def test_describe_stack_propagates_cloudformation_errors(aws: None) -> None:
    with pytest.raises(ClientError) as raised:
        regional.handler(_describe_event(), None)

    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert PRODUCTION_STACK in raised.value.response["Error"]["Message"]


# --------------------------------------------------------------------------------------------------------
# Dispatch, module hygiene, logging
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "received"),
    [
        ({"Region": TARGET_REGION}, "nothing (the field is missing)"),
        ({"Action": "DeployModel"}, "str 'DeployModel'"),
        ({"Action": "updatestack"}, "str 'updatestack'"),
        ({"Action": ["UpdateStack"]}, "list ['UpdateStack']"),
        ({"Action": None}, "NoneType None"),
    ],
)
def test_unknown_action_is_rejected(aws: None, event: dict[str, Any], received: str) -> None:
    with pytest.raises(
        regional.RegionalDeployInputError,
        match=f"^{re.escape(f'Action must be one of DescribeStack, ReplicateModel, UpdateStack, got {received}')}$",
    ):
        regional.handler(event, None)


def test_non_object_event_is_rejected(aws: None) -> None:
    with pytest.raises(ValueError, match=r"^the event must be a JSON object, got list$"):
        regional.handler(["UpdateStack"], None)


def test_import_creates_no_clients_and_clients_are_cached_with_standard_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[tuple[str, str | None, dict[str, Any]]] = []

    def fake_client(service: str, region_name: str | None = None, config: Any = None) -> object:
        created.append((service, region_name, config.retries))
        return object()

    monkeypatch.setattr(boto3, "client", fake_client)
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    fresh = load_handler("regional_deploy", "regional_deploy_handler_import_check")
    try:
        assert created == []
        assert fresh.s3_client(TARGET_REGION) is fresh.s3_client(TARGET_REGION)
        assert fresh.s3_client(TARGET_REGION) is not fresh.s3_client(PIPELINE_REGION)
        assert fresh.cloudformation_client(TARGET_REGION) is fresh.cloudformation_client(TARGET_REGION)
        assert fresh.sts_client() is fresh.sts_client()
        standard = {"mode": "standard", "max_attempts": 5}
        assert created == [
            ("s3", TARGET_REGION, standard),
            ("s3", PIPELINE_REGION, standard),
            ("cloudformation", TARGET_REGION, standard),
            ("sts", "ap-southeast-2", standard),
        ]
    finally:
        del sys.modules["regional_deploy_handler_import_check"]


def test_assumed_role_clients_retry_in_standard_mode(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _create_production_stack()
    clients: list[Any] = []
    original = regional.assumed_role_client

    def recording_client(service: str, target: Any) -> Any:
        clients.append(original(service, target))
        return clients[-1]

    monkeypatch.setattr(regional, "assumed_role_client", recording_client)

    regional.handler(_describe_event(), None)

    assert len(clients) == 1
    assert clients[0].meta.region_name == TARGET_REGION
    # botocore stores max_attempts=5 (retries after the first call) as 6 attempts in total.
    assert clients[0].meta.config.retries == {"mode": "standard", "total_max_attempts": 6}


def test_logs_one_line_per_action_naming_what_and_where_but_no_credentials(
    aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    _put_sources({MODEL_KEY: b"model", SOURCE_DIR_KEY: b"code"})
    _create_replica()
    _create_production_stack()
    issued: list[dict[str, Any]] = []
    regional.sts_client().meta.events.register(
        "after-call.sts.AssumeRole", lambda parsed, **_: issued.append(parsed["Credentials"])
    )
    caplog.set_level(logging.INFO, logger=regional.LOGGER.name)

    regional.handler(_replicate_event(), None)
    regional.handler(_update_event(), None)
    regional.handler(_describe_event(), None)

    records = [record for record in caplog.records if record.name == regional.LOGGER.name]
    assert [record.levelno for record in records] == [logging.INFO] * 3
    replicate, update, describe = (record.getMessage() for record in records)
    assert replicate == (
        f"ReplicateModel: copying 2 object(s) (ModelDataUrl, SourceDirUrl) to s3://{REPLICA_BUCKET} "
        f"in {TARGET_REGION} (replica stack {REPLICA_STACK})"
    )
    assert update == (
        f"UpdateStack: updating stack {PRODUCTION_STACK} in account {TARGET_ACCOUNT}, region {TARGET_REGION} "
        f"as {DEPLOY_ROLE} (parameters ModelPackageArn, BootstrapVersion, token exec-name)"
    )
    assert describe == (
        f"DescribeStack: reading the status of stack {PRODUCTION_STACK} in account {TARGET_ACCOUNT}, "
        f"region {TARGET_REGION} as {DEPLOY_ROLE}"
    )
    assert len(issued) == 2
    for credentials in issued:
        for secret in (credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]):
            assert secret not in caplog.text
