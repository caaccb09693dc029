"""cdk-mlops: AWS CDK constructs that turn a git push of model code into a tested, evaluated,
registered and safely deployed Amazon SageMaker endpoint.

Names are imported on first use (PEP 562), so ``import cdk_mlops.local`` or ``cdk_mlops.config`` does
not start the CDK runtime."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "BatchTransformWorkflow": "cdk_mlops.constructs.batch_transform_workflow",
    "DeployWorkflow": "cdk_mlops.constructs.deploy_workflow",
    "DriftCheck": "cdk_mlops.constructs.drift_check",
    "EvaluationStep": "cdk_mlops.constructs.workflow_steps",
    "HookReturnError": "cdk_mlops.constructs.hooks",
    "JobNetworkConfig": "cdk_mlops.constructs.sagemaker_tasks",
    "MetricThreshold": "cdk_mlops.config",
    "MlPipeline": "cdk_mlops.constructs.ml_pipeline",
    "MlPipelineBase": "cdk_mlops.constructs.ml_pipeline",
    "MlopsApp": "cdk_mlops.app_builder",
    "ModelBuildProject": "cdk_mlops.constructs.model_build_project",
    "ModelConfig": "cdk_mlops.config",
    "ModelConfigError": "cdk_mlops.config",
    "ModelEndpoint": "cdk_mlops.constructs.model_endpoint",
    "ModelEndpointStack": "cdk_mlops.stacks.endpoint_stack",
    "ModelPipelineStack": "cdk_mlops.stacks.pipeline_stack",
    "ModelStacks": "cdk_mlops.app_builder",
    "Notify": "cdk_mlops.constructs.workflow_steps",
    "PlatformStack": "cdk_mlops.stacks.platform_stack",
    "ProcessingJobTask": "cdk_mlops.constructs.sagemaker_tasks",
    "RunPaths": "cdk_mlops.constructs.workflow_context",
    "S3Channel": "cdk_mlops.constructs.sagemaker_tasks",
    "SmokeTestWorkflow": "cdk_mlops.constructs.smoke_test_workflow",
    "SpotTraining": "cdk_mlops.constructs.sagemaker_tasks",
    "Step": "cdk_mlops.constructs.workflow_steps",
    "TrainingJobTask": "cdk_mlops.constructs.sagemaker_tasks",
    "TrainingWorkflow": "cdk_mlops.constructs.training_workflow",
    "TransformJobTask": "cdk_mlops.constructs.sagemaker_tasks",
    "WorkflowContext": "cdk_mlops.constructs.workflow_context",
    "build_app": "cdk_mlops.app_builder",
    "default_evaluation_step": "cdk_mlops.constructs.workflow_steps",
    "default_preprocessing_step": "cdk_mlops.constructs.workflow_steps",
    "default_quality_gate": "cdk_mlops.constructs.workflow_steps",
    "default_registration_step": "cdk_mlops.constructs.workflow_steps",
    "default_training_step": "cdk_mlops.constructs.workflow_steps",
    "evaluation_job_step": "cdk_mlops.constructs.workflow_steps",
    "load_model_config": "cdk_mlops.config",
    "parse_model_config": "cdk_mlops.config",
    "stack_names": "cdk_mlops.app_builder",
    "training_metrics_step": "cdk_mlops.constructs.workflow_steps",
}

if TYPE_CHECKING:
    from cdk_mlops.app_builder import MlopsApp, ModelStacks, build_app, stack_names
    from cdk_mlops.config import MetricThreshold, ModelConfig, ModelConfigError, load_model_config, parse_model_config
    from cdk_mlops.constructs.batch_transform_workflow import BatchTransformWorkflow
    from cdk_mlops.constructs.deploy_workflow import DeployWorkflow
    from cdk_mlops.constructs.drift_check import DriftCheck
    from cdk_mlops.constructs.hooks import HookReturnError
    from cdk_mlops.constructs.ml_pipeline import MlPipeline, MlPipelineBase
    from cdk_mlops.constructs.model_build_project import ModelBuildProject
    from cdk_mlops.constructs.model_endpoint import ModelEndpoint
    from cdk_mlops.constructs.sagemaker_tasks import (
        JobNetworkConfig,
        ProcessingJobTask,
        S3Channel,
        SpotTraining,
        TrainingJobTask,
        TransformJobTask,
    )
    from cdk_mlops.constructs.smoke_test_workflow import SmokeTestWorkflow
    from cdk_mlops.constructs.training_workflow import TrainingWorkflow
    from cdk_mlops.constructs.workflow_context import RunPaths, WorkflowContext
    from cdk_mlops.constructs.workflow_steps import (
        EvaluationStep,
        Notify,
        Step,
        default_evaluation_step,
        default_preprocessing_step,
        default_quality_gate,
        default_registration_step,
        default_training_step,
        evaluation_job_step,
        training_metrics_step,
    )
    from cdk_mlops.stacks.endpoint_stack import ModelEndpointStack
    from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
    from cdk_mlops.stacks.platform_stack import PlatformStack


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BatchTransformWorkflow",
    "DeployWorkflow",
    "DriftCheck",
    "EvaluationStep",
    "HookReturnError",
    "JobNetworkConfig",
    "MetricThreshold",
    "MlPipeline",
    "MlPipelineBase",
    "MlopsApp",
    "ModelBuildProject",
    "ModelConfig",
    "ModelConfigError",
    "ModelEndpoint",
    "ModelEndpointStack",
    "ModelPipelineStack",
    "ModelStacks",
    "Notify",
    "PlatformStack",
    "ProcessingJobTask",
    "RunPaths",
    "S3Channel",
    "SmokeTestWorkflow",
    "SpotTraining",
    "Step",
    "TrainingJobTask",
    "TrainingWorkflow",
    "TransformJobTask",
    "WorkflowContext",
    "build_app",
    "default_evaluation_step",
    "default_preprocessing_step",
    "default_quality_gate",
    "default_registration_step",
    "default_training_step",
    "evaluation_job_step",
    "load_model_config",
    "parse_model_config",
    "stack_names",
    "training_metrics_step",
]
