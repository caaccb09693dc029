"""Make the calls of a cross-region deployment that have to happen in the target region.

A Step Functions deploy workflow runs in the pipeline's region (say eu-west-1) but may have to roll a model
out to a production endpoint stack in another region, possibly of another account. Step Functions SDK
integrations only call their own region, so the workflow invokes this Lambda (``arn:aws:states:::lambda:invoke``)
for those calls. The module is deployed on its own (Lambda asset directory ``lambda_src/regional_deploy``,
handler ``handler.handler``), so it imports only the standard library and the boto3/botocore shipped with the
Python runtime. ``event["Action"]`` selects one of three steps.

ReplicateModel copies the model's S3 objects, with the Lambda's own credentials, to the replica bucket that the
pipeline account keeps in ``Region``: outputs ``ArtifactBucketName`` and ``EncryptionKeyArn`` of the replica
stack name the bucket and its KMS key. Each object keeps its key and is encrypted with SSE-KMS under that key.
Sources are read in the Lambda's own region (``AWS_REGION``, else ``AWS_DEFAULT_REGION``). Event::

    {
        "Action": "ReplicateModel",
        "Region": "eu-central-1",
        "ReplicaStackName": "Mlops-Platform-eu-central-1",
        "Objects": {                                  # 1+ entries; any names except "Bucket" and "KeyArn"
            "ModelDataUrl": "s3://src-bucket/churn/runs/exec-1/model/model.tar.gz",
            "SourceDirUrl": "s3://src-bucket/churn/source/p-1/sourcedir.tar.gz"
        }
    }

Result (the replica bucket and key, plus the new URL of each object under its name in ``Objects``)::

    {
        "Bucket": "replica-bucket",
        "KeyArn": "arn:aws:kms:eu-central-1:111111111111:key/1234abcd-...",
        "ModelDataUrl": "s3://replica-bucket/churn/runs/exec-1/model/model.tar.gz",
        "SourceDirUrl": "s3://replica-bucket/churn/source/p-1/sourcedir.tar.gz"
    }

UpdateStack assumes ``RoleArn`` (e.g. the CDK deploy role of the target account) and updates the stack with its
previous template and the given parameters. Event::

    {
        "Action": "UpdateStack",
        "Region": "eu-central-1",
        "RoleArn": "arn:aws:iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-central-1",
        "StackName": "Mlops-churn-Production",
        "Parameters": [                               # each entry: ParameterValue, or UsePreviousValue true
            {"ParameterKey": "ModelPackageArn", "ParameterValue": "arn:aws:sagemaker:..."},
            {"ParameterKey": "BootstrapVersion", "UsePreviousValue": true}
        ],
        "CloudFormationRoleArn": "arn:aws:iam::222222222222:role/cdk-hnb659fds-cfn-exec-role-...",  # optional
        "ClientRequestToken": "exec-name"             # makes a retried update idempotent; names the role session
    }

Result: ``{"StackId": "arn:aws:cloudformation:eu-central-1:222222222222:stack/Mlops-churn-Production/..."}``.
Without ``CloudFormationRoleArn`` CloudFormation keeps using the role previously associated with the stack.

DescribeStack assumes ``RoleArn`` and reads the stack's status (the workflow polls it after UpdateStack). Event::

    {
        "Action": "DescribeStack",
        "Region": "eu-central-1",
        "RoleArn": "arn:aws:iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-central-1",
        "StackName": "Mlops-churn-Production",       # or the StackId returned by UpdateStack
        "ClientRequestToken": "exec-name"             # optional; only names the role session
    }

Result: ``{"status": "UPDATE_COMPLETE", "reason": ""}`` (``reason`` is the StackStatusReason, "" when none).

Errors: a malformed event raises :class:`RegionalDeployInputError`; a replica stack that is missing, not in a
usable state or without one of its outputs raises :class:`ReplicaStackError`; an update that would change
nothing raises :class:`NoUpdatesError`, whose message contains ``No updates are to be performed`` (the state
machine matches that text in the error cause). Any other AWS error propagates unchanged.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, TypedDict

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

LOGGER = logging.getLogger(__name__)

ACTIONS = ("DescribeStack", "ReplicateModel", "UpdateStack")
BUCKET_OUTPUT = "ArtifactBucketName"
"""Output of the replica stack that names the replica bucket."""
KEY_OUTPUT = "EncryptionKeyArn"
"""Output of the replica stack that gives the ARN of the replica bucket's KMS key."""
USABLE_REPLICA_STATUSES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)
"""Replica stack states in which its bucket, key and outputs exist and match."""
RESERVED_OBJECT_NAMES = frozenset({"Bucket", "KeyArn"})
"""Names an entry of ``Objects`` cannot have, because the ReplicateModel result uses them."""
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")
NO_UPDATES = "No updates are to be performed"
"""CloudFormation's answer to an update that changes nothing; NoUpdatesError messages contain it verbatim."""
SESSION_NAME_PREFIX = "cdk-mlops-"
MAX_SESSION_NAME_CHARS = 64
ASSUME_ROLE_SECONDS = 900
"""The shortest session STS allows: each assumed role is used for a single CloudFormation call."""

_MIB = 1024 * 1024
TRANSFER_CONFIG = TransferConfig(multipart_threshold=64 * _MIB, multipart_chunksize=64 * _MIB, max_concurrency=10)
"""Managed copy settings: objects from 64 MiB up are copied in parts (CopyObject alone stops at 5 GB)."""

_REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
_ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]{1,512}$", re.ASCII)
_S3_URL_PATTERN = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)$")
_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]", re.ASCII)
_MISSING: Any = object()

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class RegionalDeployInputError(ValueError):
    """The event is malformed: unknown action, or a missing, empty or invalid field."""


class ReplicaStackError(RuntimeError):
    """The replica stack of the target region is missing, not usable, or lacks an output."""


class NoUpdatesError(RuntimeError):
    """CloudFormation has nothing to update: the stack already has these parameters."""


class UpdateStackResult(TypedDict):
    """What UpdateStack returns."""

    StackId: str


class StackStatusResult(TypedDict):
    """What DescribeStack returns."""

    status: str
    reason: str


@dataclass(frozen=True)
class S3Object:
    """An object location parsed from an ``s3://bucket/key`` URL."""

    bucket: str
    key: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ReplicateModelRequest:
    """A validated ReplicateModel event."""

    region: str
    replica_stack_name: str
    objects: dict[str, S3Object]


@dataclass(frozen=True)
class TargetStack:
    """A stack in another region (and maybe account), reached by assuming ``role_arn``."""

    region: str
    role_arn: str
    account: str
    stack_name: str
    session_name: str


@dataclass(frozen=True)
class UpdateStackRequest:
    """A validated UpdateStack event."""

    target: TargetStack
    parameters: list[dict[str, Any]]
    cloudformation_role_arn: str | None
    client_request_token: str


@dataclass(frozen=True)
class DescribeStackRequest:
    """A validated DescribeStack event."""

    target: TargetStack


Request: TypeAlias = "ReplicateModelRequest | UpdateStackRequest | DescribeStackRequest"


# --------------------------------------------------------------------------------------------------------
# Clients (module-level functions so tests can replace them; nothing is created at import time)
# --------------------------------------------------------------------------------------------------------


def _region() -> str | None:
    """The region Lambda runs in (``AWS_REGION``), falling back to ``AWS_DEFAULT_REGION``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


@functools.cache
def s3_client(region: str | None) -> Any:
    """Cached S3 client of ``region`` with the Lambda's own credentials."""
    return boto3.client("s3", region_name=region, config=_CONFIG)


@functools.cache
def cloudformation_client(region: str) -> Any:
    """Cached CloudFormation client of ``region`` with the Lambda's own credentials."""
    return boto3.client("cloudformation", region_name=region, config=_CONFIG)


@functools.cache
def sts_client() -> Any:
    """Cached STS client of the Lambda's own region."""
    return boto3.client("sts", region_name=_region(), config=_CONFIG)


def reset_clients() -> None:
    """Forget the cached clients (for tests, or after the environment's region or credentials change)."""
    s3_client.cache_clear()
    cloudformation_client.cache_clear()
    sts_client.cache_clear()


def assumed_role_client(service: str, target: TargetStack) -> Any:
    """A client of ``service`` in ``target.region`` with fresh credentials of ``target.role_arn`` (not cached:
    the credentials expire)."""
    credentials = sts_client().assume_role(
        RoleArn=target.role_arn, RoleSessionName=target.session_name, DurationSeconds=ASSUME_ROLE_SECONDS
    )["Credentials"]
    return boto3.client(
        service,
        region_name=target.region,
        config=_CONFIG,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _configure_logging() -> None:
    """Log at INFO unless Lambda's advanced logging controls (``AWS_LAMBDA_LOG_LEVEL``) set the level."""
    if not os.environ.get("AWS_LAMBDA_LOG_LEVEL") and LOGGER.level == logging.NOTSET:
        LOGGER.setLevel(logging.INFO)


# --------------------------------------------------------------------------------------------------------
# Event validation
# --------------------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    """Short description of a received value for error messages."""
    if value is _MISSING:
        return "nothing (the field is missing)"
    text = repr(value)
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(value).__name__} {text}"


def _required_str(event: Mapping[str, Any], field: str, label: str | None = None) -> str:
    """A required non-empty string field; ``label`` names it in messages (default: ``field``)."""
    value = event.get(field, _MISSING)
    if isinstance(value, str) and value.strip():
        return value
    raise RegionalDeployInputError(f"{label or field} must be a non-empty string, got {_describe(value)}")


def _optional_str(event: Mapping[str, Any], field: str) -> str | None:
    """An optional string field: missing or null gives None, anything else must be a non-empty string."""
    value = event.get(field)
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value
    raise RegionalDeployInputError(f"{field} must be a non-empty string when given, got {_describe(value)}")


def _region_field(event: Mapping[str, Any]) -> str:
    region = _required_str(event, "Region")
    if not _REGION_PATTERN.match(region):
        raise RegionalDeployInputError(f"Region must be an AWS region such as eu-central-1, got {_describe(region)}")
    return region


def _role_arn(value: str, field: str) -> tuple[str, str]:
    """``(role ARN, account)`` of an IAM role ARN."""
    match = _ROLE_ARN_PATTERN.match(value)
    if not match:
        raise RegionalDeployInputError(
            f"{field} must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got {_describe(value)}"
        )
    return value, match.group(1)


def parse_s3_url(value: Any, field: str) -> S3Object:
    """Parse ``s3://bucket/key``; ``field`` names the value in the error message.

    Raises:
        RegionalDeployInputError: naming ``field`` and the value received.
    """
    match = _S3_URL_PATTERN.match(value) if isinstance(value, str) else None
    if not match:
        raise RegionalDeployInputError(f"{field} must be an S3 URL of the form s3://bucket/key, got {_describe(value)}")
    return S3Object(bucket=match.group(1), key=match.group(2))


def _objects_field(event: Mapping[str, Any]) -> dict[str, S3Object]:
    value = event.get("Objects", _MISSING)
    if not isinstance(value, Mapping) or not value:
        raise RegionalDeployInputError(
            f"Objects must be a non-empty object mapping names to S3 URLs, got {_describe(value)}"
        )
    objects: dict[str, S3Object] = {}
    for name, url in value.items():
        if not isinstance(name, str) or not name.strip() or name in RESERVED_OBJECT_NAMES:
            raise RegionalDeployInputError(
                f"Objects names must be non-empty strings other than {', '.join(sorted(RESERVED_OBJECT_NAMES))} "
                f"(the result uses those), got {_describe(name)}"
            )
        objects[name] = parse_s3_url(url, f"Objects.{name}")
    return objects


def _parameters_field(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation parameters: each ``{ParameterKey, ParameterValue}`` or ``{ParameterKey, UsePreviousValue:
    true}``, keys unique. Values may be empty strings (that clears a parameter)."""
    value = event.get("Parameters", _MISSING)
    if not isinstance(value, list) or not value:
        raise RegionalDeployInputError(f"Parameters must be a non-empty list, got {_describe(value)}")
    parameters: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(value):
        label = f"Parameters[{index}]"
        if not isinstance(entry, Mapping):
            raise RegionalDeployInputError(f"{label} must be an object, got {_describe(entry)}")
        key = _required_str(entry, "ParameterKey", f"{label}.ParameterKey")
        if key in seen:
            raise RegionalDeployInputError(f"{label}.ParameterKey {key!r} is given more than once")
        seen.add(key)
        use_previous = entry.get("UsePreviousValue", False)
        if not isinstance(use_previous, bool):
            raise RegionalDeployInputError(
                f"{label}.UsePreviousValue must be true or false, got {_describe(use_previous)}"
            )
        if use_previous:
            if "ParameterValue" in entry:
                raise RegionalDeployInputError(f"{label} ({key}) gives both ParameterValue and UsePreviousValue true")
            parameters.append({"ParameterKey": key, "UsePreviousValue": True})
            continue
        parameter_value = entry.get("ParameterValue", _MISSING)
        if not isinstance(parameter_value, str):
            raise RegionalDeployInputError(
                f"{label}.ParameterValue ({key}) must be a string unless UsePreviousValue is true, "
                f"got {_describe(parameter_value)}"
            )
        parameters.append({"ParameterKey": key, "ParameterValue": parameter_value})
    return parameters


def role_session_name(label: str) -> str:
    """``cdk-mlops-<label>`` cut to the characters and length STS accepts in a role session name."""
    return (SESSION_NAME_PREFIX + _SESSION_NAME_UNSAFE.sub("-", label))[:MAX_SESSION_NAME_CHARS]


def _target_stack(event: Mapping[str, Any], session_label: str | None) -> TargetStack:
    region = _region_field(event)
    role_arn, account = _role_arn(_required_str(event, "RoleArn"), "RoleArn")
    stack_name = _required_str(event, "StackName")
    return TargetStack(
        region=region,
        role_arn=role_arn,
        account=account,
        stack_name=stack_name,
        session_name=role_session_name(session_label or stack_name),
    )


def parse_event(event: Any) -> Request:
    """Validate the Step Functions event.

    Raises:
        RegionalDeployInputError: naming the offending field and the value received.
    """
    if not isinstance(event, Mapping):
        raise RegionalDeployInputError(f"the event must be a JSON object, got {type(event).__name__}")
    action = event.get("Action", _MISSING)
    if not isinstance(action, str) or action not in ACTIONS:
        raise RegionalDeployInputError(f"Action must be one of {', '.join(ACTIONS)}, got {_describe(action)}")

    if action == "ReplicateModel":
        return ReplicateModelRequest(
            region=_region_field(event),
            replica_stack_name=_required_str(event, "ReplicaStackName"),
            objects=_objects_field(event),
        )
    if action == "UpdateStack":
        token = _required_str(event, "ClientRequestToken")
        cloudformation_role = _optional_str(event, "CloudFormationRoleArn")
        return UpdateStackRequest(
            target=_target_stack(event, token),
            parameters=_parameters_field(event),
            cloudformation_role_arn=(
                None if cloudformation_role is None else _role_arn(cloudformation_role, "CloudFormationRoleArn")[0]
            ),
            client_request_token=token,
        )
    return DescribeStackRequest(target=_target_stack(event, _optional_str(event, "ClientRequestToken")))


# --------------------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------------------


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def _replica_stack_error(stack_name: str, region: str, problem: str) -> ReplicaStackError:
    return ReplicaStackError(
        f"replica stack {stack_name!r} in region {region} {problem}; run `cdk deploy {stack_name}` first "
        f"(it creates the bucket and KMS key that models deployed to {region} are copied to)"
    )


def replica_bucket_and_key(stack_name: str, region: str) -> tuple[str, str]:
    """``(bucket name, KMS key ARN)`` from the outputs of replica stack ``stack_name`` in ``region``.

    Raises:
        ReplicaStackError: the stack does not exist, is not in a usable state, or lacks an output.
        botocore.exceptions.ClientError: any other CloudFormation error (access denied, throttling...).
    """
    try:
        response = cloudformation_client(region).describe_stacks(StackName=stack_name)
    except ClientError as error:
        if _error_code(error) == "ValidationError" and "does not exist" in _error_message(error):
            raise _replica_stack_error(stack_name, region, "does not exist") from error
        raise
    stacks = response.get("Stacks") or []
    if not stacks:
        raise _replica_stack_error(stack_name, region, "does not exist")
    status = str(stacks[0].get("StackStatus", ""))
    if status not in USABLE_REPLICA_STATUSES:
        usable = ", ".join(sorted(USABLE_REPLICA_STATUSES))
        raise _replica_stack_error(stack_name, region, f"is {status}, not one of {usable}")
    outputs = {output["OutputKey"]: output.get("OutputValue", "") for output in stacks[0].get("Outputs") or []}
    missing = [name for name in (BUCKET_OUTPUT, KEY_OUTPUT) if not outputs.get(name)]
    if missing:
        raise _replica_stack_error(stack_name, region, f"has no output {' or '.join(missing)}")
    return str(outputs[BUCKET_OUTPUT]), str(outputs[KEY_OUTPUT])


def replicate_model(request: ReplicateModelRequest) -> dict[str, str]:
    """Copy each object server-side to the same key in the replica bucket, encrypted with the replica key.

    boto3's managed copy reads the source's size with a client of the Lambda's own region and switches to a
    multipart copy for large objects, so objects over 5 GB are copied too.
    """
    bucket, key_arn = replica_bucket_and_key(request.replica_stack_name, request.region)
    LOGGER.info(
        "ReplicateModel: copying %d object(s) (%s) to s3://%s in %s (replica stack %s)",
        len(request.objects),
        ", ".join(request.objects),
        bucket,
        request.region,
        request.replica_stack_name,
    )
    target_client = s3_client(request.region)
    source_client = s3_client(_region())
    result = {"Bucket": bucket, "KeyArn": key_arn}
    for name, source in request.objects.items():
        target_client.copy(
            CopySource={"Bucket": source.bucket, "Key": source.key},
            Bucket=bucket,
            Key=source.key,
            ExtraArgs={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn},
            SourceClient=source_client,
            Config=TRANSFER_CONFIG,
        )
        result[name] = S3Object(bucket, source.key).url
    return result


def update_stack(request: UpdateStackRequest) -> UpdateStackResult:
    """Update the target stack with its previous template and new parameters, as the assumed role.

    Raises:
        NoUpdatesError: CloudFormation answered that there is nothing to update.
        botocore.exceptions.ClientError: any other error, unchanged.
    """
    target = request.target
    LOGGER.info(
        "UpdateStack: updating stack %s in account %s, region %s as %s (parameters %s, token %s)",
        target.stack_name,
        target.account,
        target.region,
        target.role_arn,
        ", ".join(parameter["ParameterKey"] for parameter in request.parameters),
        request.client_request_token,
    )
    arguments: dict[str, Any] = {
        "StackName": target.stack_name,
        "UsePreviousTemplate": True,
        "Parameters": request.parameters,
        "Capabilities": list(CAPABILITIES),
        "ClientRequestToken": request.client_request_token,
    }
    if request.cloudformation_role_arn is not None:
        arguments["RoleARN"] = request.cloudformation_role_arn
    client = assumed_role_client("cloudformation", target)
    try:
        response = client.update_stack(**arguments)
    except ClientError as error:
        if _error_code(error) == "ValidationError" and NO_UPDATES in _error_message(error):
            raise NoUpdatesError(
                f"{NO_UPDATES} on stack {target.stack_name!r} in account {target.account}, region {target.region}: "
                "it already has these parameters"
            ) from error
        raise
    return {"StackId": str(response["StackId"])}


def describe_stack(request: DescribeStackRequest) -> StackStatusResult:
    """Status and status reason of the target stack, read as the assumed role."""
    target = request.target
    LOGGER.info(
        "DescribeStack: reading the status of stack %s in account %s, region %s as %s",
        target.stack_name,
        target.account,
        target.region,
        target.role_arn,
    )
    stack = assumed_role_client("cloudformation", target).describe_stacks(StackName=target.stack_name)["Stacks"][0]
    return {"status": str(stack["StackStatus"]), "reason": str(stack.get("StackStatusReason") or "")}


# --------------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------------


def handler(event: Any, context: Any) -> dict[str, str] | UpdateStackResult | StackStatusResult:
    """Lambda entry point (``handler.handler``); see the module docstring for the events and results.

    Raises:
        RegionalDeployInputError: the event is malformed.
        ReplicaStackError: ReplicateModel found no usable replica stack.
        NoUpdatesError: UpdateStack had nothing to update.
    """
    del context  # unused
    _configure_logging()
    request = parse_event(event)
    if isinstance(request, ReplicateModelRequest):
        return replicate_model(request)
    if isinstance(request, UpdateStackRequest):
        return update_stack(request)
    return describe_stack(request)
