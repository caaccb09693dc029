"""A SageMaker endpoint owned by CloudFormation, serving a registered model package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Aspects, Aws, CfnCondition, CfnResource, Duration, IAspect
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from cdk_mlops.config.model_config import (
    DataCaptureConfig,
    EndpointVariantConfig,
    TrafficShiftingType,
)
from cdk_mlops.constructs.compliance import Justification, allow_key, allow_objects, justify_wildcards
from cdk_mlops.constructs.sagemaker_execution_role import SageMakerExecutionRole

VARIANT_NAME = "AllTraffic"


@jsii.implements(IAspect)
class _ApplyCondition:
    """Creates every CloudFormation resource under a construct only when ``condition`` holds."""

    def __init__(self, condition: CfnCondition) -> None:
        self.condition = condition

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and node.cfn_options.condition is None:
            node.cfn_options.condition = self.condition


class ModelEndpoint(Construct):
    """A real-time or serverless SageMaker endpoint for ``model_package_arn``.

    Creates a hosting role (read-only on the model's artifacts), an ``AWS::SageMaker::Model`` from the
    package, an endpoint config (volume encrypted with ``encryption_key`` for instance endpoints), and
    the endpoint (``endpoint``). Instance endpoints also get: blue/green ``DeploymentConfig`` (all at
    once, canary or linear, from ``settings.traffic_shifting``) with auto-rollback on the alarms this
    construct creates (5XX errors, p99 model latency) plus ``rollback_alarms``; target-tracking
    autoscaling when ``settings.autoscaling`` is set; request/response capture to
    ``s3://<capture_bucket>/<model>/data-capture/<stage>/`` when ``data_capture.enabled``.

    Defaults: ``latency_threshold`` 1 second at p99; no data capture; no extra rollback alarms.
    ``condition``: when given, every resource here is created only while it holds (the endpoint stack
    uses it so the stack deploys before any model is registered).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        stage: str,
        model_package_arn: str,
        settings: EndpointVariantConfig,
        encryption_key: kms.IKey,
        artifact_bucket: s3.IBucket,
        image_uris: Sequence[str] = (),
        data_capture: DataCaptureConfig | None = None,
        capture_bucket: s3.IBucket | None = None,
        content_type: str = "text/csv",
        rollback_alarms: Sequence[cloudwatch.IAlarm] = (),
        latency_threshold: Duration | None = None,
        condition: CfnCondition | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.settings = settings
        latency_threshold = latency_threshold or Duration.seconds(1)
        data_capture = data_capture or DataCaptureConfig()
        self.hosting_role = SageMakerExecutionRole(
            self,
            "HostingRole",
            model_name=model_name,
            artifact_bucket=artifact_bucket,
            encryption_key=encryption_key,
            image_uris=image_uris,
            read_only=True,
        ).role
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.hosting_role.role_arn,
            containers=[sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=model_package_arn)],
        )
        variant: dict[str, Any] = {"variant_name": VARIANT_NAME, "model_name": self.model.attr_model_name}
        config_props: dict[str, Any] = {}
        if settings.serverless:
            variant["serverless_config"] = sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                max_concurrency=settings.max_concurrency, memory_size_in_mb=settings.memory_mb
            )
        else:
            variant.update(
                initial_instance_count=settings.instance_count,
                instance_type=settings.instance_type,
                initial_variant_weight=1,
            )
            config_props["kms_key_id"] = encryption_key.key_arn
            if data_capture.enabled:
                bucket = capture_bucket or artifact_bucket
                allow_objects(self.hosting_role, bucket, f"{model_name}/data-capture/", write=True)
                allow_key(self.hosting_role, encryption_key)
                config_props["data_capture_config"] = sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                    enable_capture=True,
                    initial_sampling_percentage=data_capture.sampling_percent,
                    destination_s3_uri=f"s3://{bucket.bucket_name}/{model_name}/data-capture/{stage}",
                    kms_key_id=encryption_key.key_arn,
                    capture_options=[
                        sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                        sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                    ],
                    capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                        csv_content_types=[content_type] if "csv" in content_type else None,
                        json_content_types=[content_type] if "json" in content_type else None,
                    ),
                )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(**variant)],
            **config_props,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Resource", endpoint_config_name=self.endpoint_config.attr_endpoint_config_name
        )
        self.endpoint_name = self.endpoint.attr_endpoint_name
        self.alarms: list[cloudwatch.Alarm] = []
        if not settings.serverless:
            names = {
                "errors": f"{Aws.STACK_NAME}-{self.node.id}-5xx-errors",
                "latency": f"{Aws.STACK_NAME}-{self.node.id}-model-latency-p99",
            }
            self.alarms = self._rollback_alarms(latency_threshold, names)
            alarm_names = [names["errors"], names["latency"]] + [a.alarm_name for a in rollback_alarms]
            self.endpoint.deployment_config = self._deployment_config(alarm_names)
        self.scalable_target: appscaling.ScalableTarget | None = None
        if settings.autoscaling is not None:
            self.scalable_target = self._autoscaling()
        if data_capture.enabled and not settings.serverless:
            justify_wildcards(
                self,
                [
                    Justification(
                        f"Resource::{{bucket}}/{model_name}/data-capture/*",
                        "SageMaker writes captured requests under a key per endpoint, variant and hour.",
                    )
                ],
                values={"bucket": (capture_bucket or artifact_bucket).bucket_arn},
            )
        if condition is not None:
            Aspects.of(self).add(_ApplyCondition(condition))

    def _rollback_alarms(self, latency_threshold: Duration, names: dict[str, str]) -> list[cloudwatch.Alarm]:
        # The endpoint names these alarms in its DeploymentConfig, and the alarms watch the endpoint;
        # names derived from the stack name (not Refs) keep that from becoming a dependency cycle.
        errors = cloudwatch.Alarm(
            self,
            "Invocation5XXErrorsAlarm",
            alarm_name=names["errors"],
            alarm_description="The endpoint returned 5XX errors; a deployment in progress rolls back.",
            metric=self.metric_invocation_5xx_errors(period=Duration.minutes(1)),
            threshold=1,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        latency = cloudwatch.Alarm(
            self,
            "ModelLatencyAlarm",
            alarm_name=names["latency"],
            alarm_description="p99 model latency is above the threshold; a deployment in progress rolls back.",
            metric=self.metric_model_latency(statistic="p99", period=Duration.minutes(1)),
            threshold=latency_threshold.to_seconds() * 1_000_000,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        return [errors, latency]

    def _deployment_config(self, alarm_names: Sequence[str]) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        shifting = self.settings.traffic_shifting
        routing: dict[str, Any] = {
            "type": shifting.type.name,
            "wait_interval_in_seconds": shifting.wait_minutes * 60,
        }
        if shifting.type is TrafficShiftingType.CANARY:
            routing["canary_size"] = sagemaker.CfnEndpoint.CapacitySizeProperty(
                type="CAPACITY_PERCENT", value=shifting.size_percent
            )
        elif shifting.type is TrafficShiftingType.LINEAR:
            routing["linear_step_size"] = sagemaker.CfnEndpoint.CapacitySizeProperty(
                type="CAPACITY_PERCENT", value=shifting.size_percent
            )
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(**routing),
                termination_wait_in_seconds=shifting.bake_minutes * 60,
            ),
            auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=name) for name in alarm_names]
            ),
        )

    def _autoscaling(self) -> appscaling.ScalableTarget:
        scaling = self.settings.autoscaling
        assert scaling is not None
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=scaling.min_capacity,
            max_capacity=scaling.max_capacity,
        )
        target.node.add_dependency(self.endpoint)
        target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=scaling.target_invocations_per_instance,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        )
        return target

    @property
    def endpoint_arn(self) -> str:
        """The endpoint's ARN as SageMaker reports it (``Ref``): lowercase, unlike the generated name."""
        return self.endpoint.ref

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` call InvokeEndpoint (and the async/streaming variants) on this endpoint."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:InvokeEndpoint",
                "sagemaker:InvokeEndpointAsync",
                "sagemaker:InvokeEndpointWithResponseStream",
            ],
            resource_arns=[self.endpoint_arn],
        )

    def metric(self, metric_name: str, *, statistic: str = "Sum", period: Duration | None = None) -> cloudwatch.Metric:
        """A metric of this endpoint's variant in the ``AWS/SageMaker`` namespace."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME},
            statistic=statistic,
            period=period or Duration.minutes(5),
        )

    def metric_invocations(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """``Invocations``, summed."""
        return self.metric("Invocations", period=period)

    def metric_invocation_5xx_errors(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """``Invocation5XXErrors``, summed."""
        return self.metric("Invocation5XXErrors", period=period)

    def metric_invocation_4xx_errors(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """``Invocation4XXErrors``, summed."""
        return self.metric("Invocation4XXErrors", period=period)

    def metric_model_latency(self, *, statistic: str = "p99", period: Duration | None = None) -> cloudwatch.Metric:
        """``ModelLatency`` in microseconds, p99 by default."""
        return self.metric("ModelLatency", statistic=statistic, period=period)
