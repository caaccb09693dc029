"""One model's endpoint in one stage, deployed by CloudFormation and updated through a parameter."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import CfnCondition, CfnOutput, CfnParameter, Fn, ICfnConditionExpression, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_mlops.config.model_config import InferenceComponentConfig, ModelConfig
from cdk_mlops.constructs.deploy_workflow import (
    MODEL_ARTIFACTS_BUCKET_PARAMETER,
    MODEL_ARTIFACTS_KEY_PARAMETER,
    MODEL_DATA_URL_PARAMETER,
    MODEL_PACKAGE_PARAMETER,
    SOURCE_DIR_URL_PARAMETER,
)
from cdk_mlops.constructs.inference_component import COMPONENT_OUTPUT, InferenceComponent, SharedEndpoint
from cdk_mlops.constructs.model_dashboard import ModelDashboard
from cdk_mlops.constructs.model_endpoint import ModelEndpoint, ModelImage
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig
from cdk_mlops.constructs.shadow_test import SHADOW_MODEL_PACKAGE_PARAMETER
from cdk_mlops.images import resolve_image_uri


class ModelEndpointStack(Stack):
    """The ``stage`` endpoint of one model.

    Parameter ``ModelPackageArn`` (default empty): which registered package to serve. While it is
    empty the stack holds nothing, so platform teams can ``cdk deploy`` it before the first model is
    trained; the pipeline's deploy workflow sets it, and later ``cdk deploy`` runs keep the value.
    Output ``EndpointName`` (the smoke test finds the endpoint through it). ``endpoint`` is the
    ``ModelEndpoint``; the stage's ``rollback_alarm_names`` (existing alarms) join its own rollback
    alarms. ``dashboard`` (``ModelDashboard``, under the same condition) shows the endpoint's
    invocations, errors, latency percentiles and alarms. ``notification_topic`` (default none; the
    app passes the model's topic from its pipeline stack): the endpoint's own alarms notify it when they
    go into ALARM. ``network`` (default none) places an
    instance endpoint's model in VPC subnets with security groups, optionally network-isolated.

    ``external_model_artifacts`` (default false): the model package and its model data live in another
    account (the pipeline's), so the stack's own ``artifact_bucket_arn``/``encryption_key_arn`` (this
    account's platform) hold only what the endpoint writes, and two more parameters, set by the
    pipeline's deploy workflow with the package, name the pipeline account's artifact bucket
    (``ModelArtifactsBucket``) and key (``ModelArtifactsKeyArn``) the hosting role reads the model from.
    A serverless endpoint writes nothing, so it may leave out ``artifact_bucket_arn`` and
    ``encryption_key_arn`` then (no platform stack needed in that account).

    ``shared_endpoint`` (default none: an endpoint of its own): the stage's ``shared_endpoint`` names a
    ``SharedEndpoint`` (of a ``SharedEndpointStack``); the stack then holds the model as an inference
    component on it (``component``, an ``InferenceComponent``, no ``endpoint`` or dashboard) and outputs the
    shared endpoint's name as ``EndpointName`` and the component's as ``InferenceComponentName``.

    ``replicated_model`` (default false): the model package is in another region than this stack, so
    the endpoint serves the framework's image for this region with the model data the deploy workflow
    copied here, named by parameter ``ModelDataUrl`` (and, for a script-mode model, its serving code,
    ``SourceDirUrl``), both set with ``ModelPackageArn`` on every rollout.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model: ModelConfig,
        stage: str,
        artifact_bucket_arn: str | None,
        encryption_key_arn: str | None,
        network: JobNetworkConfig | None = None,
        external_model_artifacts: bool = False,
        replicated_model: bool = False,
        notification_topic: sns.ITopic | None = None,
        shared_endpoint: SharedEndpoint | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.model_package_arn = CfnParameter(
            self,
            MODEL_PACKAGE_PARAMETER,
            type="String",
            default="",
            allowed_pattern=r"^$|^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+$",
            description=f"The {model.name} model package to serve in {stage} (set by the model's pipeline)",
        )
        has_model = CfnCondition(
            self,
            "HasModelPackage",
            expression=Fn.condition_not(Fn.condition_equals(self.model_package_arn, "")),
        )
        settings = model.endpoints.staging if stage == "staging" else model.endpoints.production
        shadow_arn, has_shadow = self._shadow_parameter(model, stage, has_model) if settings.shadow else (None, None)
        model_data_bucket: s3.IBucket | None = None
        model_data_key: kms.IKey | None = None
        if external_model_artifacts:
            bucket_name = CfnParameter(
                self,
                MODEL_ARTIFACTS_BUCKET_PARAMETER,
                type="String",
                default="",
                allowed_pattern=r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                description=f"The pipeline account's artifact bucket holding the {model.name} model data "
                "(set by the model's pipeline)",
            )
            key_arn = CfnParameter(
                self,
                MODEL_ARTIFACTS_KEY_PARAMETER,
                type="String",
                default="",
                allowed_pattern=r"^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$",
                description="The pipeline account's KMS key encrypting that bucket (set by the model's pipeline)",
            )
            model_data_key = kms.Key.from_key_arn(self, "ModelArtifactsKey", key_arn.value_as_string)
            model_data_bucket = s3.Bucket.from_bucket_attributes(
                self, "ModelArtifacts", bucket_name=bucket_name.value_as_string, encryption_key=model_data_key
            )
        if artifact_bucket_arn is None or encryption_key_arn is None:
            if model_data_bucket is None or model_data_key is None or not settings.serverless:
                raise ValueError(
                    f"{id}: artifact_bucket_arn and encryption_key_arn are required unless the endpoint is "
                    "serverless and external_model_artifacts is true (it then writes nothing)"
                )
            bucket, key = model_data_bucket, model_data_key
        else:
            key = kms.Key.from_key_arn(self, "PlatformKey", encryption_key_arn)
            bucket = s3.Bucket.from_bucket_attributes(
                self, "ArtifactBucket", bucket_arn=artifact_bucket_arn, encryption_key=key
            )
        if shared_endpoint is not None:
            self._inference_component(model, stage, shared_endpoint, key, bucket, has_model, notification_topic)
            return
        image_uri = resolve_image_uri(model.framework, self.region, settings.instance_type, "inference")
        self.endpoint = ModelEndpoint(
            self,
            "Endpoint",
            model_name=model.name,
            stage=stage,
            model_package_arn=None if replicated_model else self.model_package_arn.value_as_string,
            model_image=self._replicated_model_image(model, image_uri) if replicated_model else None,
            settings=settings,
            encryption_key=key,
            artifact_bucket=bucket,
            model_data_bucket=model_data_bucket,
            model_data_key=model_data_key,
            image_uris=[image_uri],
            data_capture=model.endpoints.data_capture,
            content_type=model.endpoints.content_type,
            rollback_alarms=[
                cloudwatch.Alarm.from_alarm_name(self, f"RollbackAlarm{index}", name)
                for index, name in enumerate(settings.rollback_alarm_names)
            ],
            condition=has_model,
            network=network,
            alarm_topic=notification_topic,
            shadow_model_package_arn=shadow_arn,
            shadow_condition=has_shadow,
        )
        if external_model_artifacts:
            # cfn-lint resolves ModelArtifactsKeyArn to its empty default and reports the hosting policy's
            # resource as no ARN (W1030, located at the parameter, so only a template-level ignore takes);
            # the policy exists only under HasModelPackage, when the deploy workflow has set the parameter
            # to a key ARN (its AllowedPattern). A template's ignores replace .cfnlintrc.yaml's, so its
            # W3005 (see there) is repeated.
            self.template_options.metadata = {"cfn-lint": {"config": {"ignore_checks": ["W1030", "W3005"]}}}
        self.dashboard = ModelDashboard(
            self,
            "Dashboard",
            model_name=model.name,
            endpoints={f"{model.name} {stage}": self.endpoint},
            alarms=self.endpoint.alarms,
        )
        self.dashboard.dashboard.node.default_child.cfn_options.condition = has_model  # type: ignore[union-attr]
        output = CfnOutput(
            self,
            "EndpointName",
            value=self.endpoint.endpoint_name,
            description=f"The {stage} endpoint of {model.name}",
        )
        output.condition = has_model

    def _inference_component(
        self,
        model: ModelConfig,
        stage: str,
        shared_endpoint: SharedEndpoint,
        key: kms.IKey,
        bucket: s3.IBucket,
        has_model: CfnCondition,
        notification_topic: sns.ITopic | None,
    ) -> None:
        """The model as an inference component of ``shared_endpoint`` (``component``); outputs
        ``EndpointName`` (the shared endpoint's) and ``InferenceComponentName``, which the smoke test
        addresses."""
        settings = model.endpoints.staging if stage == "staging" else model.endpoints.production
        self.add_stack_dependency(Stack.of(shared_endpoint))
        image_uri = resolve_image_uri(model.framework, self.region, shared_endpoint.settings.instance_type, "inference")
        self.component = InferenceComponent(
            self,
            "Component",
            model_name=model.name,
            endpoint_name=shared_endpoint.endpoint_name,
            model_package_arn=self.model_package_arn.value_as_string,
            settings=settings.component or InferenceComponentConfig(),
            encryption_key=key,
            artifact_bucket=bucket,
            image_uris=[image_uri],
            rollback_alarms=[
                cloudwatch.Alarm.from_alarm_name(self, f"RollbackAlarm{index}", name)
                for index, name in enumerate(settings.rollback_alarm_names)
            ],
            alarm_topic=notification_topic,
            condition=has_model,
        )
        for output_id, value, text in (
            ("EndpointName", shared_endpoint.endpoint_name, f"The shared endpoint serving {model.name} in {stage}"),
            (COMPONENT_OUTPUT, self.component.component_name, f"The inference component of {model.name} in {stage}"),
        ):
            output = CfnOutput(self, output_id, value=value, description=text)
            output.condition = has_model

    def _shadow_parameter(self, model: ModelConfig, stage: str, has_model: CfnCondition) -> tuple[str, CfnCondition]:
        """Parameter ``ShadowModelPackageArn`` (default empty: no shadow variant), set by the deploy
        workflow for the length of a shadow test, and the condition that it is set."""
        parameter = CfnParameter(
            self,
            SHADOW_MODEL_PACKAGE_PARAMETER,
            type="String",
            default="",
            allowed_pattern=r"^$|^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+$",
            description=f"The {model.name} candidate package shadow-tested in {stage} (set by the model's pipeline "
            "during a shadow test, empty otherwise)",
        )
        condition = CfnCondition(
            self,
            "HasShadowModelPackage",
            expression=Fn.condition_and(
                cast(ICfnConditionExpression, has_model), Fn.condition_not(Fn.condition_equals(parameter, ""))
            ),
        )
        return parameter.value_as_string, condition

    def _replicated_model_image(self, model: ModelConfig, image_uri: str) -> ModelImage:
        """The model as the deploy workflow replicated it to this region: parameters ``ModelDataUrl`` and,
        for a script-mode model, ``SourceDirUrl`` (the container's ``SAGEMAKER_SUBMIT_DIRECTORY``)."""
        s3_url = r"^$|^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$"
        model_data_url = CfnParameter(
            self,
            MODEL_DATA_URL_PARAMETER,
            type="String",
            default="",
            allowed_pattern=s3_url,
            description=f"The {model.name} model data copied to this region (set by the model's pipeline)",
        )
        environment: dict[str, str] = {}
        if model.training.entry_point:
            source_dir_url = CfnParameter(
                self,
                SOURCE_DIR_URL_PARAMETER,
                type="String",
                default="",
                allowed_pattern=s3_url,
                description=f"The {model.name} serving code copied to this region (set by the model's pipeline)",
            )
            environment = {
                "SAGEMAKER_PROGRAM": model.training.entry_point,
                "SAGEMAKER_SUBMIT_DIRECTORY": source_dir_url.value_as_string,
            }
        return ModelImage(image_uri, model_data_url.value_as_string, environment)
