"""Scheduled data-drift check of one model's production inputs, with optional retraining.

SageMaker Model Monitor is closed to new customers, so the check is our own: a processing job runs the
model author's drift script over the captured inputs and the training data, and the workflow publishes
the score it writes as a CloudWatch metric that an alarm watches.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_mlops.config.model_config import DriftConfig
from cdk_mlops.constructs.compliance import (
    KEY_DECRYPT,
    SERVICE_WIDE_REASON,
    Justification,
    allow_publish,
    justify_wildcards,
)
from cdk_mlops.constructs.failure_notice import FailurePath, Headline, catch_failure
from cdk_mlops.constructs.run_names import run_name
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig, ProcessingJobTask, S3Channel
from cdk_mlops.constructs.workflow_context import data_prefix_of
from cdk_mlops.constructs.workflow_defaults import allow_key_via, logged_state_machine, retry_throttling, service_role

METRIC_NAMESPACE = "cdk-mlops"
METRIC_NAME = "DriftScore"
PROCESSING_ROOT = "/opt/ml/processing"
#: Where the build keeps the newest tested copy of the model's ``src/`` (``default_build_spec``).
LATEST_SOURCE = "source/latest/src/"


class DriftCheck(Construct):
    """On ``settings.schedule``, a Standard state machine ``Initialize → DetectDrift (processing job) →
    ReadDriftScore (S3 GetObject + StringToJson) → PublishDriftScore (CloudWatch PutMetricData) →
    DriftChecked``; every task retries throttling and is caught into a notification and a Fail.

    The processing job ``<model>-<md5 of the execution name>-drift`` runs ``src/<settings.script>`` (the copy the
    newest successful build left in ``<model>/source/latest/src/``) with the captured production inputs
    (``<model>/data-capture/production/``) in ``/opt/ml/processing/input/captured`` and the training data
    (``<data prefix>train/``) in ``/opt/ml/processing/input/baseline``; it must write
    ``{"drift_score": <number>}`` to ``/opt/ml/processing/output/drift/drift.json``, which lands in
    ``<model>/drift/<execution name>/``. The job name is valid for any execution name (at most 59
    characters, see ``run_names``); a failure notifies with the state and reason (``failure_notice``).

    Creates: ``state_machine`` and ``log_group``; ``schedule`` (EventBridge Scheduler, role allowed
    ``states:StartExecution`` on this state machine only); ``alarm`` (``DriftScore`` maximum above
    ``settings.threshold`` in a 1 hour period, missing data ignored so a persisting drift stays in ALARM,
    notifying ``notification_topic``); with ``retrain_on_drift`` ``retrain_rule`` (EventBridge rule on
    the alarm entering ALARM, starting ``pipeline``); with ``retrain_schedule`` ``retrain_schedule``
    (a schedule starting ``pipeline``). The pipeline-starting roles may only
    ``codepipeline:StartPipelineExecution`` ``pipeline``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        settings: DriftConfig,
        image_uri: str,
        sagemaker_role: iam.IRole,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        notification_topic: sns.ITopic,
        pipeline: codepipeline.IPipeline,
        data_bucket: s3.IBucket | None = None,
        data_prefix: str | None = None,
        network: JobNetworkConfig | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, id)
        self.model_name = model_name
        self.settings = settings
        data_bucket = data_bucket or artifact_bucket
        data_prefix = data_prefix_of(model_name, data_prefix)
        bucket = artifact_bucket.bucket_name
        execution = "$$.Execution.Name"

        failure = FailurePath(
            self,
            headline=Headline(model_name, "drift check"),
            topic=notification_topic,
            subject=f"cdk-mlops: {model_name}",
            then=sfn.Fail(self, "DriftCheckFailed", error="DriftCheckFailed", cause_path="$.error.Cause"),
            job_name_fields=["ProcessingJobName"],
        ).entry

        initialize = sfn.Pass(
            self,
            "Initialize",
            parameters={
                "job_name.$": run_name(model_name, "drift"),
                "output_prefix.$": f"States.Format('s3://{bucket}/{model_name}/drift/{{}}/', {execution})",
                "score_key.$": f"States.Format('{model_name}/drift/{{}}/drift.json', {execution})",
            },
            result_path="$.run",
        )
        detect = ProcessingJobTask(
            self,
            "DetectDrift",
            job_name="$.run.job_name",
            job_name_prefix=f"{model_name}-",
            image_uri=image_uri,
            role=sagemaker_role,
            entrypoint=["python3", f"{PROCESSING_ROOT}/input/code/{settings.script}"],
            inputs=[
                S3Channel("code", f"s3://{bucket}/{model_name}/{LATEST_SOURCE}", f"{PROCESSING_ROOT}/input/code"),
                S3Channel(
                    "baseline",
                    f"s3://{data_bucket.bucket_name}/{data_prefix}train/",
                    f"{PROCESSING_ROOT}/input/baseline",
                ),
                S3Channel(
                    "captured",
                    f"s3://{bucket}/{model_name}/data-capture/production/",
                    f"{PROCESSING_ROOT}/input/captured",
                ),
            ],
            outputs=[S3Channel("drift", "$.run.output_prefix", f"{PROCESSING_ROOT}/output/drift")],
            instance_type=settings.instance_type,
            max_runtime=Duration.hours(1),
            environment={"MODEL_NAME": model_name, "DRIFT_THRESHOLD": f"{settings.threshold:g}"},
            encryption_key=encryption_key,
            network=network,
            result_path="$.driftJob",
        )
        read = tasks.CallAwsService(
            self,
            "ReadDriftScore",
            service="s3",
            action="getObject",
            iam_action="s3:GetObject",
            parameters={"Bucket": bucket, "Key.$": "$.run.score_key"},
            iam_resources=[artifact_bucket.arn_for_objects(f"{model_name}/drift/*")],
            result_selector={"report.$": "States.StringToJson($.Body)"},
            result_path="$.drift",
        )
        publish = sfn.CustomState(
            self,
            "PublishDriftScore",
            state_json={
                "Type": "Task",
                "Resource": Stack.of(self).format_arn(
                    service="states",
                    account="",
                    region="",
                    resource="aws-sdk",
                    resource_name="cloudwatch:putMetricData",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
                "Parameters": {
                    "Namespace": METRIC_NAMESPACE,
                    "MetricData": [
                        {
                            "MetricName": METRIC_NAME,
                            "Dimensions": [{"Name": "Model", "Value": model_name}],
                            "Value.$": "$.drift.report.drift_score",
                            "Unit": "None",
                        }
                    ],
                },
                "ResultPath": None,
            },
        )
        retry_throttling(read, "S3")
        retry_throttling(publish, "CloudWatch")
        for task in (detect, read, publish):
            catch_failure(task, failure)
        definition = (
            sfn.Chain.start(initialize).next(detect).next(read).next(publish).next(sfn.Succeed(self, "DriftChecked"))
        )
        self.state_machine, self.log_group = logged_state_machine(
            self,
            definition=definition,
            encryption_key=encryption_key,
            timeout=Duration.hours(2),
            comment=f"Measures input drift of model {model_name} and publishes {METRIC_NAMESPACE}/{METRIC_NAME}",
            log_retention=log_retention,
        )
        for statement in detect.task_policies:
            self.state_machine.add_to_role_policy(statement)
        # PutMetricData has no resource-level permissions; the namespace condition scopes it.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRIC_NAMESPACE}},
            )
        )
        allow_key_via(self.state_machine, encryption_key, "s3", KEY_DECRYPT)  # reading the drift score (SSE-KMS)
        allow_publish(self.state_machine, notification_topic, encryption_key)

        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=scheduler.ScheduleExpression.expression(settings.schedule),
            description=f"Drift check of model {model_name}",
            target=scheduler_targets.StepFunctionsStartExecution(
                self.state_machine, role=self._role("ScheduleRole", "scheduler.amazonaws.com", "drift check")
            ),
        )

        self.metric = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=METRIC_NAME,
            dimensions_map={"Model": model_name},
            statistic="Maximum",
            period=Duration.hours(1),
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_description=f"Input drift of model {model_name} above {settings.threshold:g}.",
            metric=self.metric,
            threshold=settings.threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        self.alarm.add_alarm_action(cloudwatch_actions.SnsAction(notification_topic))

        self.retrain_rule: events.Rule | None = None
        if settings.retrain_on_drift:
            self.retrain_rule = events.Rule(
                self,
                "RetrainOnDrift",
                description=f"Retrains model {model_name} when its drift alarm fires.",
                event_pattern=events.EventPattern(
                    source=["aws.cloudwatch"],
                    detail_type=["CloudWatch Alarm State Change"],
                    resources=[self.alarm.alarm_arn],
                    detail={"state": {"value": ["ALARM"]}},
                ),
                targets=[
                    events_targets.CodePipeline(
                        pipeline, event_role=self._role("RetrainRole", "events.amazonaws.com", "retraining on drift")
                    )
                ],
            )
        self.retrain_schedule: scheduler.Schedule | None = None
        if settings.retrain_schedule:
            self.retrain_schedule = scheduler.Schedule(
                self,
                "RetrainSchedule",
                schedule=scheduler.ScheduleExpression.expression(settings.retrain_schedule),
                description=f"Periodic retraining of model {model_name}",
                target=scheduler_targets.CodePipelineStartPipelineExecution(
                    pipeline,
                    role=self._role("RetrainScheduleRole", "scheduler.amazonaws.com", "periodic retraining"),
                ),
            )

        justify_wildcards(
            self,
            [
                Justification(
                    f"Resource::arn:<AWS::Partition>:sagemaker:*:*:processing-job/{model_name}-*",
                    f"Drift processing jobs of this model are named '{model_name}-<execution>-drift' per run; "
                    "the name prefix is the narrowest scope.",
                ),
                Justification(
                    f"Resource::{{bucket}}/{model_name}/drift/*",
                    "The workflow reads the drift score of its own run, under the model's drift/ prefix.",
                ),
                Justification(
                    "Resource::*",
                    f"{SERVICE_WIDE_REASON} cloudwatch:PutMetricData has no resource-level permissions "
                    f"(limited to the {METRIC_NAMESPACE} namespace by condition).",
                ),
            ],
            values={"bucket": artifact_bucket.bucket_arn},
        )

    def _role(self, id: str, service: str, purpose: str) -> iam.Role:
        """A role only ``service`` of this account may assume; the target grants it one action."""
        return service_role(self, id, service=service, description=f"{purpose} of model {self.model_name}")
