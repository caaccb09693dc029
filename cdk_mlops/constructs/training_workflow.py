"""The training workflow: a Step Functions state machine that preprocesses, trains, evaluates, gates and
registers one model, with native SageMaker integrations and no Lambda."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_mlops.config.model_config import MetricThreshold, ModelConfig
from cdk_mlops.constructs.compliance import (
    KEY_DECRYPT,
    SERVICE_WIDE_REASON,
    Justification,
    allow_objects,
    allow_publish,
    justify_wildcards,
)
from cdk_mlops.constructs.failure_notice import TRAINING_WORKFLOW, FailurePath, Headline, Line, message, publish
from cdk_mlops.constructs.run_names import run_name
from cdk_mlops.constructs.sagemaker_execution_role import SageMakerExecutionRole
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig
from cdk_mlops.constructs.tuning_step import tuning_training_step
from cdk_mlops.constructs.workflow_context import WorkflowContext, data_prefix_of
from cdk_mlops.constructs.workflow_defaults import allow_key_via, logged_state_machine
from cdk_mlops.constructs.workflow_steps import EvaluationStep, Notify, Step

_TUNING_JUSTIFICATIONS = [
    Justification(
        f"Resource::arn:<AWS::Partition>:sagemaker:*:*:{kind}/*",
        "A tuning job's name is at most 32 characters, all taken by the MD5 of the model and execution name "
        "(tuning_task.tuning_job_name), and SageMaker names its training jobs after it: no prefix to scope to.",
    )
    for kind in ("hyper-parameter-tuning-job", "training-job")
]


class WorkflowSteps(Protocol):
    """The hooks a training workflow is assembled from (``MlPipeline`` implements them)."""

    def preprocessing_step(self, ctx: WorkflowContext) -> Step | None: ...

    def training_step(self, ctx: WorkflowContext) -> Step: ...

    def evaluation_step(self, ctx: WorkflowContext) -> EvaluationStep: ...

    def quality_gate(
        self,
        ctx: WorkflowContext,
        rules: Sequence[MetricThreshold],
        evaluation: EvaluationStep,
        *,
        on_pass: sfn.IChainable,
        notify: Notify,
    ) -> sfn.IChainable: ...

    def registration_step(
        self, ctx: WorkflowContext, *, model_package_group_name: str, evaluation: EvaluationStep
    ) -> Step: ...


class TrainingWorkflow(Construct):
    """A Standard state machine ``ValidateInput → Initialize → [Preprocess] → Train → Evaluate →
    QualityGate → RegisterModel → Succeeded``, every task retried on throttling and caught into one
    failure notification.

    Start it with ``{"PipelineExecutionId": "<id>"}``: the code the build stage packaged is read from
    ``s3://<artifact bucket>/<model>/source/<id>/``. It outputs ``ModelPackageArn``.

    Creates: the state machine (``state_machine``), its role, a KMS-encrypted log group
    (``log_group``, ALL events with execution data, 1 year retention), and the SageMaker execution role
    (``sagemaker_role``, which may pull the training and the ``inference_image_uri`` images) unless one
    is passed. X-Ray tracing is on.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model: ModelConfig,
        steps: WorkflowSteps,
        image_uri: str,
        artifact_bucket: s3.IBucket,
        inference_image_uri: str | None = None,
        encryption_key: kms.IKey,
        notification_topic: sns.ITopic,
        model_package_group_name: str,
        sagemaker_role: iam.IRole | None = None,
        data_bucket: s3.IBucket | None = None,
        data_prefix: str | None = None,
        network: JobNetworkConfig | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        self.model = model
        self.notification_topic = notification_topic
        data_bucket = data_bucket or artifact_bucket
        data_prefix = data_prefix_of(model.name, data_prefix)
        if sagemaker_role is None:
            execution_role = SageMakerExecutionRole(
                self,
                "SageMakerRole",
                model_name=model.name,
                artifact_bucket=artifact_bucket,
                encryption_key=encryption_key,
                # the serving image too: a batch model's transform job runs as this role
                image_uris=[image_uri, inference_image_uri or image_uri]
                + [job.image_uri for job in (model.preprocessing, model.evaluation.job) if job and job.image_uri],
                data_bucket=data_bucket,
                data_prefix=data_prefix,
                vpc_access=network is not None and network.vpc is not None,
            )
            sagemaker_role = execution_role.role
        self.sagemaker_role = sagemaker_role

        failure_path = FailurePath(
            self,
            headline=Headline(model.name, TRAINING_WORKFLOW),
            topic=notification_topic,
            subject=f"cdk-mlops: {model.name}",
            then=sfn.Fail(self, "WorkflowFailed", error="TrainingWorkflowFailed", cause_path="$.error.Cause"),
            job_name_fields=["TrainingJobName", "ProcessingJobName"],
        )
        self.failure_notification = failure_path.notification
        failure = failure_path.entry
        ctx = WorkflowContext(
            scope=self,
            model=model,
            image_uri=image_uri,
            sagemaker_role=sagemaker_role,
            artifact_bucket=artifact_bucket,
            encryption_key=encryption_key,
            network=network or JobNetworkConfig(),
            data_bucket=data_bucket,
            data_prefix=data_prefix,
            failure_handler=failure,
            inference_image_uri=inference_image_uri or image_uri,
        )
        self.context = ctx

        initialize = sfn.Pass(self, "Initialize", parameters=self._run_parameters(ctx), result_path="$.run")
        definition = sfn.Chain.start(initialize)
        preprocessing = steps.preprocessing_step(ctx)
        # training.tuning: a tuning job and its best training job instead of the training_step hook.
        training = tuning_training_step(ctx) if model.training.tuning else steps.training_step(ctx)
        evaluation = steps.evaluation_step(ctx)
        registration = steps.registration_step(
            ctx, model_package_group_name=model_package_group_name, evaluation=evaluation
        )
        result = sfn.Pass(
            self,
            "Result",
            parameters={
                "ModelPackageArn.$": "$.registration.ModelPackageArn",
                "TrainingJobName.$": "$.training.TrainingJobName",
                "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts",
                "Metrics.$": "$.evaluation.metrics",
                "PipelineExecutionId.$": "$.PipelineExecutionId",
            },
        )
        registered = registration.chain.next(result).next(sfn.Succeed(self, "Registered"))
        gate = steps.quality_gate(ctx, model.quality_gate, evaluation, on_pass=registered, notify=self._notification)

        self.task_states: list[sfn.State] = list(registration.task_states)
        for step in (preprocessing, training, evaluation):
            if step is not None:
                definition = definition.next(step.chain)
                self.task_states.extend(step.task_states)
        start = self._validate_input(definition.next(gate))

        self.state_machine, self.log_group = logged_state_machine(
            self,
            definition=start,
            encryption_key=encryption_key,
            timeout=self._timeout(model),
            comment=f"Trains, evaluates, gates and registers model {model.name}",
            log_retention=log_retention,
        )
        for state in self.task_states:
            for statement in getattr(state, "task_policies", []):
                self.state_machine.add_to_role_policy(statement)
        allow_objects(self.state_machine, artifact_bucket, f"{model.name}/runs/")
        allow_key_via(self.state_machine, encryption_key, "s3", KEY_DECRYPT)  # reading evaluation.json (SSE-KMS)
        allow_publish(self.state_machine, notification_topic, encryption_key)
        justify_wildcards(
            self,
            [
                Justification(
                    f"Resource::arn:<AWS::Partition>:sagemaker:*:*:{kind}/{model.name}-*",
                    f"SageMaker {kind}s of this model are named '{model.name}-<execution>-...' per run; "
                    "the name prefix is the narrowest scope.",
                )
                for kind in ("training-job", "processing-job", "transform-job")
            ]
            + (_TUNING_JUSTIFICATIONS if model.training.tuning else [])  # before Resource::*, which matches all
            + [
                Justification(
                    f"Resource::arn:<AWS::Partition>:sagemaker:*:*:model-package/{model_package_group_name}/*",
                    "Model package versions are numbered by SageMaker inside the model's own group.",
                ),
                Justification(
                    f"Resource::{{bucket}}/{model.name}/runs/*",
                    "The workflow reads the evaluation report of its own run, under the model's runs/ prefix.",
                ),
                Justification("Resource::*", SERVICE_WIDE_REASON),
            ],
            values={"bucket": artifact_bucket.bucket_arn},
        )

    def _validate_input(self, main: sfn.IChainable) -> sfn.Choice:
        invalid = sfn.Fail(
            self,
            "InvalidInput",
            error="InvalidInput",
            cause='Start the workflow with {"PipelineExecutionId": "<id of the build that packaged the code>"}',
        )
        return (
            sfn.Choice(self, "ValidateInput")
            .when(sfn.Condition.is_present("$.PipelineExecutionId"), main)
            .otherwise(invalid)
        )

    @staticmethod
    def _run_parameters(ctx: WorkflowContext) -> dict[str, str]:
        bucket = ctx.artifact_bucket.bucket_name
        name = ctx.model.name
        source = f"s3://{bucket}/{name}/source/{{}}/"
        run = f"s3://{bucket}/{name}/runs/{{}}/"
        execution = "$$.Execution.Name"
        return {
            "id.$": execution,
            "source_dir.$": f"States.Format('{source}sourcedir.tar.gz', $.PipelineExecutionId)",
            "code_prefix.$": f"States.Format('{source}src/', $.PipelineExecutionId)",
            "processed_prefix.$": f"States.Format('{run}processed/', {execution})",
            "model_output.$": f"States.Format('{run}model/', {execution})",
            "checkpoints.$": f"States.Format('{run}checkpoints/', {execution})",
            "evaluation_prefix.$": f"States.Format('{run}evaluation/', {execution})",
            "evaluation_key.$": f"States.Format('{name}/runs/{{}}/evaluation/evaluation.json', {execution})",
            # SageMaker names: the model, the MD5 of the execution name and the kind (see run_names).
            "preprocessing_job.$": run_name(name, "prep"),
            "training_job.$": run_name(name, "train"),
            "evaluation_job.$": run_name(name, "eval"),
        }

    def _notification(self, id: str, template: str, paths: Sequence[str]) -> tasks.SnsPublish:
        """A notification whose first line is ``template`` (``{}`` slots for ``paths``), then the
        execution's console URL (see :mod:`~cdk_mlops.constructs.failure_notice`)."""
        return publish(
            self,
            id,
            topic=self.notification_topic,
            subject=f"cdk-mlops: {self.model.name}",
            text=message(Line(template, paths)),
        )

    @staticmethod
    def _timeout(model: ModelConfig) -> Duration:
        minutes = model.training.max_wait_minutes or model.training.max_runtime_minutes
        if model.training.spot and not model.training.max_wait_minutes:
            minutes = 2 * model.training.max_runtime_minutes
        tuning = model.training.tuning
        if tuning is not None:  # the tuning job's training jobs, max_parallel_jobs at a time
            minutes *= -(-(tuning.max_training_jobs or tuning.grid_size) // tuning.max_parallel_jobs)
        for job in (model.preprocessing, model.evaluation.job):
            if job is not None:
                minutes += job.max_runtime_minutes
        return Duration.minutes(minutes + 60)

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` start this workflow."""
        return self.state_machine.grant_start_execution(grantee)

    def metric_failed(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Executions that failed (``ExecutionsFailed``), summed over ``period`` (default 5 minutes)."""
        return self.state_machine.metric_failed(period=period)

    def metric_succeeded(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Executions that succeeded (``ExecutionsSucceeded``), summed over ``period`` (default 5 minutes)."""
        return self.state_machine.metric_succeeded(period=period)
