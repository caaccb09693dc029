"""The training step of a model with ``training.tuning``: a tuning job, then its best training job.

``Tune`` (:class:`~cdk_mlops.constructs.tuning_task.HyperParameterTuningJobTask`) runs the tuning job
with the training job definition ``default_training_step`` would run (channels, script-mode
hyperparameters, spot with checkpoints, network settings); ``DescribeBestTrainingJob`` (the AWS SDK
``sagemaker:describeTrainingJob``) writes the best job's description to ``$.training``, so
evaluation, the quality gate (``FinalMetricDataList``) and registration (``ModelArtifacts``) read the
best job exactly as they read a plain training job.
"""

from __future__ import annotations

import dataclasses
import json

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from cdk_mlops.constructs.sagemaker_tasks import S3Channel, SpotTraining
from cdk_mlops.constructs.tuning_task import HyperParameterTuningJobTask
from cdk_mlops.constructs.workflow_context import RunPaths, WorkflowContext
from cdk_mlops.constructs.workflow_steps import CODE_CHANNEL_PATH, Step, script_mode_hyperparameters

__all__ = ["BEST_TRAINING_JOB_NAME", "tuning_training_step"]

#: Where the tuning job's best training job name lands (``DescribeHyperParameterTuningJob``).
BEST_TRAINING_JOB_NAME = "$.tuning.BestTrainingJob.TrainingJobName"


def tuning_training_step(ctx: WorkflowContext) -> Step:
    """``Tune → DescribeBestTrainingJob`` from ``training`` and ``training.tuning`` in model.yaml; both
    retried on throttling and caught into the workflow's failure notification. Raises ``ValueError``
    when the model has no ``training.tuning``."""
    settings = ctx.model.training
    tuning = settings.tuning
    if tuning is None:
        raise ValueError(f"model {ctx.model.name} has no training.tuning")
    preprocessed = ctx.model.preprocessing is not None
    channels = [
        S3Channel(
            channel,
            f"States.Format('{{}}{channel}/', {RunPaths.PROCESSED_PREFIX})"
            if preprocessed
            else ctx.data_channel_uri(channel),
            content_type=ctx.model.data.content_type,
        )
        for channel in ctx.model.data.channels
    ]
    hyperparameters = script_mode_hyperparameters(ctx)
    isolated = ctx.network.network_isolation or settings.network_isolation
    if settings.entry_point and isolated:
        channels.append(S3Channel("code", RunPaths.SOURCE_DIR))
        hyperparameters["sagemaker_submit_directory"] = json.dumps(f"{CODE_CHANNEL_PATH}/sourcedir.tar.gz")
    elif settings.entry_point:
        hyperparameters["sagemaker_submit_directory.$"] = f"States.JsonToString({RunPaths.SOURCE_DIR})"
    spot = None
    if settings.spot:
        max_wait = settings.max_wait_minutes or 2 * settings.max_runtime_minutes
        spot = SpotTraining(max_wait=Duration.minutes(max_wait), checkpoint_s3_uri=RunPaths.CHECKPOINTS)
    tune = HyperParameterTuningJobTask(
        ctx.scope,
        "Tune",
        model_name=ctx.model.name,
        tuning=tuning,
        image_uri=ctx.image_uri,
        role=ctx.sagemaker_role,
        channels=channels,
        output_s3_uri=RunPaths.MODEL_OUTPUT,
        instance_type=settings.instance_type,
        instance_count=settings.instance_count,
        volume_size_gib=settings.volume_size_gib,
        max_runtime=Duration.minutes(settings.max_runtime_minutes),
        static_hyperparameters=hyperparameters,
        metric_definitions=settings.metric_definitions,
        spot=spot,
        encryption_key=ctx.encryption_key,
        network=dataclasses.replace(
            ctx.network,
            network_isolation=isolated,
            inter_container_encryption=ctx.network.inter_container_encryption or settings.inter_container_encryption,
        ),
        result_path="$.tuning",
    )
    ctx.protect(tune)
    describe = tasks.CallAwsService(
        ctx.scope,
        "DescribeBestTrainingJob",
        service="sagemaker",
        action="describeTrainingJob",
        iam_action="sagemaker:DescribeTrainingJob",
        parameters={"TrainingJobName.$": BEST_TRAINING_JOB_NAME},
        # The best job is named by the tuning job (<tuning job>-<NNN>-<8 hex>), a hash: no prefix.
        iam_resources=[
            Stack.of(ctx.scope).format_arn(
                service="sagemaker",
                resource="training-job",
                resource_name="*",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
        ],
        result_path="$.training",
    )
    ctx.retry_throttling(describe, "SageMaker")
    ctx.protect(describe)
    return Step(sfn.Chain.start(tune).next(describe), [tune, describe])
