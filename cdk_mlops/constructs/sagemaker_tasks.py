"""Typed Step Functions states for SageMaker jobs that aws-cdk-lib's tasks do not cover.

aws-cdk-lib has no processing-job task, its training task lacks managed spot training, checkpoints
and inter-container encryption, and its transform task grants on every ``transform-job/*``, grants
``sagemaker:ListTags`` on ``*`` and creates a role with ``AmazonSageMakerFullAccess`` unless given one.
These classes render the SageMaker API request from typed props and carry the IAM statements the state
machine's role needs (``task_policies``), scoped to the job name prefix, so a workflow adds exactly
what its states use.

jsii does not let Python subclasses implement ``TaskStateBase``'s protected hooks, so each task is a
``CustomState`` whose JSON is produced here, never written by hand by a caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_mlops.config.model_config import AssembleWith, BatchStrategy, SplitType
from cdk_mlops.constructs.error_names import OPTIMIZED

SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"

#: Errors worth retrying on every SageMaker call (:mod:`cdk_mlops.constructs.error_names`): the generic
#: error the optimized integration reports a throttle as, and account capacity limits, which clear as
#: other jobs finish.
THROTTLING_ERRORS = OPTIMIZED["sagemaker"].retryable
CAPACITY_ERRORS = OPTIMIZED["sagemaker"].capacity

#: The ARN resource type of each SageMaker job kind.
JOB_ARN_RESOURCES = {"ProcessingJob": "processing-job", "TrainingJob": "training-job", "TransformJob": "transform-job"}


@dataclasses.dataclass(frozen=True)
class JobNetworkConfig:
    """VPC placement and isolation for a SageMaker job. Default: no VPC, no isolation."""

    vpc: ec2.IVpc | None = None
    subnet_selection: ec2.SubnetSelection | None = None
    security_groups: Sequence[ec2.ISecurityGroup] = ()
    network_isolation: bool = False
    inter_container_encryption: bool = False

    def render_job_parameters(self) -> dict[str, Any]:
        """``VpcConfig``, ``EnableNetworkIsolation`` and ``EnableInterContainerTrafficEncryption`` as the
        CreateTrainingJob and CreateProcessingJob (``NetworkConfig``) APIs name them; only what is set."""
        parameters: dict[str, Any] = {}
        vpc_config = self.render_vpc_config()
        if vpc_config:
            parameters["VpcConfig"] = vpc_config
        if self.network_isolation:
            parameters["EnableNetworkIsolation"] = True
        if self.inter_container_encryption:
            parameters["EnableInterContainerTrafficEncryption"] = True
        return parameters

    def render_vpc_config(self) -> dict[str, Any] | None:
        if self.vpc is None:
            return None
        subnets = self.vpc.select_subnets(**_subnet_kwargs(self.subnet_selection)).subnet_ids
        return {
            "Subnets": subnets,
            "SecurityGroupIds": [group.security_group_id for group in self.security_groups],
        }


def _subnet_kwargs(selection: ec2.SubnetSelection | None) -> dict[str, Any]:
    if selection is None:
        return {"subnet_type": ec2.SubnetType.PRIVATE_WITH_EGRESS}
    return {
        key: value
        for key, value in {
            "subnet_type": selection.subnet_type,
            "subnet_group_name": selection.subnet_group_name,
            "subnets": selection.subnets,
            "availability_zones": selection.availability_zones,
            "one_per_az": selection.one_per_az,
        }.items()
        if value is not None
    }


@dataclasses.dataclass(frozen=True)
class S3Channel:
    """A named S3 prefix given to a job: a training channel, or a processing input or output.

    ``s3_uri`` may be a literal or a JSONPath (starting with ``$``) resolved at run time.
    """

    name: str
    s3_uri: str
    local_path: str = ""
    content_type: str | None = None


def _value(key: str, value: str) -> dict[str, str]:
    """Renders ``key`` as a JSONPath/intrinsic reference when ``value`` is one, else as a literal."""
    if value.startswith("$") or value.startswith("States."):
        return {f"{key}.$": value}
    return {key: value}


def _job_arn(scope: Construct, resource: str, name_prefix: str) -> str:
    return Stack.of(scope).format_arn(
        service="sagemaker",
        resource=resource,
        resource_name=f"{name_prefix}*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def _sync_event_rule_arn(scope: Construct, rule: str) -> str:
    return Stack.of(scope).format_arn(service="events", resource="rule", resource_name=rule)


def pass_role_statement(role: iam.IRole) -> iam.PolicyStatement:
    """``iam:PassRole`` of ``role`` to SageMaker only (``iam:PassedToService``)."""
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER_SERVICE}},
    )


class _SageMakerJobTask(sfn.CustomState):
    """Shared rendering of a ``.sync`` SageMaker job state: resource, retries and IAM."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        job: str,
        parameters: Mapping[str, Any],
        job_name_prefix: str,
        role: iam.IRole | None,
        result_path: str,
        comment: str | None,
    ) -> None:
        api = f"create{job}"
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": Stack.of(scope).format_arn(
                service="states",
                account="",
                region="",
                resource="sagemaker",
                resource_name=f"{api}.sync",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
            "Parameters": dict(parameters),
            "ResultPath": result_path,
        }
        if comment:
            state["Comment"] = comment
        super().__init__(scope, id, state_json=state)
        self.add_retry(errors=list(THROTTLING_ERRORS), interval=Duration.seconds(5), backoff_rate=2, max_attempts=4)
        self.add_retry(errors=list(CAPACITY_ERRORS), interval=Duration.seconds(60), backoff_rate=2, max_attempts=3)
        resource = JOB_ARN_RESOURCES[job]
        self.task_policies: list[iam.PolicyStatement] = [
            iam.PolicyStatement(
                actions=[
                    f"sagemaker:Create{job}",
                    f"sagemaker:Describe{job}",
                    f"sagemaker:Stop{job}",
                    "sagemaker:AddTags",
                ],
                resources=[_job_arn(self, resource, job_name_prefix)],
            ),
            # .sync integrations learn of job state changes through a rule Step Functions manages.
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[_sync_event_rule_arn(self, f"StepFunctionsGetEventsForSageMaker{job}sRule")],
            ),
        ]
        if role is not None:  # jobs that run as a role of their own; a transform job runs as its model's
            self.task_policies.append(pass_role_statement(role))


class ProcessingJobTask(_SageMakerJobTask):
    """A ``createProcessingJob.sync`` state: runs a script in a container and waits for it to finish.

    Creates no resources; the workflow that uses it adds ``task_policies`` to its role.
    Defaults: one ``ml.m5.large``, 30 GiB volume, 1 hour max runtime, no VPC, output and volume
    encrypted with ``encryption_key`` when given. Retries SageMaker throttling and capacity errors.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        job_name: str,
        job_name_prefix: str,
        image_uri: str,
        role: iam.IRole,
        entrypoint: Sequence[str],
        inputs: Sequence[S3Channel] = (),
        outputs: Sequence[S3Channel] = (),
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        volume_size_gib: int = 30,
        max_runtime: Duration | None = None,
        environment: Mapping[str, str] | None = None,
        encryption_key: kms.IKey | None = None,
        network: JobNetworkConfig | None = None,
        result_path: str = "$.processing",
        comment: str | None = None,
    ) -> None:
        network = network or JobNetworkConfig()
        max_runtime = max_runtime or Duration.hours(1)
        cluster: dict[str, Any] = {
            "InstanceCount": instance_count,
            "InstanceType": instance_type,
            "VolumeSizeInGB": volume_size_gib,
        }
        if encryption_key is not None:
            cluster["VolumeKmsKeyId"] = encryption_key.key_arn
        output_config: dict[str, Any] = {
            "Outputs": [
                {
                    "OutputName": channel.name,
                    "S3Output": {
                        **_value("S3Uri", channel.s3_uri),
                        "LocalPath": channel.local_path,
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for channel in outputs
            ]
        }
        if encryption_key is not None:
            output_config["KmsKeyId"] = encryption_key.key_arn
        parameters: dict[str, Any] = {
            **_value("ProcessingJobName", job_name),
            "RoleArn": role.role_arn,
            "AppSpecification": {"ImageUri": image_uri, "ContainerEntrypoint": list(entrypoint)},
            "ProcessingResources": {"ClusterConfig": cluster},
            "StoppingCondition": {"MaxRuntimeInSeconds": int(max_runtime.to_seconds())},
            "ProcessingInputs": [
                {
                    "InputName": channel.name,
                    "S3Input": {
                        **_value("S3Uri", channel.s3_uri),
                        "LocalPath": channel.local_path,
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
                for channel in inputs
            ],
        }
        if outputs:
            parameters["ProcessingOutputConfig"] = output_config
        if environment:
            parameters["Environment"] = dict(environment)
        network_config = network.render_job_parameters()
        if network_config:
            parameters["NetworkConfig"] = network_config
        super().__init__(
            scope,
            id,
            job="ProcessingJob",
            parameters=parameters,
            job_name_prefix=job_name_prefix,
            role=role,
            result_path=result_path,
            comment=comment,
        )


@dataclasses.dataclass(frozen=True)
class SpotTraining:
    """Managed spot training: ``max_wait`` bounds the wait for capacity (must be >= max runtime);
    checkpoints go to ``checkpoint_s3_uri`` so an interrupted job resumes."""

    max_wait: Duration
    checkpoint_s3_uri: str


def render_training_job(
    *,
    role: iam.IRole,
    image_uri: str,
    channels: Sequence[S3Channel],
    output_s3_uri: str,
    instance_type: str,
    instance_count: int,
    volume_size_gib: int,
    max_runtime: Duration | None,
    hyperparameters_field: str,
    hyperparameters: Mapping[str, str] | None,
    metric_definitions: Mapping[str, str] | None,
    environment: Mapping[str, str] | None,
    spot: SpotTraining | None,
    encryption_key: kms.IKey | None,
    network: JobNetworkConfig | None,
) -> dict[str, Any]:
    """A training job's request without its name, as ``CreateTrainingJob`` takes it and as a tuning
    job's ``TrainingJobDefinition`` does (there the hyperparameters are ``StaticHyperParameters``:
    ``hyperparameters_field``). Default max runtime 2 hours; raises ``ValueError`` when a spot
    ``max_wait`` is shorter than the max runtime."""
    network = network or JobNetworkConfig()
    max_runtime = max_runtime or Duration.hours(2)
    algorithm: dict[str, Any] = {"TrainingImage": image_uri, "TrainingInputMode": "File"}
    if metric_definitions:
        algorithm["MetricDefinitions"] = [
            {"Name": name, "Regex": regex} for name, regex in sorted(metric_definitions.items())
        ]
    resources: dict[str, Any] = {
        "InstanceCount": instance_count,
        "InstanceType": instance_type,
        "VolumeSizeInGB": volume_size_gib,
    }
    output: dict[str, Any] = _value("S3OutputPath", output_s3_uri)
    if encryption_key is not None:
        resources["VolumeKmsKeyId"] = encryption_key.key_arn
        output["KmsKeyId"] = encryption_key.key_arn
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": int(max_runtime.to_seconds())}
    definition: dict[str, Any] = {
        "RoleArn": role.role_arn,
        "AlgorithmSpecification": algorithm,
        "InputDataConfig": [
            {
                "ChannelName": channel.name,
                "DataSource": {
                    "S3DataSource": {
                        **_value("S3Uri", channel.s3_uri),
                        "S3DataType": "S3Prefix",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                **({"ContentType": channel.content_type} if channel.content_type else {}),
            }
            for channel in channels
        ],
        "OutputDataConfig": output,
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
    }
    if hyperparameters:
        definition[hyperparameters_field] = dict(hyperparameters)
    if environment:
        definition["Environment"] = dict(environment)
    if spot is not None:
        if spot.max_wait.to_seconds() < max_runtime.to_seconds():
            raise ValueError(
                f"spot max_wait ({spot.max_wait.to_human_string()}) must be at least the max runtime "
                f"({max_runtime.to_human_string()})"
            )
        definition["EnableManagedSpotTraining"] = True
        stopping["MaxWaitTimeInSeconds"] = int(spot.max_wait.to_seconds())
        definition["CheckpointConfig"] = _value("S3Uri", spot.checkpoint_s3_uri)
    definition.update(network.render_job_parameters())
    return definition


class TrainingJobTask(_SageMakerJobTask):
    """A ``createTrainingJob.sync`` state with what aws-cdk-lib's task lacks: managed spot training with
    checkpoints, inter-container encryption and network isolation.

    Creates no resources; the workflow adds ``task_policies`` to its role. Defaults: one
    ``ml.m5.xlarge``, 30 GiB volume, 2 hours max runtime, on-demand, File input mode; model output
    and volume encrypted with ``encryption_key`` when given.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        job_name: str,
        job_name_prefix: str,
        image_uri: str,
        role: iam.IRole,
        channels: Sequence[S3Channel],
        output_s3_uri: str,
        instance_type: str = "ml.m5.xlarge",
        instance_count: int = 1,
        volume_size_gib: int = 30,
        max_runtime: Duration | None = None,
        hyperparameters: Mapping[str, str] | None = None,
        metric_definitions: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        spot: SpotTraining | None = None,
        encryption_key: kms.IKey | None = None,
        network: JobNetworkConfig | None = None,
        result_path: str = "$.training",
        comment: str | None = None,
    ) -> None:
        parameters: dict[str, Any] = {
            **_value("TrainingJobName", job_name),
            **render_training_job(
                role=role,
                image_uri=image_uri,
                channels=channels,
                output_s3_uri=output_s3_uri,
                instance_type=instance_type,
                instance_count=instance_count,
                volume_size_gib=volume_size_gib,
                max_runtime=max_runtime,
                hyperparameters_field="HyperParameters",
                hyperparameters=hyperparameters,
                metric_definitions=metric_definitions,
                environment=environment,
                spot=spot,
                encryption_key=encryption_key,
                network=network,
            ),
        }
        super().__init__(
            scope,
            id,
            job="TrainingJob",
            parameters=parameters,
            job_name_prefix=job_name_prefix,
            role=role,
            result_path=result_path,
            comment=comment,
        )


class TransformJobTask(_SageMakerJobTask):
    """A ``createTransformJob.sync`` state: a batch transform of every object under ``input_s3_uri`` by
    the existing SageMaker model ``model_name``, waiting for the job to finish.

    Creates no resources; the workflow adds ``task_policies`` to its role (no ``iam:PassRole``: the job
    runs as the model's execution role, which must read the input and write the output). Defaults: one
    ``ml.m5.large``; ``Line`` split, ``MultiRecord`` requests of at most 6 MB, results assembled by
    ``Line``; no content type or accept header (the container's default); SageMaker's default
    concurrency; output and volume encrypted with ``encryption_key`` when given. ``job_name``,
    ``model_name``, ``input_s3_uri`` and ``output_s3_uri`` may be JSONPaths. Retries SageMaker
    throttling and capacity errors.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        job_name: str,
        job_name_prefix: str,
        model_name: str,
        input_s3_uri: str,
        output_s3_uri: str,
        content_type: str | None = None,
        accept: str | None = None,
        split_type: SplitType = "Line",
        batch_strategy: BatchStrategy = "MultiRecord",
        assemble_with: AssembleWith = "Line",
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        max_payload_mb: int = 6,
        max_concurrent_transforms: int | None = None,
        environment: Mapping[str, str] | None = None,
        encryption_key: kms.IKey | None = None,
        result_path: str = "$.transform",
        comment: str | None = None,
    ) -> None:
        transform_input: dict[str, Any] = {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", **_value("S3Uri", input_s3_uri)}},
            "SplitType": split_type,
        }
        if content_type:
            transform_input["ContentType"] = content_type
        output: dict[str, Any] = {**_value("S3OutputPath", output_s3_uri), "AssembleWith": assemble_with}
        if accept:
            output["Accept"] = accept
        resources: dict[str, Any] = {"InstanceType": instance_type, "InstanceCount": instance_count}
        if encryption_key is not None:
            output["KmsKeyId"] = encryption_key.key_arn
            resources["VolumeKmsKeyId"] = encryption_key.key_arn
        parameters: dict[str, Any] = {
            **_value("TransformJobName", job_name),
            **_value("ModelName", model_name),
            "TransformInput": transform_input,
            "TransformOutput": output,
            "TransformResources": resources,
            "BatchStrategy": batch_strategy,
            "MaxPayloadInMB": max_payload_mb,
        }
        if max_concurrent_transforms is not None:
            parameters["MaxConcurrentTransforms"] = max_concurrent_transforms
        if environment:
            parameters["Environment"] = dict(environment)
        super().__init__(
            scope,
            id,
            job="TransformJob",
            parameters=parameters,
            job_name_prefix=job_name_prefix,
            role=None,
            result_path=result_path,
            comment=comment,
        )
