"""Several models on one SageMaker endpoint: the shared endpoint (instances only) and each model's
inference component on it (its model, its copies and compute, its rollout and its alarms)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, CfnCondition, Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_mlops.config.model_config import InferenceComponentConfig
from cdk_mlops.config.shared_endpoint_config import SharedEndpointConfig
from cdk_mlops.constructs.compliance import allow_key
from cdk_mlops.constructs.model_endpoint import ROLLBACK_ALARM_SUFFIXES, VARIANT_NAME, _apply_condition
from cdk_mlops.constructs.sagemaker_execution_role import SageMakerExecutionRole

#: The output of a model's endpoint stack naming its inference component (the smoke test reads it).
COMPONENT_OUTPUT = "InferenceComponentName"
#: SageMaker's routing strategies by the value of ``routing`` in a shared endpoint file.
ROUTING_STRATEGIES = {"least_outstanding_requests": "LEAST_OUTSTANDING_REQUESTS", "random": "RANDOM"}


def component_alarm_names(stack_name: str, component_id: str = "Component") -> list[str]:
    """The rollback alarms of the ``InferenceComponent`` ``component_id`` in stack ``stack_name``."""
    return [f"{stack_name}-{component_id}-{suffix}" for suffix in ROLLBACK_ALARM_SUFFIXES]


class SharedEndpoint(Construct):
    """A SageMaker endpoint that serves no model of its own: ``settings.instance_count`` instances of
    ``settings.instance_type`` (variant ``AllTraffic``, volumes encrypted with ``encryption_key``) on which
    models run as inference components. With ``settings.managed_instance_scaling`` SageMaker adds and
    removes instances as the components' copies need; requests are routed as ``settings.routing`` says
    (default: the copy with the fewest outstanding requests). The endpoint config's execution role
    (``role``, created here) only uses the key. ``endpoint_name``: the endpoint's name (default: generated);
    the stacks of the models' components use it as a plain string (no export), so a name given here lets
    them name the endpoint without a cross-stack import."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: SharedEndpointConfig,
        encryption_key: kms.IKey,
        endpoint_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.settings = settings
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"cdk-mlops shared endpoint {settings.name}: instances hosting inference components",
        )
        allow_key(self.role, encryption_key)
        scaling = settings.managed_instance_scaling
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            execution_role_arn=self.role.role_arn,
            kms_key_id=encryption_key.key_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    instance_type=settings.instance_type,
                    initial_instance_count=settings.instance_count,
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED",
                        min_instance_count=scaling.min_instances,
                        max_instance_count=scaling.max_instances,
                    )
                    if scaling is not None
                    else None,
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy=ROUTING_STRATEGIES[settings.routing]
                    ),
                )
            ],
        )
        self.endpoint_config.node.add_dependency(self.role)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            endpoint_name=endpoint_name,
        )
        self.endpoint_name = endpoint_name or self.endpoint.attr_endpoint_name


class InferenceComponent(Construct):
    """One model as an inference component of a shared endpoint ``endpoint_name``: a hosting role
    (read-only on the model's artifacts under ``<model>/`` of ``artifact_bucket``), an
    ``AWS::SageMaker::Model`` from ``model_package_arn``, and the ``AWS::SageMaker::InferenceComponent``
    named after the stack (``component_name``), with ``settings.copies`` copies reserving
    ``cpus``/``memory_mb``/``accelerators`` each.

    A new package rolls out with the inference component rolling update policy (batches of
    ``rollout_batch_copies`` copies, ``rollout_wait_minutes`` apart) and auto-rollback on the three alarms
    created here (``alarms``: 5XX errors, p99 model latency above ``latency_threshold`` (default 1
    second), model errors, all on the component's ``InferenceComponentName`` dimension; notifying
    ``alarm_topic`` when given) plus ``rollback_alarms``. ``settings.autoscaling`` adds target tracking of
    the copy count (``scalable_target``, default none). ``condition`` (default none): every resource here
    exists only while it holds (the endpoint stack's ``HasModelPackage``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        endpoint_name: str,
        model_package_arn: str,
        settings: InferenceComponentConfig,
        encryption_key: kms.IKey,
        artifact_bucket: s3.IBucket,
        image_uris: Sequence[str] = (),
        rollback_alarms: Sequence[cloudwatch.IAlarm] = (),
        latency_threshold: Duration | None = None,
        alarm_topic: sns.ITopic | None = None,
        condition: CfnCondition | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.settings = settings
        self.endpoint_name = endpoint_name
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
        # Named after the stack: the alarms watch the component and the component names the alarms.
        self.component_name = f"{Aws.STACK_NAME}-{id}"
        names = dict(zip(ROLLBACK_ALARM_SUFFIXES, component_alarm_names(Aws.STACK_NAME, id), strict=True))
        self.alarms = self._alarms(latency_threshold or Duration.seconds(1), names)
        if alarm_topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        alarm_names = [*names.values(), *(alarm.alarm_name for alarm in rollback_alarms)]
        component = sagemaker.CfnInferenceComponent
        self.component = component(
            self,
            "Resource",
            inference_component_name=self.component_name,
            endpoint_name=endpoint_name,
            variant_name=VARIANT_NAME,
            specification=component.InferenceComponentSpecificationProperty(
                model_name=self.model.attr_model_name,
                compute_resource_requirements=component.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_cpu_cores_required=settings.cpus,
                    min_memory_required_in_mb=settings.memory_mb,
                    number_of_accelerator_devices_required=settings.accelerators,
                ),
            ),
            runtime_config=component.InferenceComponentRuntimeConfigProperty(copy_count=settings.copies),
            deployment_config=component.InferenceComponentDeploymentConfigProperty(
                rolling_update_policy=component.InferenceComponentRollingUpdatePolicyProperty(
                    maximum_batch_size=component.InferenceComponentCapacitySizeProperty(
                        type="COPY_COUNT", value=settings.rollout_batch_copies
                    ),
                    wait_interval_in_seconds=settings.rollout_wait_minutes * 60,
                ),
                auto_rollback_configuration=component.AutoRollbackConfigurationProperty(
                    alarms=[component.AlarmProperty(alarm_name=name) for name in alarm_names]
                ),
            ),
        )
        self.scalable_target: appscaling.ScalableTarget | None = None
        if settings.autoscaling is not None:
            self.scalable_target = self._autoscaling()
        if condition is not None:
            _apply_condition(self, condition)

    def _autoscaling(self) -> appscaling.ScalableTarget:
        scaling = self.settings.autoscaling
        assert scaling is not None
        target = appscaling.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"inference-component/{self.component_name}",
            scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            min_capacity=scaling.min_copies,
            max_capacity=scaling.max_copies,
        )
        target.node.add_dependency(self.component)
        target.scale_to_track_metric(
            "InvocationsPerCopy",
            target_value=scaling.target_invocations_per_copy,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
            scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        )
        return target

    def _alarms(self, latency_threshold: Duration, names: dict[str, str]) -> list[cloudwatch.Alarm]:
        def alarm(
            id: str, name: str, metric: cloudwatch.Metric, threshold: float, description: str
        ) -> cloudwatch.Alarm:
            return cloudwatch.Alarm(
                self,
                id,
                alarm_name=name,
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        minute = Duration.minutes(1)
        return [
            alarm(
                "Invocation5XXErrorsAlarm",
                names["5xx-errors"],
                self.metric("Invocation5XXErrors", period=minute),
                1,
                "The component returned 5XX errors; a rollout in progress rolls back.",
            ),
            alarm(
                "ModelLatencyAlarm",
                names["model-latency-p99"],
                self.metric("ModelLatency", statistic="p99", period=minute),
                latency_threshold.to_milliseconds() * 1_000,
                "p99 model latency of the component reached the threshold; a rollout in progress rolls back.",
            ),
            alarm(
                "InvocationModelErrorsAlarm",
                names["model-errors"],
                self.metric("InvocationModelErrors", period=minute),
                1,
                "The component's model failed requests; a rollout in progress rolls back.",
            ),
        ]

    def metric(self, metric_name: str, *, statistic: str = "Sum", period: Duration | None = None) -> cloudwatch.Metric:
        """A metric of this inference component (``AWS/SageMaker``, dimension ``InferenceComponentName``)."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=metric_name,
            dimensions_map={"InferenceComponentName": self.component_name},
            statistic=statistic,
            period=period or Duration.minutes(5),
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` call InvokeEndpoint on the shared endpoint (which names the component)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint"],
            resource_arns=[
                f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:endpoint/{self.endpoint_name}"
            ],
        )
