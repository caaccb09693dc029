"""A typed ``createHyperParameterTuningJob.sync`` state, which aws-cdk-lib does not have.

Written like the job tasks of :mod:`cdk_mlops.constructs.sagemaker_tasks`: a ``CustomState`` whose
request is rendered from typed props (the ``training.tuning`` section, :class:`TuningConfig`, and the
same training-job props as :class:`~cdk_mlops.constructs.sagemaker_tasks.TrainingJobTask`, so managed
spot training and checkpoints apply to every training job the tuning job starts), and whose IAM
statements (``task_policies``) follow from that request, as the Step Functions developer guide lists
them for the ``.sync`` SageMaker tuning integration ("IAM policies for Amazon SageMaker AI"):
``sagemaker:CreateHyperParameterTuningJob``, ``DescribeHyperParameterTuningJob``,
``StopHyperParameterTuningJob`` and ``ListTrainingJobsForHyperParameterTuningJob`` on the tuning job,
``DescribeTrainingJob``/``StopTrainingJob`` on the training jobs it starts, ``iam:PassRole`` of the
training role to SageMaker only (``iam:PassedToService``), and
``events:PutTargets``/``PutRule``/``DescribeRule`` on the rule Step Functions manages,
``StepFunctionsGetEventsForSageMakerTuningJobsRule``.

Names: a tuning job name is at most 32 characters (botocore: ``HyperParameterTuningJobName``,
``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}``), and the Amazon States Language cannot cut a string, so no model
prefix fits beside a hash of the execution name. :func:`tuning_job_name` is therefore
:func:`~cdk_mlops.constructs.run_names.client_token` of ``<model>/tune``: 32 lowercase hex characters,
the same for a retried or redriven execution, different per model and execution. The IAM resource of
the tuning job and of the training jobs it starts (``<tuning job>-<NNN>-<8 hex>``) is then the
account's ``hyper-parameter-tuning-job/*`` and ``training-job/*``, justified where the workflow grants it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_mlops.config.model_config import ParameterRangeConfig, TuningConfig
from cdk_mlops.constructs.run_names import client_token
from cdk_mlops.constructs.sagemaker_tasks import (
    CAPACITY_ERRORS,
    THROTTLING_ERRORS,
    JobNetworkConfig,
    S3Channel,
    SpotTraining,
    pass_role_statement,
    render_training_job,
)

__all__ = ["TUNING_EVENTS_RULE", "HyperParameterTuningJobTask", "render_parameter_ranges", "tuning_job_name"]

#: The EventBridge rule the ``.sync`` tuning integration manages (Step Functions developer guide).
TUNING_EVENTS_RULE: Final = "StepFunctionsGetEventsForSageMakerTuningJobsRule"
#: The longest tuning job name (botocore's ``HyperParameterTuningJobName``).
TUNING_JOB_NAME_MAX: Final = 32


def tuning_job_name(model_name: str) -> str:
    """The intrinsic naming a model's tuning job for this execution: the MD5 of ``<model>/tune/<execution
    name>`` (32 hex characters, SageMaker's limit), valid for any execution name."""
    return client_token(f"{model_name}/tune")


def _number(value: int | float) -> str:
    return str(value)


def _categorical(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_parameter_ranges(ranges: Mapping[str, ParameterRangeConfig]) -> dict[str, list[dict[str, Any]]]:
    """``ParameterRanges`` as CreateHyperParameterTuningJob takes them: integer, continuous and
    categorical ranges, values as strings, names sorted; only the kinds present."""
    rendered: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(ranges):
        parameter = ranges[name]
        if parameter.kind == "Categorical":
            entry: dict[str, Any] = {"Name": name, "Values": [_categorical(v) for v in parameter.values or ()]}
        else:
            assert parameter.min is not None and parameter.max is not None  # checked by the config
            entry = {
                "Name": name,
                "MinValue": _number(parameter.min),
                "MaxValue": _number(parameter.max),
                "ScalingType": parameter.scaling,
            }
        rendered.setdefault(f"{parameter.kind}ParameterRanges", []).append(entry)
    return rendered


def _render_job_config(tuning: TuningConfig) -> dict[str, Any]:
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": tuning.max_parallel_jobs}
    if tuning.max_training_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = tuning.max_training_jobs
    config: dict[str, Any] = {
        "Strategy": tuning.strategy,
        "HyperParameterTuningJobObjective": {"Type": tuning.type, "MetricName": tuning.objective_metric},
        "ResourceLimits": limits,
        "ParameterRanges": render_parameter_ranges(tuning.ranges),
        "TrainingJobEarlyStoppingType": "Auto" if tuning.early_stopping else "Off",
    }
    if tuning.strategy == "Hyperband":
        hyperband = {
            key: value
            for key, value in (("MinResource", tuning.min_resource), ("MaxResource", tuning.max_resource))
            if value is not None
        }
        if hyperband:
            config["StrategyConfig"] = {"HyperbandStrategyConfig": hyperband}
    return config


def _value(key: str, value: str) -> dict[str, str]:
    if value.startswith("$") or value.startswith("States."):
        return {f"{key}.$": value}
    return {key: value}


class HyperParameterTuningJobTask(sfn.CustomState):
    """A ``createHyperParameterTuningJob.sync`` state: SageMaker trains up to ``tuning.max_jobs`` models
    over ``tuning.ranges`` and the state ends with ``DescribeHyperParameterTuningJob``'s answer, whose
    ``BestTrainingJob.TrainingJobName`` is the best job by ``tuning.objective_metric``.

    Creates no resources; the workflow adds ``task_policies`` to its role. The training job definition
    takes the same props as ``TrainingJobTask`` with the same defaults (one ``ml.m5.xlarge``, 30 GiB,
    2 hours, on-demand, File input, output and volume encrypted with ``encryption_key`` when given);
    ``static_hyperparameters`` of a tuned name are dropped (the range replaces them). ``job_name``
    defaults to :func:`tuning_job_name` of ``model_name``. Retries SageMaker throttling (5 s, x2, 4
    attempts) and capacity errors (60 s, x2, 3 attempts), names from :mod:`~cdk_mlops.constructs.error_names`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        tuning: TuningConfig,
        image_uri: str,
        role: iam.IRole,
        channels: Sequence[S3Channel],
        output_s3_uri: str,
        job_name: str | None = None,
        instance_type: str = "ml.m5.xlarge",
        instance_count: int = 1,
        volume_size_gib: int = 30,
        max_runtime: Duration | None = None,
        static_hyperparameters: Mapping[str, str] | None = None,
        metric_definitions: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        spot: SpotTraining | None = None,
        encryption_key: kms.IKey | None = None,
        network: JobNetworkConfig | None = None,
        result_path: str = "$.tuning",
        comment: str | None = None,
    ) -> None:
        self.tuning = tuning
        static = {
            key: value
            for key, value in (static_hyperparameters or {}).items()
            if key.removesuffix(".$") not in tuning.ranges
        }
        definition = render_training_job(
            role=role,
            image_uri=image_uri,
            channels=channels,
            output_s3_uri=output_s3_uri,
            instance_type=instance_type,
            instance_count=instance_count,
            volume_size_gib=volume_size_gib,
            max_runtime=max_runtime,
            hyperparameters_field="StaticHyperParameters",
            hyperparameters=static,
            metric_definitions=metric_definitions,
            environment=environment,
            spot=spot,
            encryption_key=encryption_key,
            network=network,
        )
        stack = Stack.of(scope)
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": stack.format_arn(
                service="states",
                account="",
                region="",
                resource="sagemaker",
                resource_name="createHyperParameterTuningJob.sync",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
            "Parameters": {
                **_value("HyperParameterTuningJobName", job_name or tuning_job_name(model_name)),
                "HyperParameterTuningJobConfig": _render_job_config(tuning),
                "TrainingJobDefinition": definition,
            },
            "ResultPath": result_path,
        }
        if comment:
            state["Comment"] = comment
        super().__init__(scope, id, state_json=state)
        self.add_retry(errors=list(THROTTLING_ERRORS), interval=Duration.seconds(5), backoff_rate=2, max_attempts=4)
        self.add_retry(errors=list(CAPACITY_ERRORS), interval=Duration.seconds(60), backoff_rate=2, max_attempts=3)
        self.task_policies: list[iam.PolicyStatement] = [
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateHyperParameterTuningJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:StopHyperParameterTuningJob",
                    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                    "sagemaker:AddTags",
                ],
                # The name is a hash of the execution name (see the module docstring): no prefix to scope to.
                resources=[
                    stack.format_arn(
                        service="sagemaker",
                        resource="hyper-parameter-tuning-job",
                        resource_name="*",
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            ),
            # The training jobs the tuning job starts, which .sync stops with it.
            iam.PolicyStatement(
                actions=["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"],
                resources=[
                    stack.format_arn(
                        service="sagemaker",
                        resource="training-job",
                        resource_name="*",
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            ),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule", resource_name=TUNING_EVENTS_RULE)],
            ),
            pass_role_statement(role),
        ]
