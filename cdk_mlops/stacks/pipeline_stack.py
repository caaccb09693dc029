"""One model's deployment pipeline and workflows."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_mlops import stack_outputs
from cdk_mlops.config.model_config import ModelConfig
from cdk_mlops.constructs.ml_pipeline import MlPipeline, MlPipelineBase
from cdk_mlops.constructs.model_dashboard import ModelDashboard
from cdk_mlops.constructs.model_endpoint import rollback_alarm_names
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig


class ModelPipelineStack(Stack):
    """The pipeline of one model (``pipeline``, an instance of ``pipeline_class``, default
    ``MlPipeline``), deploying to the endpoint stacks named ``staging_stack_name`` and
    ``production_stack_name`` (none for a batch model, which hosts no endpoint). Shared resources come
    in as ARNs of the platform stack's exports and are imported here, so grants land in this stack's IAM
    policies and never in the platform's key policy (which would make the platform depend on every
    model).

    Also ``training_failed_alarm`` (``ExecutionsFailed >= 1`` of the training workflow in 5 minutes,
    notifying the model's topic) and ``dashboard`` (``ModelDashboard``: releases, every workflow
    (``MlPipelineBase.release_workflows``; the last one's successes count as releases), the
    quality-gate metrics, and the alarm states of this alarm and of the instance endpoints' rollback
    alarms, which it names from the endpoint stack names: no reference to those stacks).

    ``network`` (default none) runs the SageMaker processing and training jobs in VPC subnets with
    security groups, with optional network isolation and inter-container traffic encryption.
    ``production_replica_stack_name``: see ``MlPipelineBase`` (production in another region).
    ``self_update`` (default: ``pipeline.self_update`` of the config): see ``MlPipelineBase``.
    Outputs ``PipelineName``, ``TrainingStateMachineArn``, ``DeployProductionStateMachineArn`` (endpoint
    models) and ``ModelPackageGroupName``: what ``cdk-mlops status``/``approve``/``rollback`` read."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model: ModelConfig,
        artifact_bucket_arn: str,
        encryption_key_arn: str,
        staging_stack_name: str | None = None,
        production_stack_name: str | None = None,
        pipeline_class: type[MlPipelineBase] = MlPipeline,
        network: JobNetworkConfig | None = None,
        production_replica_stack_name: str | None = None,
        self_update: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        key = kms.Key.from_key_arn(self, "PlatformKey", encryption_key_arn)
        bucket = s3.Bucket.from_bucket_attributes(
            self, "ArtifactBucket", bucket_arn=artifact_bucket_arn, encryption_key=key
        )
        self.pipeline = pipeline_class(
            self,
            "MlPipeline",
            model=model,
            artifact_bucket=bucket,
            encryption_key=key,
            staging_stack_name=staging_stack_name,
            production_stack_name=production_stack_name,
            network=network,
            production_replica_stack_name=production_replica_stack_name,
            self_update=self_update,
        )
        pipeline = self.pipeline
        self.training_failed_alarm = cloudwatch.Alarm(
            self,
            "TrainingFailedAlarm",
            alarm_description=f"A training workflow execution of {model.name} failed.",
            metric=pipeline.training.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.training_failed_alarm.add_alarm_action(cloudwatch_actions.SnsAction(pipeline.notification_topic))
        endpoint_alarms: list[cloudwatch.IAlarm] = []
        for stage, stack_name in (("Staging", staging_stack_name), ("Production", production_stack_name)):
            if stack_name is None:  # a batch model has no endpoint stacks
                continue
            settings = model.endpoints.staging if stage == "Staging" else model.endpoints.production
            elsewhere = settings.account is not None or settings.region not in (None, self.region)
            if settings.serverless or elsewhere:  # another account's or region's alarms stay there
                continue
            # A model on a shared endpoint: its inference component's alarms (Component, not Endpoint).
            alarm_names = rollback_alarm_names(stack_name, "Component" if settings.shared_endpoint else "Endpoint")
            endpoint_alarms += [
                cloudwatch.Alarm.from_alarm_name(self, f"{stage}RollbackAlarm{index}", name)
                for index, name in enumerate(alarm_names)
            ]
        self._operator_outputs(pipeline)
        workflows = pipeline.release_workflows()
        self.dashboard = ModelDashboard(
            self,
            "Dashboard",
            model_name=model.name,
            pipeline=pipeline.pipeline,
            release_workflow=list(workflows.values())[-1],
            workflows=workflows,
            gate_metrics=[rule.metric for rule in model.quality_gate],
            alarms=[self.training_failed_alarm, *endpoint_alarms],
        )

    def _operator_outputs(self, pipeline: MlPipelineBase) -> None:
        """Outputs the operator commands read (names in :mod:`cdk_mlops.stack_outputs`)."""
        values = {
            stack_outputs.PIPELINE_NAME: pipeline.pipeline.pipeline_name,
            stack_outputs.TRAINING_STATE_MACHINE: pipeline.training.state_machine.state_machine_arn,
            stack_outputs.MODEL_PACKAGE_GROUP: str(pipeline.model_package_group.model_package_group_name),
        }
        if pipeline.deploy_production is not None:
            values[stack_outputs.DEPLOY_PRODUCTION_STATE_MACHINE] = (
                pipeline.deploy_production.state_machine.state_machine_arn
            )
        for name, value in values.items():
            CfnOutput(self, name, value=value, description=f"{name} (read by cdk-mlops status/approve/rollback)")
