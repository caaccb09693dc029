"""The per-model deployment pipeline, built from overridable steps: the construct model authors subclass."""

from __future__ import annotations

import abc
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_mlops.config.model_config import MetricThreshold, ModelConfig
from cdk_mlops.config_drift import DeployedConfig
from cdk_mlops.constructs import workflow_steps
from cdk_mlops.constructs.batch_transform_workflow import BatchTransformWorkflow
from cdk_mlops.constructs.compliance import Justification, allow_publish, justify_wildcards
from cdk_mlops.constructs.config_check import with_config_check
from cdk_mlops.constructs.deploy_workflow import (
    MODEL_ARTIFACTS_BUCKET_PARAMETER,
    MODEL_ARTIFACTS_KEY_PARAMETER,
    DeployWorkflow,
    RegionalRollout,
)
from cdk_mlops.constructs.drift_check import DriftCheck
from cdk_mlops.constructs.explicit_actions import make_actions_explicit
from cdk_mlops.constructs.hooks import check_hook_returns
from cdk_mlops.constructs.model_build_project import ModelBuildProject, default_build_spec
from cdk_mlops.constructs.model_source import bind_source
from cdk_mlops.constructs.sagemaker_tasks import JobNetworkConfig
from cdk_mlops.constructs.self_update import STAGE_NAME as UPDATE_STAGE_NAME
from cdk_mlops.constructs.self_update import SelfUpdate
from cdk_mlops.constructs.smoke_test_workflow import SmokeTestWorkflow
from cdk_mlops.constructs.training_workflow import TrainingWorkflow
from cdk_mlops.constructs.workflow_context import WorkflowContext
from cdk_mlops.constructs.workflow_steps import EvaluationStep, Notify, Step
from cdk_mlops.images import resolve_image_uri

STAGE_NAMES = (
    "Source",
    "BuildAndTest",
    "Train",
    "DeployStaging",
    "SmokeTest",
    "ManualApproval",
    "DeployProduction",
)
#: The stages of a batch model (``inference: batch``), which hosts no endpoint.
BATCH_STAGE_NAMES = ("Source", "BuildAndTest", "Train", "ManualApproval", "BatchTransform")
TRAIN_VARIABLES = "TrainVariables"


class MlPipelineBase(Construct, metaclass=jsii.JSIIAbstractClass):
    """A CodePipeline V2 ``Source → BuildAndTest → Train → DeployStaging → SmokeTest → ManualApproval →
    DeployProduction`` for one model, with the workflows behind each stage.

    Creates (public attributes): ``notification_topic`` (KMS-encrypted; e-mail subscription when the
    config names one) unless passed; ``model_package_group`` (retained on delete); ``build``
    (``ModelBuildProject``); ``training`` (``TrainingWorkflow``); ``deploy_staging`` and
    ``deploy_production`` (``DeployWorkflow``; production also marks the package Approved);
    ``smoke_test_workflow``; ``pipeline`` (queued executions, so releases never overlap); ``drift``
    (``DriftCheck`` when the config has a ``drift`` section, else None); ``batch_transform`` (None).

    A batch model (``inference: batch``) hosts no endpoint: its pipeline is ``Source → BuildAndTest →
    Train → ManualApproval → BatchTransform``, ``batch_transform`` is the ``BatchTransformWorkflow`` the
    last stage runs with the package the release trained, ``deploy_staging``, ``smoke_test_workflow``
    and ``deploy_production`` are None, and ``staging_stack_name``/``production_stack_name`` are not
    used (they are required for endpoint models).

    ``endpoints.production.region`` other than this stack's region: ``deploy_production`` copies each
    release's model data (and serving code) to the bucket of ``production_replica_stack_name`` (default
    ``Mlops-Platform-<region>``: the pipeline account's ``PlatformStack`` in that region) and updates
    the production stack there (see ``RegionalRollout``); the model package group then grants no
    other account anything, since no endpoint reads the package outside this region.

    The build first checks the pushed ``model.yaml`` (and ``pipeline_class`` file) against the
    configuration this pipeline was synthesized from, and fails with the changed fields when they
    differ (see ``config_check``). ``self_update`` (default: ``pipeline.self_update`` of the config,
    false) adds the ``UpdatePipeline`` stage after Source (``self_update``: a ``SelfUpdate``, else
    None), which deploys the model's stacks from the pushed commit.

    Every step comes from a method a subclass may override: ``image_uri``, ``inference_image_uri``,
    ``build_spec``, ``preprocessing_step``, ``training_step`` (abstract here; ``MlPipeline``
    implements it from the config), ``evaluation_step``, ``quality_gate``, ``registration_step``,
    ``smoke_test``, ``drift_check``, ``batch_transform_workflow`` (batch models). Each hook's docstring
    shows a complete override; every type they take or return is importable from ``cdk_mlops``. An
    override that returns the wrong kind of value (``None`` from a forgotten ``return``) stops synthesis
    with a ``HookReturnError`` naming the class, the hook, and the file and line of the override.
    The hooks run inside ``__init__``; a subclass that needs its own attributes in a hook sets them
    before calling ``super().__init__``.
    """

    deploy_staging: DeployWorkflow | None
    smoke_test_workflow: SmokeTestWorkflow | None
    deploy_production: DeployWorkflow | None
    batch_transform: BatchTransformWorkflow | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every hook a subclass overrides is checked: a wrong return value (``None`` from a forgotten
        ``return``) raises ``HookReturnError`` naming the class, the hook and its file and line."""
        super().__init_subclass__(**kwargs)
        check_hook_returns(cls)

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model: ModelConfig,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        staging_stack_name: str | None = None,
        production_stack_name: str | None = None,
        endpoint_stack_parameters: Sequence[str] = ("BootstrapVersion",),
        notification_topic: sns.ITopic | None = None,
        sagemaker_role: iam.IRole | None = None,
        data_bucket: s3.IBucket | None = None,
        network: JobNetworkConfig | None = None,
        cloudformation_role: iam.IRole | None = None,
        production_replica_stack_name: str | None = None,
        self_update: bool | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.model = model
        self.artifact_bucket = artifact_bucket
        self.encryption_key = encryption_key
        self.network = network
        if notification_topic is None:
            topic = sns.Topic(
                self,
                "Notifications",
                master_key=encryption_key,
                enforce_ssl=True,
                display_name=f"cdk-mlops {model.name}",
            )
            if model.notification_email:
                topic.add_subscription(subscriptions.EmailSubscription(model.notification_email))
            notification_topic = topic
        self.notification_topic = notification_topic

        production_account = model.endpoints.production.account
        production_region = model.endpoints.production.region
        if production_region == Stack.of(self).region:
            production_region = None
        # In another region the production account serves copies of the model data, not the package.
        package_reader = production_account if production_region is None else None
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=model.name,
            model_package_group_description=model.description or f"Versions of model {model.name}",
            model_package_group_policy=self._cross_account_group_policy(package_reader) if package_reader else None,
        )
        self.model_package_group.apply_removal_policy(RemovalPolicy.RETAIN)

        self.build = ModelBuildProject(
            self,
            "Build",
            model_name=model.name,
            model_path=model.source.path or "",
            artifact_bucket=artifact_bucket,
            encryption_key=encryption_key,
            build_spec=self._checked_build_spec(),
        )
        allow_publish(self.build.project, notification_topic, encryption_key)
        self.self_update = self._self_update(model.pipeline.self_update if self_update is None else self_update)
        if data_bucket is None and model.data.bucket:
            data_bucket = s3.Bucket.from_bucket_name(self, "DataBucket", model.data.bucket)
        self.training = TrainingWorkflow(
            self,
            "Training",
            model=model,
            steps=self,
            image_uri=self.image_uri(),
            inference_image_uri=self.inference_image_uri(),
            artifact_bucket=artifact_bucket,
            encryption_key=encryption_key,
            notification_topic=notification_topic,
            model_package_group_name=model.name,
            sagemaker_role=sagemaker_role,
            data_bucket=data_bucket,
            data_prefix=model.data.prefix,
            network=network,
        )
        self.training.node.add_dependency(self.model_package_group)
        self.batch_transform = None
        if model.inference == "batch":  # no endpoint: no deploy or smoke-test workflows
            self.deploy_staging = self.smoke_test_workflow = self.deploy_production = None
            self.batch_transform = self.batch_transform_workflow(self)
            self.pipeline = self._pipeline()
            self.drift = self.drift_check(self)
            return
        if staging_stack_name is None or production_stack_name is None:
            raise ValueError(
                f"model {model.name} hosts endpoints: staging_stack_name and production_stack_name are required"
            )
        common: dict[str, Any] = dict(
            model_name=model.name,
            training_state_machine=self.training.state_machine,
            notification_topic=notification_topic,
            encryption_key=encryption_key,
            model_package_group_name=model.name,
            kept_parameters=endpoint_stack_parameters,
            cloudformation_role=cloudformation_role,
        )
        self.deploy_staging = DeployWorkflow(
            self, "DeployStaging", stage="staging", stack_name=staging_stack_name, **common
        )
        self.smoke_test_workflow = self.smoke_test(self, stack_name=staging_stack_name)
        self.deploy_production = DeployWorkflow(
            self,
            "DeployProduction",
            stage="production",
            stack_name=production_stack_name,
            promote=True,
            stack_account=production_account,
            stack_parameters={
                MODEL_ARTIFACTS_BUCKET_PARAMETER: artifact_bucket.bucket_name,
                MODEL_ARTIFACTS_KEY_PARAMETER: encryption_key.key_arn,
            }
            if package_reader
            else None,
            regional=RegionalRollout(
                region=production_region,
                replica_stack_name=production_replica_stack_name or f"Mlops-Platform-{production_region}",
                source_bucket=artifact_bucket,
                source_key=encryption_key,
                serves_source_dir=bool(model.training.entry_point),
            )
            if production_region
            else None,
            shadow=model.endpoints.production.shadow,
            **common,
        )
        self.pipeline = self._pipeline()
        self.drift = self.drift_check(self)

    # ---- hooks -------------------------------------------------------------------------------------

    def image_uri(self) -> str:
        """The training and inference image. Default: ``framework.image_uri``, or the SageMaker image of
        the framework and version in this stack's region.

        Example (a complete override: train with your own image)::

            from cdk_mlops import MlPipeline

            class MyPipeline(MlPipeline):
                def image_uri(self) -> str:
                    return "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-trainer:1.4"
        """
        return resolve_image_uri(self.model.framework, Stack.of(self).region, self.model.training.instance_type)

    def inference_image_uri(self) -> str:
        """The image the registered model is served with. Default: ``framework.image_uri``, or the
        framework's inference image (the same image as training for xgboost and sklearn), for the
        production endpoint's instance type, or the batch transform's for a batch model.

        Example (a complete override: serve with your own image)::

            from cdk_mlops import MlPipeline

            class MyPipeline(MlPipeline):
                def inference_image_uri(self) -> str:
                    return "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-server:1.4"
        """
        instance_type = (
            self.model.batch_settings.instance_type
            if self.model.inference == "batch"
            else self.model.endpoints.production.instance_type
        )
        return resolve_image_uri(self.model.framework, Stack.of(self).region, instance_type, "inference")

    def build_spec(self) -> dict[str, Any]:
        """The CodeBuild buildspec (a dict, rendered as buildspec YAML). Default: install requirements, run
        pytest, upload ``src/``.

        Example (a complete override: lint before the tests)::

            from typing import Any

            from cdk_mlops import MlPipeline

            class MyPipeline(MlPipeline):
                def build_spec(self) -> dict[str, Any]:
                    spec = super().build_spec()
                    spec["phases"]["build"]["commands"].insert(1, "pip install ruff && ruff check src tests")
                    return spec
        """
        return default_build_spec(
            self.model.name,
            self.model.source.path or "",
            self.artifact_bucket.bucket_name,
            self.encryption_key.key_arn,
            latest_copy=self.model.drift is not None,
        )

    def preprocessing_step(self, ctx: WorkflowContext) -> Step | None:
        """The step before training, or None for none. Default: a processing job running
        ``preprocessing.script`` (none when not configured).

        Example (a complete override: record when the run started, then the default step)::

            from aws_cdk import aws_stepfunctions as sfn

            from cdk_mlops import MlPipeline, Step, WorkflowContext, default_preprocessing_step

            class MyPipeline(MlPipeline):
                def preprocessing_step(self, ctx: WorkflowContext) -> Step | None:
                    started = sfn.Pass(
                        ctx.scope, "RecordStart", parameters={"at.$": "$$.State.EnteredTime"}, result_path="$.started"
                    )
                    default = default_preprocessing_step(ctx)
                    if default is None:
                        return Step(sfn.Chain.start(started))
                    return Step(sfn.Chain.start(started).next(default.chain), default.task_states)
        """
        return workflow_steps.default_preprocessing_step(ctx)

    @abc.abstractmethod
    def training_step(self, ctx: WorkflowContext) -> Step:
        """The training job. Its state must leave the DescribeTrainingJob output at ``$.training``.

        Example (a complete override: the default job, then keep its billed seconds)::

            from aws_cdk import aws_stepfunctions as sfn

            from cdk_mlops import MlPipeline, Step, WorkflowContext, default_training_step

            class MyPipeline(MlPipeline):
                def training_step(self, ctx: WorkflowContext) -> Step:
                    step = default_training_step(ctx)
                    billed = sfn.Pass(
                        ctx.scope,
                        "BilledSeconds",
                        parameters={"seconds.$": "$.training.BillableTimeInSeconds"},
                        result_path="$.billed",
                    )
                    return Step(step.chain.next(billed), step.task_states)
        """

    def evaluation_step(self, ctx: WorkflowContext) -> EvaluationStep:
        """Where the quality gate finds each metric (``EvaluationStep.metric_path``). Default: the training
        job's final metrics, or an evaluation processing job (``evaluation``).

        Example (a complete override: gate on the training job's own metrics, whatever model.yaml says)::

            from cdk_mlops import EvaluationStep, MlPipeline, WorkflowContext, training_metrics_step

            class MyPipeline(MlPipeline):
                def evaluation_step(self, ctx: WorkflowContext) -> EvaluationStep:
                    return training_metrics_step(ctx)
        """
        return workflow_steps.default_evaluation_step(ctx)

    def quality_gate(
        self,
        ctx: WorkflowContext,
        rules: Sequence[MetricThreshold],
        evaluation: EvaluationStep,
        *,
        on_pass: sfn.IChainable,
        notify: Notify,
    ) -> sfn.IChainable:
        """The gate between evaluation and registration: returns its first state, which continues to
        ``on_pass``; ``notify(id, template, paths)`` creates a notification state. Default: one Choice per
        ``quality_gate`` rule; a miss notifies and fails, registering nothing.

        Example (a complete override: one more rule than model.yaml lists, on another metric)::

            from collections.abc import Sequence

            from aws_cdk import aws_stepfunctions as sfn

            from cdk_mlops import EvaluationStep, MetricThreshold, MlPipeline, Notify, WorkflowContext
            from cdk_mlops import default_quality_gate

            class MyPipeline(MlPipeline):
                def quality_gate(
                    self,
                    ctx: WorkflowContext,
                    rules: Sequence[MetricThreshold],
                    evaluation: EvaluationStep,
                    *,
                    on_pass: sfn.IChainable,
                    notify: Notify,
                ) -> sfn.IChainable:
                    floor = MetricThreshold(metric="train:auc", threshold=0.7)
                    return default_quality_gate(
                        ctx, [*rules, floor], evaluation.metric_path, on_pass=on_pass, notify=notify
                    )
        """
        return workflow_steps.default_quality_gate(ctx, rules, evaluation.metric_path, on_pass=on_pass, notify=notify)

    def registration_step(
        self, ctx: WorkflowContext, *, model_package_group_name: str, evaluation: EvaluationStep
    ) -> Step:
        """Registers the model that passed the gate. Default: CreateModelPackage, PendingManualApproval,
        with the gate's metrics attached.

        Example (a complete override: the default registration, then keep when it happened)::

            from aws_cdk import aws_stepfunctions as sfn

            from cdk_mlops import EvaluationStep, MlPipeline, Step, WorkflowContext, default_registration_step

            class MyPipeline(MlPipeline):
                def registration_step(
                    self, ctx: WorkflowContext, *, model_package_group_name: str, evaluation: EvaluationStep
                ) -> Step:
                    step = default_registration_step(
                        ctx, model_package_group_name=model_package_group_name, metric_path=evaluation.metric_path
                    )
                    stamp = sfn.Pass(
                        ctx.scope,
                        "RegisteredAt",
                        parameters={"at.$": "$$.State.EnteredTime"},
                        result_path="$.registered",
                    )
                    return Step(step.chain.next(stamp), step.task_states)
        """
        return workflow_steps.default_registration_step(
            ctx, model_package_group_name=model_package_group_name, metric_path=evaluation.metric_path
        )

    def smoke_test(self, scope: Construct, *, stack_name: str) -> SmokeTestWorkflow:
        """The workflow that tests the staging endpoint (stack ``stack_name``). Default: the smoke-test
        Lambda sends ``smoke_test.payload`` to the staging endpoint.

        Example (a complete override: a stricter latency budget and one attempt)::

            from constructs import Construct

            from cdk_mlops import MlPipeline, SmokeTestWorkflow

            class MyPipeline(MlPipeline):
                def smoke_test(self, scope: Construct, *, stack_name: str) -> SmokeTestWorkflow:
                    return SmokeTestWorkflow(
                        scope,
                        "SmokeTest",
                        model_name=self.model.name,
                        stack_name=stack_name,
                        settings=self.model.smoke_test.model_copy(update={"max_latency_ms": 500}),
                        notification_topic=self.notification_topic,
                        encryption_key=self.encryption_key,
                        attempts=1,
                    )
        """
        return SmokeTestWorkflow(
            scope,
            "SmokeTest",
            model_name=self.model.name,
            stack_name=stack_name,
            settings=self.model.smoke_test,
            notification_topic=self.notification_topic,
            encryption_key=self.encryption_key,
        )

    def drift_check(self, scope: Construct) -> DriftCheck | None:
        """Default: a ``DriftCheck`` from the ``drift`` section (none when not configured): a scheduled
        processing job scores input drift, an alarm notifies, and optionally the pipeline retrains.

        Example (a complete override: no drift check in a sandbox account, ``-c sandbox=true``)::

            from constructs import Construct

            from cdk_mlops import DriftCheck, MlPipeline

            class MyPipeline(MlPipeline):
                def drift_check(self, scope: Construct) -> DriftCheck | None:
                    if self.node.try_get_context("sandbox"):
                        return None
                    return super().drift_check(scope)
        """
        settings = self.model.drift
        if settings is None:
            return None
        return DriftCheck(
            scope,
            "Drift",
            model_name=self.model.name,
            settings=settings,
            image_uri=self.image_uri(),
            sagemaker_role=self.training.sagemaker_role,
            artifact_bucket=self.artifact_bucket,
            encryption_key=self.encryption_key,
            notification_topic=self.notification_topic,
            pipeline=self.pipeline,
            data_bucket=self.training.context.data_bucket,
            data_prefix=self.training.context.data_prefix,
            network=self.network,
        )

    def _cross_account_group_policy(self, account: str) -> dict[str, Any]:
        """Lets ``account`` create models from this group's packages (CreateModel describes the package
        on the caller's behalf) and nothing else: no listing, no approval changes."""
        stack = Stack.of(self)
        name = self.model.name
        principal = {"AWS": stack.format_arn(service="iam", region="", account=account, resource="root")}
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ProductionAccountReadsPackages",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": ["sagemaker:DescribeModelPackage"],
                    "Resource": stack.format_arn(
                        service="sagemaker", resource="model-package", resource_name=f"{name}/*"
                    ),
                },
                {
                    "Sid": "ProductionAccountReadsGroup",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": ["sagemaker:DescribeModelPackageGroup"],
                    "Resource": stack.format_arn(
                        service="sagemaker", resource="model-package-group", resource_name=name
                    ),
                },
            ],
        }

    def batch_transform_workflow(self, scope: Construct) -> BatchTransformWorkflow:
        """Batch models only. Default: a ``BatchTransformWorkflow`` from the ``batch`` section: the
        pipeline's last stage scores the input prefix with the package the release trained and records
        the release; the optional ``batch.schedule`` scores it with the newest Approved package.

        Example (a complete override: twice the instances of model.yaml's batch section)::

            from constructs import Construct

            from cdk_mlops import BatchTransformWorkflow, MlPipeline

            class MyPipeline(MlPipeline):
                def batch_transform_workflow(self, scope: Construct) -> BatchTransformWorkflow:
                    settings = self.model.batch_settings
                    return BatchTransformWorkflow(
                        scope,
                        "BatchTransform",
                        model_name=self.model.name,
                        settings=settings.model_copy(update={"instance_count": 2 * settings.instance_count}),
                        model_package_group_name=self.model.name,
                        training_state_machine=self.training.state_machine,
                        sagemaker_role=self.training.sagemaker_role,
                        artifact_bucket=self.artifact_bucket,
                        encryption_key=self.encryption_key,
                        notification_topic=self.notification_topic,
                        data_bucket=self.training.context.data_bucket,
                        network=self.network,
                    )
        """
        return BatchTransformWorkflow(
            scope,
            "BatchTransform",
            model_name=self.model.name,
            settings=self.model.batch_settings,
            model_package_group_name=self.model.name,
            training_state_machine=self.training.state_machine,
            sagemaker_role=self.training.sagemaker_role,
            artifact_bucket=self.artifact_bucket,
            encryption_key=self.encryption_key,
            notification_topic=self.notification_topic,
            data_bucket=self.training.context.data_bucket,
            network=self.network,
        )

    # ---- pipeline ----------------------------------------------------------------------------------

    def _checked_build_spec(self) -> dict[str, Any]:
        """``build_spec()`` with the configuration check first (``config_check``): the build fails when
        the pushed model.yaml or pipeline class differs from what this pipeline was synthesized from."""
        folder = (self.model.source.path or "").strip("/")
        # The file model.yaml's pipeline_class names, when this pipeline is that class (not a class
        # passed from Python with a config that names another).
        reference = self.model.pipeline_class
        class_file = inspect.getsourcefile(type(self)) if reference else None
        if class_file is not None and reference and Path(class_file).name != reference.partition(":")[0]:
            class_file = None
        return with_config_check(
            self.build_spec(),
            model_name=self.model.name,
            model_file=f"{folder}/model.yaml" if folder else "model.yaml",
            record=DeployedConfig.of(self.model, Path(class_file) if class_file else None),
            topic_arn=self.notification_topic.topic_arn,
            region=Stack.of(self).region,
            account=Stack.of(self).account,
        )

    def _self_update(self, enabled: bool) -> SelfUpdate | None:
        """The ``UpdatePipeline`` stage's project when ``enabled``, allowed into this model's
        environments (the pipeline's, and production's account and region)."""
        if not enabled:
            return None
        stack = Stack.of(self)
        production = self.model.endpoints.production
        environments = [(stack.account, stack.region)]
        if self.model.inference != "batch":
            environments.append((production.account or stack.account, production.region or stack.region))
        return SelfUpdate(
            self,
            "SelfUpdate",
            model_name=self.model.name,
            encryption_key=self.encryption_key,
            environments=environments,
            # models/<name> in the repository: the app reads models/ (the example app's layout)
            models_dir=str(Path(self.model.source.path.strip("/")).parent) if self.model.source.path else None,
        )

    def _pipeline(self) -> codepipeline.Pipeline:
        source_output = codepipeline.Artifact("SourceCode")
        source = bind_source(self, self.model.source, source_output)
        execution_id = "#{codepipeline.PipelineExecutionId}"
        build = actions.CodeBuildAction(
            action_name="TestAndPackage",
            project=self.build.project,
            input=source_output,
            environment_variables={
                "PIPELINE_EXECUTION_ID": codebuild.BuildEnvironmentVariable(value=execution_id),
            },
        )
        train = actions.StepFunctionInvokeAction(
            action_name="TrainEvaluateRegister",
            state_machine=self.training.state_machine,
            state_machine_input=actions.StateMachineInput.literal(
                {"PipelineExecutionId": execution_id, "SourceRevision": source.revision_variable}
            ),
            variables_namespace=TRAIN_VARIABLES,
        )
        trained = actions.StateMachineInput.literal({"TrainingExecutionArn": f"#{{{TRAIN_VARIABLES}.ExecutionArn}}"})
        stage_names, release = (
            (BATCH_STAGE_NAMES, self._batch_release(self.batch_transform, trained))
            if self.batch_transform is not None
            else (STAGE_NAMES, self._endpoint_release(trained, execution_id))
        )
        stage_actions = [source.action, build, train, *release]
        if self.self_update is not None:  # UpdatePipeline right after Source
            stage_names = (stage_names[0], UPDATE_STAGE_NAME, *stage_names[1:])
            stage_actions.insert(1, self.self_update.action(source_output, execution_id))
        pipeline = codepipeline.Pipeline(
            self,
            "Resource",
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.QUEUED,
            artifact_bucket=self.artifact_bucket,
            restart_execution_on_update=self.self_update is not None,
            stages=[
                codepipeline.StageProps(stage_name=name, actions=[action])
                for name, action in zip(stage_names, stage_actions, strict=True)
            ],
            triggers=[source.trigger] if source.trigger else None,
        )
        # aws-cdk-lib grants the pipeline, its action roles and the build read/write on the artifact store
        # with wildcard actions (s3:GetObject*, kms:GenerateDataKey*, ...); make them explicit.
        make_actions_explicit(pipeline, self.build)
        if self.self_update is not None:
            self.self_update.bind(pipeline)
            make_actions_explicit(self.self_update)
            justify_wildcards(
                self.self_update,
                [Justification("Resource::{bucket}/*", "Pipeline artifacts are stored under generated keys.")],
                values={"bucket": self.artifact_bucket.bucket_arn},
            )
        justify_wildcards(
            pipeline,
            [
                Justification(
                    "Resource::{bucket}/*",
                    "Pipeline artifacts are stored under keys CodePipeline generates per execution.",
                ),
                Justification(
                    "Resource::arn:*:states:*:execution:*:*",
                    "The Step Functions action polls the executions it starts; their names are generated per run.",
                ),
            ],
            values={"bucket": self.artifact_bucket.bucket_arn},
        )
        justify_wildcards(
            self.build,
            [Justification("Resource::{bucket}/*", "Pipeline artifacts are stored under generated keys.")],
            values={"bucket": self.artifact_bucket.bucket_arn},
        )
        return pipeline

    def _approval(self, action_name: str, passed: str, approve_to: str) -> actions.ManualApprovalAction:
        return actions.ManualApprovalAction(
            action_name=action_name,
            notification_topic=self.notification_topic,
            additional_information=f"Model {self.model.name} passed {passed}. Approve to {approve_to}.",
        )

    def _endpoint_release(self, trained: actions.StateMachineInput, execution_id: str) -> list[codepipeline.IAction]:
        """DeployStaging, SmokeTest, ManualApproval and DeployProduction of an endpoint model."""
        assert self.deploy_staging and self.smoke_test_workflow and self.deploy_production
        return [
            actions.StepFunctionInvokeAction(
                action_name="DeployStagingEndpoint",
                state_machine=self.deploy_staging.state_machine,
                state_machine_input=trained,
            ),
            actions.StepFunctionInvokeAction(
                action_name="SmokeTestStaging",
                state_machine=self.smoke_test_workflow.state_machine,
                state_machine_input=actions.StateMachineInput.literal({"PipelineExecutionId": execution_id}),
            ),
            self._approval(
                "ApproveProduction", "its quality gate and the staging smoke test", "roll it out to production"
            ),
            actions.StepFunctionInvokeAction(
                action_name="DeployProductionEndpoint",
                state_machine=self.deploy_production.state_machine,
                state_machine_input=trained,
            ),
        ]

    def _batch_release(
        self, workflow: BatchTransformWorkflow, trained: actions.StateMachineInput
    ) -> list[codepipeline.IAction]:
        """ManualApproval and BatchTransform of a batch model."""
        return [
            self._approval("ApproveBatchTransform", "its quality gate", "score new data with it in a batch transform"),
            actions.StepFunctionInvokeAction(
                action_name="RunBatchTransform", state_machine=workflow.state_machine, state_machine_input=trained
            ),
        ]

    def release_workflows(self) -> dict[str, sfn.IStateMachine]:
        """The workflows a release runs, by label, in pipeline order (the last one completes a release):
        training, deploy staging, smoke test and deploy production; training and batch transform for a
        batch model."""
        if self.batch_transform is not None:
            return {"Training": self.training.state_machine, "Batch transform": self.batch_transform.state_machine}
        assert self.deploy_staging and self.smoke_test_workflow and self.deploy_production
        return {
            "Training": self.training.state_machine,
            "Deploy staging": self.deploy_staging.state_machine,
            "Smoke test": self.smoke_test_workflow.state_machine,
            "Deploy production": self.deploy_production.state_machine,
        }

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Lets ``grantee`` start a release of this pipeline."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["codepipeline:StartPipelineExecution"],
            resource_arns=[self.pipeline.pipeline_arn],
        )


class MlPipeline(MlPipelineBase):
    """The pipeline exactly as ``model.yaml`` describes it. Subclass it and override one hook to
    replace one step (for example ``preprocessing_step`` or ``quality_gate``)."""

    def training_step(self, ctx: WorkflowContext) -> Step:
        """Default: a ``createTrainingJob.sync`` from the ``training`` section (managed spot if enabled)."""
        return workflow_steps.default_training_step(ctx)
