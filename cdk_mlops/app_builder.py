"""Turns the ``models/*/model.yaml`` files into stacks: one shared platform stack, and per model a
pipeline stack plus its staging and production endpoint stacks (none for a batch model)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_mlops.config.loader import ModelConfigError
from cdk_mlops.config.model_config import ModelConfig
from cdk_mlops.config.shared_endpoint_config import load_shared_endpoint
from cdk_mlops.constructs.compliance import WILDCARD_ACKS_CONTEXT, acknowledge_wildcards_in
from cdk_mlops.constructs.ml_pipeline import MlPipeline, MlPipelineBase
from cdk_mlops.plan import DEFAULT_REGION, STACK_PREFIX, Placement, plan_models, stack_names
from cdk_mlops.stacks.endpoint_stack import ModelEndpointStack
from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
from cdk_mlops.stacks.platform_stack import PlatformStack
from cdk_mlops.stacks.shared_endpoint_stack import SharedEndpointStack

__all__ = [
    "DEFAULT_REGION",
    "STACK_PREFIX",
    "MlopsApp",
    "ModelStacks",
    "Placement",
    "build_app",
    "enable_compliance_checks",
    "load_pipeline_class",
    "selected_models",
    "stack_names",
]


@dataclasses.dataclass
class ModelStacks:
    """The stacks of one model: its pipeline and, unless it is a batch model (``inference: batch``),
    its staging and production endpoint stacks."""

    config: ModelConfig
    pipeline: ModelPipelineStack
    staging: ModelEndpointStack | None = None
    production: ModelEndpointStack | None = None

    @property
    def stacks(self) -> list[cdk.Stack]:
        """The pipeline stack, then the endpoint stacks the model has."""
        return [stack for stack in (self.pipeline, self.staging, self.production) if stack is not None]


@dataclasses.dataclass
class MlopsApp:
    """What ``build_app`` created."""

    platform: PlatformStack
    models: dict[str, ModelStacks]
    #: ``Mlops-Platform-<account>`` (or ``-<account>-<region>``) of each other account hosting an instance
    #: production endpoint, by what follows ``Mlops-Platform-`` in its name.
    production_platforms: dict[str, PlatformStack] = dataclasses.field(default_factory=dict)
    #: ``Mlops-Platform-<region>``: the pipeline account's platform in each other region hosting a
    #: production endpoint (it holds the model data copied there), by region.
    regional_platforms: dict[str, PlatformStack] = dataclasses.field(default_factory=dict)
    #: ``Mlops-Endpoint-<name>``: the shared endpoints the models' inference components run on, by name.
    shared_endpoints: dict[str, SharedEndpointStack] = dataclasses.field(default_factory=dict)


def load_pipeline_class(config_path: Path, reference: str | None) -> type[MlPipelineBase]:
    """``pipeline_class: file.py:ClassName`` in model.yaml, relative to the model's folder."""
    if reference is None:
        return MlPipeline
    file_name, _, class_name = reference.partition(":")
    module_path = config_path.parent / file_name
    if not class_name or not file_name.endswith(".py"):
        raise ModelConfigError(config_path, [f"pipeline_class: must be '<file>.py:<ClassName>' (got {reference!r})"])
    if not module_path.is_file():
        raise ModelConfigError(config_path, [f"pipeline_class: no file {module_path} (got {reference!r})"])
    spec = importlib.util.spec_from_file_location(f"cdk_mlops_models.{config_path.parent.name}", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and postponed annotations look their module up here
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the model author's code: any failure is a configuration error
        del sys.modules[spec.name]
        raise ModelConfigError(
            config_path,
            [f"pipeline_class: {module_path} failed to import: {type(error).__name__}: {error} (got {reference!r})"],
        ) from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, MlPipelineBase)):
        raise ModelConfigError(
            config_path,
            [f"pipeline_class: {class_name} in {module_path} is not an MlPipeline subclass (got {reference!r})"],
        )
    return cls


def enable_compliance_checks(app: cdk.App) -> bool:
    """Runs cdk-nag's AwsSolutions pack on every synth (findings fail it), unless ``-c nag=false``.

    Call it before creating stacks: it sets the context flag ``WILDCARD_ACKS_CONTEXT`` on the app, and
    only stacks that see the flag acknowledge their justified wildcard findings (with cdk-nag off,
    ``justify_wildcards`` does no work). Stacks that already exist are covered as well."""
    if str(app.node.try_get_context("nag")).lower() in ("false", "0", "no", "off"):
        return False
    from cdk_nag import AwsSolutionsChecks

    if app.node.children:  # context can only be set before the first child; cover the existing stacks
        acknowledge_wildcards_in(app)
    else:
        app.node.set_context(WILDCARD_ACKS_CONTEXT, True)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    return True


def _endpoint_stack(
    app: cdk.App,
    name: str,
    config: ModelConfig,
    stage: str,
    env: cdk.Environment,
    platform: PlatformStack | None,
    *,
    external_model_artifacts: bool = False,
    replicated_model: bool = False,
    notification_topic: sns.ITopic | None = None,
    shared_endpoints: dict[str, SharedEndpointStack] | None = None,
) -> ModelEndpointStack:
    shared = (config.endpoints.staging if stage == "staging" else config.endpoints.production).shared_endpoint
    shared_endpoint = (shared_endpoints or {})[shared].endpoint if shared is not None else None
    return ModelEndpointStack(
        app,
        name,
        model=config,
        stage=stage,
        env=env,
        description=f"cdk-mlops {config.name}: {stage} endpoint",
        artifact_bucket_arn=platform.artifact_bucket.bucket_arn if platform else None,
        encryption_key_arn=platform.encryption_key.key_arn if platform else None,
        external_model_artifacts=external_model_artifacts,
        replicated_model=replicated_model,
        notification_topic=notification_topic,
        shared_endpoint=shared_endpoint,
    )


def _shared_endpoint_stacks(
    app: cdk.App, models_dir: Path | str, chosen: Sequence[tuple[Path, ModelConfig]], env: cdk.Environment, key_arn: str
) -> dict[str, SharedEndpointStack]:
    """``Mlops-Endpoint-<name>`` for every shared endpoint a chosen model's stage names, from
    ``<models_dir>/shared_endpoints/<name>.yaml`` (``ModelConfigError`` naming the model file and field when
    it is missing or invalid)."""
    stacks: dict[str, SharedEndpointStack] = {}
    for path, config in chosen:
        for stage in ("staging", "production"):
            name = getattr(config.endpoints, stage).shared_endpoint
            if name is None or name in stacks:
                continue
            settings = load_shared_endpoint(models_dir, name, path, f"endpoints.{stage}.shared_endpoint")
            stacks[name] = SharedEndpointStack(
                app,
                f"{STACK_PREFIX}-Endpoint-{name}",
                settings=settings,
                encryption_key_arn=key_arn,
                env=env,
                description=settings.description
                or f"cdk-mlops shared endpoint {name}: instances for inference components",
            )
            cdk.Tags.of(stacks[name]).add("cdk-mlops:shared-endpoint", name)
    return stacks


def _model_stacks(
    app: cdk.App,
    config: ModelConfig,
    pipeline_class: type[MlPipelineBase],
    env: cdk.Environment,
    placement: Placement,
    platforms: dict[str | None, PlatformStack],
    shared_endpoints: dict[str, SharedEndpointStack] | None = None,
) -> ModelStacks:
    """The pipeline stack of ``config`` and its staging and production endpoint stacks (none for a batch
    model), every stack of the model tagged with its name. ``platforms`` holds the platform stacks by
    ``Placement.platform_key`` (None: the pipeline's). The endpoint stacks' alarms notify the pipeline
    stack's topic, except in another account or region (an alarm notifies a topic of its own only)."""
    names = stack_names(config.name)
    endpoints = config.inference != "batch"
    platform = platforms[None]
    replica = platforms.get(placement.region) if placement.other_region else None
    pipeline = ModelPipelineStack(
        app,
        names["Pipeline"],
        model=config,
        staging_stack_name=names["Staging"] if endpoints else None,
        production_stack_name=names["Production"] if endpoints else None,
        pipeline_class=pipeline_class,
        env=env,
        description=f"cdk-mlops {config.name}: deployment pipeline and workflows",
        artifact_bucket_arn=platform.artifact_bucket.bucket_arn,
        encryption_key_arn=platform.encryption_key.key_arn,
        production_replica_stack_name=replica.stack_name if replica else None,
    )
    if replica is not None:  # deploying the pipeline deploys the bucket its releases copy the model to
        pipeline.add_stack_dependency(replica)
    staging = production = None
    if endpoints:
        topic = pipeline.pipeline.notification_topic
        staging = _endpoint_stack(
            app,
            names["Staging"],
            config,
            "staging",
            env,
            platform,
            notification_topic=topic,
            shared_endpoints=shared_endpoints,
        )
        elsewhere = placement.account is not None or placement.other_region
        production = _endpoint_stack(
            app,
            names["Production"],
            config,
            "production",
            cdk.Environment(account=placement.account or env.account, region=placement.region),
            platforms.get(placement.platform_key),
            external_model_artifacts=placement.account is not None,
            replicated_model=placement.other_region,
            notification_topic=None if elsewhere else topic,
            shared_endpoints=shared_endpoints,
        )
    stacks = ModelStacks(config, pipeline, staging, production)
    for stack in stacks.stacks:
        cdk.Tags.of(stack).add("cdk-mlops:model", config.name)
    return stacks


def selected_models(scope: Construct) -> list[str] | None:
    """``-c models=a,b`` on the command line: synthesize only these models."""
    value = scope.node.try_get_context("models")
    if not value:
        return None
    return [name.strip() for name in str(value).split(",") if name.strip()]


def build_app(
    app: cdk.App,
    models_dir: Path | str,
    *,
    only: Sequence[str] | None = None,
    region: str | None = None,
    account: str | None = None,
) -> MlopsApp:
    """Checks every model file (``cdk_mlops.plan.plan_models``: every error of every file, raised as one
    ``ModelConfigError``), then creates the stacks. ``only`` limits which models get stacks
    (every file is still checked). Region: ``region``, else ``CDK_DEFAULT_REGION``, else eu-west-1;
    account: ``account``, else ``CDK_DEFAULT_ACCOUNT``, else environment-agnostic.

    A model with ``endpoints.production.account`` gets its production stack in that account, next to a
    ``Mlops-Platform-<account>`` stack (``-<account>-<region>`` in another region: key and bucket for
    what the endpoint writes, shared by the models deployed there; not created when all of them are
    serverless, which write nothing); the pipeline account's platform grants that account read access
    to what those models' endpoints serve.

    A model with ``endpoints.production.region`` other than the pipeline's gets its production stack in
    that region, and the pipeline account a ``Mlops-Platform-<region>`` stack there, whose bucket holds
    the model data each release copies there (and, for an endpoint in the pipeline's account, what the
    endpoint writes); the pipeline stack depends on it."""
    plan = plan_models(models_dir, only=only, region=region, account=account)
    plan.raise_for_errors()
    region, account = plan.region, plan.account
    env = cdk.Environment(account=account, region=region)
    chosen = [(model.path, model.config) for model in plan.models.values() if only is None or model.name in only]
    classes = {config.name: load_pipeline_class(path, config.pipeline_class) for path, config in chosen}
    placements: dict[str, Placement] = {}
    for model in plan.models.values():
        assert model.placement is not None  # set by the plan whenever it has no errors
        placements[model.name] = model.placement
    # Per region (the pipeline's, or one holding copies of the model data): another account -> the models
    # whose production endpoints it hosts, reading their served objects from the pipeline account's bucket.
    model_readers: dict[str, dict[str, list[str]]] = {region: {}}
    target_platforms: dict[str, Placement] = {}  # other accounts' platforms, for what instance endpoints write
    for config in (config for _, config in chosen if config.inference != "batch"):
        placement = placements[config.name]
        readers = model_readers.setdefault(placement.region, {})
        if placement.account is not None:
            readers.setdefault(placement.account, []).append(config.name)
            # A serverless endpoint writes nothing (no volume, capture or async output): no platform needed.
            if not config.endpoints.production.serverless:
                target_platforms[str(placement.platform_key)] = placement

    platform = PlatformStack(
        app,
        f"{STACK_PREFIX}-Platform",
        env=env,
        description="cdk-mlops shared platform: KMS key and artifact bucket",
        model_readers=model_readers[region],
    )
    platforms: dict[str | None, PlatformStack] = {None: platform}
    regional = {
        other: PlatformStack(
            app,
            f"{STACK_PREFIX}-Platform-{other}",
            env=cdk.Environment(account=account, region=other),
            description=f"cdk-mlops platform in {other}: KMS key and bucket for the model data production serves "
            "there, and for what those endpoints write",
            model_readers=readers,
        )
        for other, readers in sorted(model_readers.items())
        if other != region
    }
    platforms.update(regional)
    production_platforms = {
        key: PlatformStack(
            app,
            f"{STACK_PREFIX}-Platform-{key}",
            env=cdk.Environment(account=placement.account, region=placement.region),
            description=f"cdk-mlops platform of the production account {placement.account}"
            + (f" in {placement.region}" if placement.other_region else "")
            + ": KMS key and bucket for endpoints",
        )
        for key, placement in sorted(target_platforms.items())
    }
    platforms.update(production_platforms)
    shared = _shared_endpoint_stacks(app, models_dir, chosen, env, platform.encryption_key.key_arn)
    models: dict[str, ModelStacks] = {}
    for _, config in chosen:
        models[config.name] = _model_stacks(
            app, config, classes[config.name], env, placements[config.name], platforms, shared
        )
    return MlopsApp(platform, models, production_platforms, regional, shared)
