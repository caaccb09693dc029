"""A SageMaker endpoint owned by CloudFormation, serving a registered model package."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnResource, Duration, Fn
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_mlops.config.model_config import (
    AutoscalingConfig,
    DataCaptureConfig,
    EndpointVariantConfig,
    SizeType,
    TrafficShiftingType,
)
from cdk_mlops.constructs.compliance import (
    Justification,
    allow_key,
    allow_objects,
    allow_publish,
    escape_glob,
    justify_wildcards,
)
from cdk_mlops.constructs.sagemaker_execution_role import SageMakerExecutionRole
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig

VARIANT_NAME = "AllTraffic"
#: The shadow variant of an endpoint under a shadow test (``ShadowProductionVariants``).
SHADOW_VARIANT_NAME = "Shadow"
#: The rollback alarms every instance endpoint creates, named ``<stack name>-<endpoint id>-<suffix>``.
ROLLBACK_ALARM_SUFFIXES = ("5xx-errors", "model-latency-p99", "model-errors")


def rollback_alarm_names(stack_name: str, endpoint_id: str = "Endpoint") -> list[str]:
    """The names of the rollback alarms of the ``ModelEndpoint`` ``endpoint_id`` in stack ``stack_name``:
    known without referencing that stack (the pipeline stack's dashboard shows them by name)."""
    return [f"{stack_name}-{endpoint_id}-{suffix}" for suffix in ROLLBACK_ALARM_SUFFIXES]


@dataclasses.dataclass(frozen=True)
class ModelImage:
    """A model served from its image and model data rather than from a model package (which SageMaker
    accepts only in the package's own region): ``image_uri``, ``model_data_url`` and the container's
    ``environment`` (default none)."""

    image_uri: str
    model_data_url: str
    environment: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _apply_condition(scope: Construct, condition: CfnCondition) -> None:
    """Creates every CloudFormation resource under ``scope`` only when ``condition`` holds (those that
    have no condition yet)."""
    for node in scope.node.find_all():
        if isinstance(node, CfnResource):
            options = node.cfn_options
            if options.condition is None:
                options.condition = condition


class ModelEndpoint(Construct):
    """A real-time or serverless SageMaker endpoint for ``model_package_arn``, or for ``model_image``
    (exactly one of the two).

    Creates a hosting role (read-only on the model's artifacts), an ``AWS::SageMaker::Model`` from the
    package, an endpoint config (volume encrypted with ``encryption_key`` for instance endpoints), and
    the endpoint (``endpoint``). Instance endpoints also get: a ``DeploymentConfig`` from
    ``settings.traffic_shifting`` (blue/green all at once, canary or linear, or a rolling update) with
    auto-rollback on the alarms this construct creates (5XX errors, p99 model latency, model
    invocation errors; ``alarms``, notifying ``alarm_topic`` when one is given, default none) plus
    ``rollback_alarms``; target-tracking
    autoscaling when ``settings.autoscaling`` is set; request/response capture to
    ``s3://<capture_bucket>/<model>/data-capture/<stage>/`` when ``data_capture.enabled``.

    Defaults: ``latency_threshold`` 1 second at p99; no data capture; no extra rollback alarms.
    The hosting role reads the model data under ``<model>/`` of ``model_data_bucket``, decrypting with
    ``model_data_key`` (defaults: ``artifact_bucket`` and ``encryption_key``; an endpoint in another
    account than the registry passes the registry account's bucket and key, which must grant it).
    ``condition``: when given, every resource here is created only while it holds (the endpoint stack
    uses it so the stack deploys before any model is registered). It is applied at the end of
    ``__init__``; resources added under the endpoint later (e.g. ``scalable_target.scale_on_metric``)
    need ``resource.cfn_options.condition`` set by whoever adds them.
    ``network``: VPC subnets and security groups for the model's containers, and network isolation
    (default: neither). Instance endpoints only; the hosting role then gets the network-interface
    permissions SageMaker needs.

    ``settings.async_inference`` makes the endpoint asynchronous: an ``AsyncInferenceConfig`` on the
    endpoint config writing results and failures under the artifact bucket (KMS-encrypted with
    ``encryption_key``), the hosting role allowed to read request payloads under the input prefix, write
    the output and failure prefixes and publish to ``success_topic`` and ``error_topic`` (created when
    ``notify``, encrypted with ``encryption_key``; otherwise ``None``). With ``scale_to_zero`` the
    scalable target goes from 0 instances, with a target-tracking policy on
    ``ApproximateBacklogSizePerInstance`` and a step policy (``scale_out_from_zero``, triggered by
    ``backlog_without_capacity_alarm`` on ``HasBacklogWithoutCapacity``) that adds one instance when
    requests wait and no instance runs.

    ``shadow_model_package_arn`` (default none; instance endpoints with ``settings.shadow``) adds a
    ``Shadow`` variant serving that package (``shadow_model``) on the production variant's instance type
    and count, weighted ``settings.shadow.traffic_percent``/100, present only while ``shadow_condition``
    holds (default: always).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        stage: str,
        model_package_arn: str | None = None,
        model_image: ModelImage | None = None,
        settings: EndpointVariantConfig,
        encryption_key: kms.IKey,
        artifact_bucket: s3.IBucket,
        model_data_bucket: s3.IBucket | None = None,
        model_data_key: kms.IKey | None = None,
        image_uris: Sequence[str] = (),
        data_capture: DataCaptureConfig | None = None,
        capture_bucket: s3.IBucket | None = None,
        content_type: str = "text/csv",
        rollback_alarms: Sequence[cloudwatch.IAlarm] = (),
        latency_threshold: Duration | None = None,
        condition: CfnCondition | None = None,
        network: JobNetworkConfig | None = None,
        alarm_topic: sns.ITopic | None = None,
        shadow_model_package_arn: str | None = None,
        shadow_condition: CfnCondition | None = None,
    ) -> None:
        super().__init__(scope, id)
        if (model_package_arn is None) == (model_image is None):
            raise ValueError(f"{model_name} {stage}: give exactly one of model_package_arn and model_image")
        self.settings = settings
        latency_threshold = latency_threshold or Duration.seconds(1)
        data_capture = data_capture or DataCaptureConfig()
        network = network or JobNetworkConfig()
        if settings.serverless and (network.vpc is not None or network.network_isolation):
            raise ValueError(
                f"{model_name} {stage}: serverless endpoints take no VPC or network isolation; "
                "use an instance endpoint (serverless: false) to place the model in a VPC"
            )
        self.hosting_role = SageMakerExecutionRole(
            self,
            "HostingRole",
            model_name=model_name,
            artifact_bucket=model_data_bucket or artifact_bucket,
            encryption_key=model_data_key or encryption_key,
            image_uris=image_uris,
            read_only=True,
            vpc_access=network.vpc is not None,
        ).role
        vpc_config = network.render_vpc_config()
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.hosting_role.role_arn,
            containers=[
                sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=model_package_arn)
                if model_image is None
                else sagemaker.CfnModel.ContainerDefinitionProperty(
                    image=model_image.image_uri,
                    model_data_url=model_image.model_data_url,
                    environment=dict(model_image.environment) or None,
                )
            ],
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                subnets=vpc_config["Subnets"], security_group_ids=vpc_config["SecurityGroupIds"]
            )
            if vpc_config
            else None,
            enable_network_isolation=True if network.network_isolation else None,
        )
        variant: dict[str, Any] = {"variant_name": VARIANT_NAME, "model_name": self.model.attr_model_name}
        config_props: dict[str, Any] = {}
        if settings.serverless:
            variant["serverless_config"] = sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                max_concurrency=settings.max_concurrency,
                memory_size_in_mb=settings.memory_mb,
                provisioned_concurrency=settings.provisioned_concurrency,
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
        self.success_topic: sns.Topic | None = None
        self.error_topic: sns.Topic | None = None
        async_prefixes: tuple[str, str, str] | None = None
        if settings.async_inference is not None:
            async_prefixes = settings.async_inference.prefixes(model_name, stage)
            config_props["async_inference_config"] = self._async_inference_config(
                model_name, stage, async_prefixes, artifact_bucket, encryption_key
            )
        self.shadow_model: sagemaker.CfnModel | None = None
        if shadow_model_package_arn is not None:
            config_props["shadow_production_variants"] = self._shadow_variant(
                shadow_model_package_arn, shadow_condition, vpc_config, network
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
            names = dict(zip(ROLLBACK_ALARM_SUFFIXES, rollback_alarm_names(Aws.STACK_NAME, self.node.id), strict=True))
            self.alarms = self._rollback_alarms(latency_threshold, names)
            if alarm_topic is not None:
                for alarm in self.alarms:
                    alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
            alarm_names = [names["5xx-errors"], names["model-latency-p99"], names["model-errors"]] + [
                a.alarm_name for a in rollback_alarms
            ]
            self.endpoint.deployment_config = self._deployment_config(alarm_names)
        self.scalable_target: appscaling.ScalableTarget | None = None
        self.scale_out_from_zero: appscaling.StepScalingAction | None = None
        self.backlog_without_capacity_alarm: cloudwatch.Alarm | None = None
        if settings.async_inference is not None and settings.async_inference.scale_to_zero:
            self.scalable_target = self._async_autoscaling()
        elif settings.autoscaling is not None:
            self.scalable_target = self._autoscaling()
        if async_prefixes is not None:
            output_prefix, failure_prefix, input_prefix = async_prefixes
            justify_wildcards(
                self,
                [
                    Justification(
                        f"Resource::{{bucket}}/{escape_glob(prefix)}*",
                        "SageMaker asynchronous inference reads request payloads and writes one result "
                        "object per request under this prefix, with keys it generates.",
                    )
                    for prefix in (output_prefix, failure_prefix, input_prefix)
                ],
                values={"bucket": artifact_bucket.bucket_arn},
            )
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
            # Last, so the resources L2 constructs made above (scaling policy, role policy) get it too.
            _apply_condition(self, condition)

    def _shadow_variant(
        self,
        model_package_arn: str,
        condition: CfnCondition | None,
        vpc_config: Mapping[str, Any] | None,
        network: JobNetworkConfig,
    ) -> Any:
        """The ``Shadow`` variant serving ``model_package_arn`` on the production variant's instance type
        and count, weighted ``traffic_percent``/100 of the production variant (SageMaker mirrors that share
        of requests to it), present only while ``condition`` holds (the stack's shadow parameter is set)."""
        shadow = self.settings.shadow
        assert shadow is not None and not self.settings.serverless
        self.shadow_model = sagemaker.CfnModel(
            self,
            "ShadowModel",
            execution_role_arn=self.hosting_role.role_arn,
            containers=[sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=model_package_arn)],
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                subnets=vpc_config["Subnets"], security_group_ids=vpc_config["SecurityGroupIds"]
            )
            if vpc_config
            else None,
            enable_network_isolation=True if network.network_isolation else None,
        )
        variant = {
            "VariantName": SHADOW_VARIANT_NAME,
            "ModelName": self.shadow_model.attr_model_name,
            "InstanceType": self.settings.instance_type,
            "InitialInstanceCount": self.settings.instance_count,
            "InitialVariantWeight": shadow.traffic_percent / 100,
        }
        if condition is None:
            return [variant]
        self.shadow_model.cfn_options.condition = condition
        return Fn.condition_if(condition.logical_id, [variant], Aws.NO_VALUE)

    def _async_inference_config(
        self,
        model_name: str,
        stage: str,
        prefixes: tuple[str, str, str],
        bucket: s3.IBucket,
        key: kms.IKey,
    ) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        config = self.settings.async_inference
        assert config is not None
        output_prefix, failure_prefix, input_prefix = prefixes
        allow_objects(self.hosting_role, bucket, input_prefix)
        allow_objects(self.hosting_role, bucket, output_prefix, write=True)
        allow_objects(self.hosting_role, bucket, failure_prefix, write=True)
        allow_key(self.hosting_role, key)
        notification = None
        if config.notify:
            self.success_topic = sns.Topic(
                self,
                "AsyncSuccessTopic",
                master_key=key,
                enforce_ssl=True,
                display_name=f"cdk-mlops {model_name} {stage} async inference results",
            )
            self.error_topic = sns.Topic(
                self,
                "AsyncErrorTopic",
                master_key=key,
                enforce_ssl=True,
                display_name=f"cdk-mlops {model_name} {stage} async inference errors",
            )
            allow_publish(self.hosting_role, self.success_topic, key)
            allow_publish(self.hosting_role, self.error_topic, key)
            notification = sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                success_topic=self.success_topic.topic_arn, error_topic=self.error_topic.topic_arn
            )
        return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=f"s3://{bucket.bucket_name}/{output_prefix}",
                s3_failure_path=f"s3://{bucket.bucket_name}/{failure_prefix}",
                kms_key_id=key.key_arn,
                notification_config=notification,
            ),
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=config.max_concurrent_invocations_per_instance
            ),
        )

    def _async_autoscaling(self) -> appscaling.ScalableTarget:
        """Scale to zero as AWS documents for asynchronous endpoints: target tracking on the backlog per
        instance, and a step policy that adds an instance when requests wait with none running (target
        tracking alone would start from 0 only once the backlog exceeds the target)."""
        config = self.settings.async_inference
        assert config is not None
        scaling = self.settings.autoscaling or AutoscalingConfig()
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=0,
            max_capacity=scaling.max_capacity,
        )
        target.node.add_dependency(self.endpoint)
        target.scale_to_track_metric(
            "BacklogPerInstance",
            target_value=config.target_backlog_per_instance,
            custom_metric=self.metric_endpoint(
                "ApproximateBacklogSizePerInstance", statistic="Average", period=Duration.minutes(1)
            ),
            scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        )
        action = appscaling.StepScalingAction(
            self,
            "ScaleOutFromZero",
            scaling_target=target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.AVERAGE,
            cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        )
        action.add_adjustment(adjustment=1, lower_bound=0)
        alarm = cloudwatch.Alarm(
            self,
            "HasBacklogWithoutCapacityAlarm",
            alarm_description="Requests wait in the asynchronous queue and no instance runs: scale out from 0.",
            metric=self.metric_endpoint("HasBacklogWithoutCapacity", statistic="Average", period=Duration.minutes(1)),
            threshold=1,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        )
        alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(action))
        self.scale_out_from_zero = action
        self.backlog_without_capacity_alarm = alarm
        return target

    def _rollback_alarms(self, latency_threshold: Duration, names: dict[str, str]) -> list[cloudwatch.Alarm]:
        # The endpoint names these alarms in its DeploymentConfig, and the alarms watch the endpoint;
        # names derived from the stack name (not Refs) keep that from becoming a dependency cycle.
        errors = cloudwatch.Alarm(
            self,
            "Invocation5XXErrorsAlarm",
            alarm_name=names["5xx-errors"],
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
            alarm_name=names["model-latency-p99"],
            alarm_description="p99 model latency is above the threshold; a deployment in progress rolls back.",
            metric=self.metric_model_latency(statistic="p99", period=Duration.minutes(1)),
            threshold=latency_threshold.to_milliseconds() * 1_000,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        model_errors = cloudwatch.Alarm(
            self,
            "InvocationModelErrorsAlarm",
            alarm_name=names["model-errors"],
            alarm_description="The model container failed requests (non-2XX answers, timeouts, broken "
            "responses); a deployment in progress rolls back.",
            metric=self.metric_invocation_model_errors(period=Duration.minutes(1)),
            threshold=1,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        return [errors, latency, model_errors]

    @staticmethod
    def _capacity(percent: int | None, instances: int | None) -> sagemaker.CfnEndpoint.CapacitySizeProperty:
        if instances is not None:
            return sagemaker.CfnEndpoint.CapacitySizeProperty(type="INSTANCE_COUNT", value=instances)
        assert percent is not None
        return sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=percent)

    def _deployment_config(self, alarm_names: Sequence[str]) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        shifting = self.settings.traffic_shifting
        by_count = shifting.size_type is SizeType.INSTANCE_COUNT
        size = self._capacity(shifting.size_percent, shifting.size_instances if by_count else None)
        rollback = sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=name) for name in alarm_names]
        )
        if shifting.type is TrafficShiftingType.ROLLING:
            rollback_size = None
            if shifting.rollback_size_percent is not None or shifting.rollback_size_instances is not None:
                rollback_size = self._capacity(shifting.rollback_size_percent, shifting.rollback_size_instances)
            timeout = shifting.max_execution_timeout_minutes
            return sagemaker.CfnEndpoint.DeploymentConfigProperty(
                rolling_update_policy=sagemaker.CfnEndpoint.RollingUpdatePolicyProperty(
                    maximum_batch_size=size,
                    wait_interval_in_seconds=shifting.wait_minutes * 60,
                    maximum_execution_timeout_in_seconds=timeout * 60 if timeout is not None else None,
                    rollback_maximum_batch_size=rollback_size,
                ),
                auto_rollback_configuration=rollback,
            )
        routing: dict[str, Any] = {
            "type": shifting.type.name,
            "wait_interval_in_seconds": shifting.wait_minutes * 60,
        }
        if shifting.type is TrafficShiftingType.CANARY:
            routing["canary_size"] = size
        elif shifting.type is TrafficShiftingType.LINEAR:
            routing["linear_step_size"] = size
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(**routing),
                termination_wait_in_seconds=shifting.bake_minutes * 60,
            ),
            auto_rollback_configuration=rollback,
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

    def metric_endpoint(
        self, metric_name: str, *, statistic: str = "Average", period: Duration | None = None
    ) -> cloudwatch.Metric:
        """A metric with only the ``EndpointName`` dimension (the asynchronous queue's
        ``ApproximateBacklogSize``, ``ApproximateBacklogSizePerInstance``, ``HasBacklogWithoutCapacity``)."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name},
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

    def metric_invocation_model_errors(self, *, period: Duration | None = None) -> cloudwatch.Metric:
        """``InvocationModelErrors`` (requests the model container did not answer with 2XX, including
        timeouts and malformed responses), summed."""
        return self.metric("InvocationModelErrors", period=period)

    def metric_model_latency(self, *, statistic: str = "p99", period: Duration | None = None) -> cloudwatch.Metric:
        """``ModelLatency`` in microseconds, p99 by default."""
        return self.metric("ModelLatency", statistic=statistic, period=period)
