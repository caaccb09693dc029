"""cdk-mlops: AWS CDK constructs that turn a git push of model code into a tested, evaluated,
registered and safely deployed Amazon SageMaker endpoint."""

from cdk_mlops.app_builder import MlopsApp, ModelStacks, build_app, stack_names
from cdk_mlops.config import (
    MetricThreshold,
    ModelConfig,
    ModelConfigError,
    load_model_config,
    parse_model_config,
)
from cdk_mlops.constructs.deploy_workflow import DeployWorkflow
from cdk_mlops.constructs.ml_pipeline import MlPipeline, MlPipelineBase
from cdk_mlops.constructs.model_build_project import ModelBuildProject
from cdk_mlops.constructs.model_endpoint import ModelEndpoint
from cdk_mlops.constructs.sagemaker_tasks import (
    JobNetworkConfig,
    ProcessingJobTask,
    S3Channel,
    SpotTraining,
    TrainingJobTask,
)
from cdk_mlops.constructs.smoke_test_workflow import SmokeTestWorkflow
from cdk_mlops.constructs.training_workflow import TrainingWorkflow
from cdk_mlops.constructs.workflow_context import RunPaths, WorkflowContext
from cdk_mlops.constructs.workflow_steps import EvaluationStep, Step
from cdk_mlops.stacks.endpoint_stack import ModelEndpointStack
from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
from cdk_mlops.stacks.platform_stack import PlatformStack

__all__ = [
    "DeployWorkflow",
    "EvaluationStep",
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
    "PlatformStack",
    "ProcessingJobTask",
    "RunPaths",
    "S3Channel",
    "SmokeTestWorkflow",
    "SpotTraining",
    "Step",
    "TrainingJobTask",
    "TrainingWorkflow",
    "WorkflowContext",
    "build_app",
    "load_model_config",
    "parse_model_config",
    "stack_names",
]
