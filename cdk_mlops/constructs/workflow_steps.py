"""The default steps of the training workflow, one function per step.

``MlPipeline`` calls these from its overridable hooks; a subclass replaces a hook and keeps the rest.
Each function creates its states in ``ctx.scope`` and returns a ``Step``: the chain to insert and,
for the evaluation step, where the quality gate finds each metric.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from cdk_mlops.config.model_config import Comparison, MetricThreshold, ProcessingConfig
from cdk_mlops.constructs.champion_gate import champion_lookup, champion_rule_gate, has_champion_rules
from cdk_mlops.constructs.failure_notice import TRAINING_WORKFLOW, Headline
from cdk_mlops.constructs.run_names import client_token
from cdk_mlops.constructs.sagemaker_tasks import ProcessingJobTask, S3Channel, SpotTraining, TrainingJobTask
from cdk_mlops.constructs.workflow_context import RunPaths, WorkflowContext

PROCESSING_ROOT = "/opt/ml/processing"
CODE_CHANNEL_PATH = "/opt/ml/input/data/code"


@dataclasses.dataclass(frozen=True)
class Step:
    """A piece of the workflow: ``chain`` runs in order; ``states`` are the tasks to protect and check."""

    chain: sfn.Chain
    task_states: Sequence[sfn.State] = ()


@dataclasses.dataclass(frozen=True)
class EvaluationStep(Step):
    """An evaluation step also says where each quality-gate metric lands in the state (a JSONPath)."""

    metric_path: Callable[[MetricThreshold], str] = lambda rule: f"$.evaluation.metrics.{rule.key}"


def _processing_task(
    ctx: WorkflowContext,
    id: str,
    *,
    settings: ProcessingConfig,
    job_name_path: str,
    inputs: Sequence[S3Channel],
    outputs: Sequence[S3Channel],
    result_path: str,
) -> ProcessingJobTask:
    code = S3Channel("code", RunPaths.CODE_PREFIX, f"{PROCESSING_ROOT}/input/code")
    task = ProcessingJobTask(
        ctx.scope,
        id,
        job_name=job_name_path,
        job_name_prefix=ctx.job_prefix,
        image_uri=settings.image_uri or ctx.image_uri,
        role=ctx.sagemaker_role,
        entrypoint=["python3", f"{PROCESSING_ROOT}/input/code/{settings.script}"],
        inputs=[code, *inputs],
        outputs=outputs,
        instance_type=settings.instance_type,
        instance_count=settings.instance_count,
        volume_size_gib=settings.volume_size_gib,
        max_runtime=Duration.minutes(settings.max_runtime_minutes),
        encryption_key=ctx.encryption_key,
        network=ctx.network,
        result_path=result_path,
    )
    ctx.protect(task)
    return task


def default_preprocessing_step(ctx: WorkflowContext) -> Step | None:
    """A processing job running ``preprocessing.script`` over the raw data channels; it writes each
    channel to ``<run>/processed/<channel>/``. None when the model has no preprocessing."""
    settings = ctx.model.preprocessing
    if settings is None:
        return None
    channels = ctx.model.data.channels
    task = _processing_task(
        ctx,
        "Preprocess",
        settings=settings,
        job_name_path=RunPaths.PREPROCESSING_JOB,
        inputs=[S3Channel("raw", ctx.data_channel_uri("").rstrip("/") + "/", f"{PROCESSING_ROOT}/input/raw")],
        outputs=[
            S3Channel(
                channel,
                f"States.Format('{{}}{channel}/', {RunPaths.PROCESSED_PREFIX})",
                f"{PROCESSING_ROOT}/output/{channel}",
            )
            for channel in channels
        ],
        result_path="$.preprocessing",
    )
    return Step(sfn.Chain.start(task), [task])


def script_mode_hyperparameters(ctx: WorkflowContext) -> dict[str, str]:
    """Hyperparameters as SageMaker takes them: strings for built-in algorithms; JSON-encoded values plus
    the entry point for framework containers in script mode (the SageMaker SDK's convention)."""
    training = ctx.model.training
    if not training.entry_point:
        return {key: _plain(value) for key, value in training.hyperparameters.items()}
    values = {key: json.dumps(value) for key, value in training.hyperparameters.items()}
    values["sagemaker_program"] = json.dumps(training.entry_point)
    values["sagemaker_region"] = json.dumps(ctx.artifact_bucket.stack.region)
    return values


def _plain(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_training_step(ctx: WorkflowContext) -> Step:
    """A ``createTrainingJob.sync`` from ``training`` in model.yaml: managed spot with checkpoints when
    ``spot`` is true; channels from the preprocessing output when there is a preprocessing step,
    else from the raw data prefix."""
    settings = ctx.model.training
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
        # An isolated container cannot fetch its code from S3: SageMaker hands it over as a channel.
        channels.append(S3Channel("code", RunPaths.SOURCE_DIR))
        hyperparameters["sagemaker_submit_directory"] = json.dumps(f"{CODE_CHANNEL_PATH}/sourcedir.tar.gz")
    elif settings.entry_point:
        hyperparameters["sagemaker_submit_directory.$"] = f"States.JsonToString({RunPaths.SOURCE_DIR})"
    spot = None
    if settings.spot:
        max_wait = settings.max_wait_minutes or 2 * settings.max_runtime_minutes
        spot = SpotTraining(max_wait=Duration.minutes(max_wait), checkpoint_s3_uri=RunPaths.CHECKPOINTS)
    task = TrainingJobTask(
        ctx.scope,
        "Train",
        job_name=RunPaths.TRAINING_JOB,
        job_name_prefix=ctx.job_prefix,
        image_uri=ctx.image_uri,
        role=ctx.sagemaker_role,
        channels=channels,
        output_s3_uri=RunPaths.MODEL_OUTPUT,
        instance_type=settings.instance_type,
        instance_count=settings.instance_count,
        volume_size_gib=settings.volume_size_gib,
        max_runtime=Duration.minutes(settings.max_runtime_minutes),
        hyperparameters=hyperparameters,
        metric_definitions=settings.metric_definitions,
        spot=spot,
        encryption_key=ctx.encryption_key,
        network=dataclasses.replace(
            ctx.network,
            network_isolation=isolated,
            inter_container_encryption=ctx.network.inter_container_encryption or settings.inter_container_encryption,
        ),
        result_path="$.training",
    )
    ctx.protect(task)
    return Step(sfn.Chain.start(task), [task])


def training_metrics_step(ctx: WorkflowContext) -> EvaluationStep:
    """Reads the gate's metrics from the training job's ``FinalMetricDataList`` (no extra job)."""
    extract = sfn.Pass(
        ctx.scope,
        "ExtractTrainingMetrics",
        parameters={
            "source": "training_metrics",
            "metrics": {
                f"{rule.key}.$": f"$.training.FinalMetricDataList[?(@.MetricName == '{rule.metric}')].Value"
                for rule in ctx.model.quality_gate
            },
        },
        result_path="$.evaluation",
    )
    return EvaluationStep(sfn.Chain.start(extract), [], metric_path=lambda rule: f"$.evaluation.metrics.{rule.key}[0]")


def evaluation_job_step(ctx: WorkflowContext) -> EvaluationStep:
    """A processing job running ``evaluation.job.script`` on the trained model and the validation data;
    it must write ``evaluation.json``. The workflow reads that file from S3 and parses it; metric names
    in the gate are dotted paths in the file (``metrics.auc``)."""
    settings = ctx.model.evaluation.job
    assert settings is not None  # guaranteed by EvaluationConfig's validation
    preprocessed = ctx.model.preprocessing is not None
    test_channel = ctx.model.data.channels[-1]
    test_uri = (
        f"States.Format('{{}}{test_channel}/', {RunPaths.PROCESSED_PREFIX})"
        if preprocessed
        else ctx.data_channel_uri(test_channel)
    )
    evaluate = _processing_task(
        ctx,
        "Evaluate",
        settings=settings,
        job_name_path=RunPaths.EVALUATION_JOB,
        inputs=[
            S3Channel("model", "$.training.ModelArtifacts.S3ModelArtifacts", f"{PROCESSING_ROOT}/input/model"),
            S3Channel("test", test_uri, f"{PROCESSING_ROOT}/input/test"),
        ],
        outputs=[S3Channel("evaluation", RunPaths.EVALUATION_PREFIX, f"{PROCESSING_ROOT}/output/evaluation")],
        result_path="$.evaluationJob",
    )
    read = tasks.CallAwsService(
        ctx.scope,
        "ReadEvaluationReport",
        service="s3",
        action="getObject",
        iam_action="s3:GetObject",
        parameters={"Bucket": ctx.artifact_bucket.bucket_name, "Key.$": RunPaths.EVALUATION_KEY},
        iam_resources=[ctx.artifact_bucket.arn_for_objects(f"{ctx.model_prefix}runs/*")],
        result_selector={"report.$": "States.StringToJson($.Body)"},
        result_path="$.evaluationReport",
    )
    ctx.retry_throttling(read, "S3")
    ctx.protect(read)
    expose = sfn.Pass(
        ctx.scope,
        "ParseEvaluationReport",
        parameters={"source": "evaluation_job", "metrics.$": "$.evaluationReport.report"},
        result_path="$.evaluation",
    )
    return EvaluationStep(
        sfn.Chain.start(evaluate).next(read).next(expose),
        [evaluate, read],
        metric_path=lambda rule: f"$.evaluation.metrics.{rule.metric}",
    )


def default_evaluation_step(ctx: WorkflowContext) -> EvaluationStep:
    """The evaluation that ``evaluation.source`` in model.yaml asks for."""
    if ctx.model.evaluation.source == "evaluation_job":
        return evaluation_job_step(ctx)
    return training_metrics_step(ctx)


def _comparison(rule: MetricThreshold, path: str) -> sfn.Condition:
    assert rule.threshold is not None
    if rule.comparison is Comparison.GREATER_THAN_OR_EQUAL:
        return sfn.Condition.number_greater_than_equals(path, rule.threshold)
    return sfn.Condition.number_less_than_equals(path, rule.threshold)


Notify = Callable[[str, str, Sequence[str]], tasks.SnsPublish]
"""Creates a notification state: ``(id, first line with {} slots, JSONPaths for the slots)``; the
workflow adds the execution's console URL on the next line (see ``failure_notice``)."""


def default_quality_gate(
    ctx: WorkflowContext,
    rules: Sequence[MetricThreshold],
    metric_path: Callable[[MetricThreshold], str],
    *,
    on_pass: sfn.IChainable,
    notify: Notify,
    model_package_group_name: str | None = None,
) -> sfn.IChainable:
    """One Choice per rule, in order. A missing metric fails with ``MetricMissing``; a metric that does
    not meet its threshold is reported (metric, value, threshold) and fails with
    ``QualityGateRejected``. Every Choice checks ``IsPresent`` first, so a missing value never falls
    through to a default branch. No rules: the gate passes straight to ``on_pass``.

    Rules with ``beat_champion_by``/``within_champion_by`` also compare with the champion, the newest
    Approved package of ``model_package_group_name`` (default: the model's name, the group ``MlPipeline``
    creates), looked up first (see :mod:`~cdk_mlops.constructs.champion_gate`)."""
    next_state: sfn.IChainable = on_pass
    headline = Headline(ctx.model.name, TRAINING_WORKFLOW)
    for index in reversed(range(len(rules))):
        rule = rules[index]
        path = metric_path(rule)
        if rule.champion_margin is not None:
            next_state = champion_rule_gate(ctx, index, rule, path, on_pass=next_state, notify=notify)
        gate_name = f"QualityGate {rule.key}"
        missing_line = headline.line(
            f"metric {rule.metric} is missing from the {{}} output", ["$.evaluation.source"], state=gate_name
        )
        missing = notify(f"NotifyMetricMissing{index}", missing_line.text, missing_line.arguments).next(
            sfn.Fail(
                ctx.scope,
                f"MetricMissing{index}",
                error="MetricMissing",
                cause=f"metric {rule.metric} is missing from the evaluation",
            )
        )
        choice = sfn.Choice(ctx.scope, f"Gate{index}", state_name=gate_name)
        choice.when(sfn.Condition.not_(sfn.Condition.is_present(path)), missing)
        if rule.threshold is None:  # a champion-only rule: the metric need only be present here
            next_state = choice.otherwise(next_state)
            continue
        requirement = f"{rule.comparison.value} {rule.threshold:g}"
        rejected_line = headline.line(
            f"{rule.metric} = {{}} does not meet {requirement}; nothing was registered",
            [path],
            state=gate_name,
            verb="stopped at",
        )
        rejected = notify(f"NotifyRejected{index}", rejected_line.text, rejected_line.arguments).next(
            sfn.Fail(
                ctx.scope,
                f"Rejected{index}",
                error="QualityGateRejected",
                cause=f"{rule.metric} does not meet {requirement}",
            )
        )
        choice.when(_comparison(rule, path), next_state)
        choice.otherwise(rejected)
        next_state = choice
    if has_champion_rules(rules):
        group = model_package_group_name or ctx.model.name
        return champion_lookup(ctx, rules, model_package_group_name=group, then=next_state, notify=notify)
    return next_state


def default_registration_step(
    ctx: WorkflowContext, *, model_package_group_name: str, metric_path: Callable[[MetricThreshold], str]
) -> Step:
    """``CreateModelPackage`` in the model's group, PendingManualApproval, with the gate's metrics as
    customer metadata and the execution as client token (a retried state cannot register twice)."""
    environment: dict[str, str] = {}
    if ctx.model.training.entry_point:
        environment = {"SAGEMAKER_PROGRAM": ctx.model.training.entry_point}
    container: dict[str, object] = {
        "Image": ctx.serving_image_uri,
        "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts",
    }
    if environment:
        container["Environment"] = {**environment, "SAGEMAKER_SUBMIT_DIRECTORY.$": RunPaths.SOURCE_DIR}
    content_type = ctx.model.endpoints.content_type
    endpoints = ctx.model.endpoints
    instance_types = sorted({endpoints.staging.instance_type, endpoints.production.instance_type})
    parameters: dict[str, object] = {
        "ModelPackageGroupName": model_package_group_name,
        "ModelPackageDescription.$": "States.Format('Trained by execution {}', $$.Execution.Name)",
        "ModelApprovalStatus": "PendingManualApproval",
        "ClientToken.$": client_token(model_package_group_name),
        "InferenceSpecification": {
            "Containers": [container],
            "SupportedContentTypes": [content_type],
            "SupportedResponseMIMETypes": ["application/json", "text/csv"],
            "SupportedRealtimeInferenceInstanceTypes": instance_types,
            "SupportedTransformInstanceTypes": instance_types,
        },
        "MetadataProperties": {"GeneratedBy.$": "$$.Execution.Id"},
    }
    if ctx.model.quality_gate:
        parameters["CustomerMetadataProperties"] = {
            f"{rule.metric}.$": f"States.JsonToString({metric_path(rule)})" for rule in ctx.model.quality_gate
        }
    if ctx.model.evaluation.source == "evaluation_job":
        bucket = ctx.artifact_bucket.bucket_name
        parameters["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri.$": f"States.Format('s3://{bucket}/{{}}', {RunPaths.EVALUATION_KEY})",
                }
            }
        }
    register = tasks.CallAwsService(
        ctx.scope,
        "RegisterModel",
        service="sagemaker",
        action="createModelPackage",
        parameters=parameters,
        iam_resources=[
            ctx.artifact_bucket.stack.format_arn(
                service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name}/*"
            ),
            ctx.artifact_bucket.stack.format_arn(
                service="sagemaker", resource="model-package-group", resource_name=model_package_group_name
            ),
        ],
        result_selector={"ModelPackageArn.$": "$.ModelPackageArn"},
        result_path="$.registration",
    )
    ctx.retry_throttling(register, "SageMaker")
    ctx.protect(register)
    return Step(sfn.Chain.start(register), [register])
