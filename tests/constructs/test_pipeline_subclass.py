"""Subclassing ``MlPipeline``: overriding one hook replaces one step and leaves everything else as is.

One app holds three pipeline stacks built from the same iris-sklearn config: the plain ``MlPipeline``,
the model's own ``IrisPipeline`` (a stricter quality gate) and a pipeline that overrides only
``training_step``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from cdk_mlops.app_builder import load_pipeline_class
from cdk_mlops.config import load_model_config
from cdk_mlops.constructs.ml_pipeline import MlPipeline, MlPipelineBase
from cdk_mlops.constructs.sagemaker_tasks import S3Channel, TrainingJobTask
from cdk_mlops.constructs.workflow_context import RunPaths, WorkflowContext
from cdk_mlops.constructs.workflow_steps import Step
from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
from cdk_mlops_testing import ACCOUNT, BUCKET_ARN, KEY_ARN, MODELS_DIR, REGION, definition, render, state_machine

IRIS_FILE = MODELS_DIR / "iris-sklearn" / "model.yaml"
GATE_STATES = {
    "QualityGate metrics_min_class_recall",
    "NotifyRejected2",
    "Rejected2",
    "NotifyMetricMissing2",
    "MetricMissing2",
}


class GpuTrainingPipeline(MlPipelineBase):
    """Implements only the abstract hook: training on a GPU instance under its own state name."""

    def training_step(self, ctx: WorkflowContext) -> Step:
        task = TrainingJobTask(
            ctx.scope,
            "TrainOnGpu",
            job_name=RunPaths.TRAINING_JOB,
            job_name_prefix=ctx.job_prefix,
            image_uri=ctx.image_uri,
            role=ctx.sagemaker_role,
            channels=[S3Channel("train", f"States.Format('{{}}train/', {RunPaths.PROCESSED_PREFIX})")],
            output_s3_uri=RunPaths.MODEL_OUTPUT,
            instance_type="ml.g5.xlarge",
            encryption_key=ctx.encryption_key,
            result_path="$.training",
        )
        ctx.protect(task)
        return Step(sfn.Chain.start(task), [task])


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    """Template JSON by pipeline: ``base`` (MlPipeline), ``iris`` (IrisPipeline), ``gpu``."""
    config = load_model_config(IRIS_FILE)
    iris_pipeline = load_pipeline_class(IRIS_FILE, config.pipeline_class)
    app = cdk.App(builtin_cloud_formation_validation=False)
    stacks = {
        name: ModelPipelineStack(
            app,
            f"Iris-{name}",
            model=config,
            artifact_bucket_arn=BUCKET_ARN,
            encryption_key_arn=KEY_ARN,
            staging_stack_name="Mlops-iris-sklearn-Staging",
            production_stack_name="Mlops-iris-sklearn-Production",
            pipeline_class=cls,
            env=cdk.Environment(account=ACCOUNT, region=REGION),
        )
        for name, cls in (("base", MlPipeline), ("iris", iris_pipeline), ("gpu", GpuTrainingPipeline))
    }
    return {name: Template.from_stack(stack).to_json() for name, stack in stacks.items()}


def differing_resources(first: dict[str, Any], second: dict[str, Any]) -> set[str]:
    ids = set(first["Resources"]) | set(second["Resources"])
    return {key for key in ids if first["Resources"].get(key) != second["Resources"].get(key)}


def test_iris_pipeline_is_an_ml_pipeline_that_overrides_only_the_quality_gate() -> None:
    config = load_model_config(IRIS_FILE)
    iris_pipeline = load_pipeline_class(IRIS_FILE, config.pipeline_class)

    assert issubclass(iris_pipeline, MlPipeline)
    assert iris_pipeline.__name__ == "IrisPipeline"
    assert {name for name, value in vars(iris_pipeline).items() if callable(value)} == {"quality_gate"}


def test_iris_pipeline_adds_the_min_class_recall_gate_and_changes_nothing_else(templates) -> None:
    base = definition(templates["base"], "MlPipelineTraining")["States"]
    iris = definition(templates["iris"], "MlPipelineTraining")["States"]

    assert set(iris) - set(base) == GATE_STATES
    assert set(base) - set(iris) == set()
    # The last configured gate now leads to the added gate instead of straight to registration.
    assert base["QualityGate metrics_macro_f1"]["Choices"][1]["Next"] == "RegisterModel"
    assert iris["QualityGate metrics_macro_f1"]["Choices"][1]["Next"] == "QualityGate metrics_min_class_recall"
    assert iris["QualityGate metrics_min_class_recall"]["Choices"][1] == {
        "Variable": "$.evaluation.metrics.metrics.min_class_recall",
        "NumericGreaterThanEquals": 0.8,
        "Next": "RegisterModel",
    }
    relinked = {**iris["QualityGate metrics_macro_f1"]}
    relinked["Choices"] = [relinked["Choices"][0], {**relinked["Choices"][1], "Next": "RegisterModel"}]
    assert relinked == base["QualityGate metrics_macro_f1"]
    for name in set(base) - {"QualityGate metrics_macro_f1"}:
        assert iris[name] == base[name], name


def test_iris_pipeline_stack_differs_from_the_plain_one_only_in_the_training_definition(templates) -> None:
    base_definition = definition(templates["base"], "MlPipelineTraining")
    iris_definition = definition(templates["iris"], "MlPipelineTraining")

    # ... and the build's record of the pipeline class file it checks pushes against (test_config_drift.py)
    assert differing_resources(templates["base"], templates["iris"]) == {
        "MlPipelineTrainingE4186D57",
        "MlPipelineBuild038624F3",
    }
    base_build, iris_build = (
        render(templates[name]["Resources"]["MlPipelineBuild038624F3"]["Properties"]["Source"]["BuildSpec"])
        for name in ("base", "iris")
    )
    iris_spec, base_spec = yaml.safe_load(iris_build), yaml.safe_load(base_build)
    assert len(iris_spec["env"]["variables"].pop("CDK_MLOPS_PIPELINE_CLASS_SHA256")) == 64
    assert base_spec["env"]["variables"].pop("CDK_MLOPS_PIPELINE_CLASS_SHA256") == ""
    assert iris_spec == base_spec
    assert {key: value for key, value in base_definition.items() if key != "States"} == {
        key: value for key, value in iris_definition.items() if key != "States"
    }
    base_machine = {
        k: v for k, v in state_machine(templates["base"], "MlPipelineTraining").items() if k != "DefinitionString"
    }
    iris_machine = {
        k: v for k, v in state_machine(templates["iris"], "MlPipelineTraining").items() if k != "DefinitionString"
    }
    assert base_machine == iris_machine


def test_ml_pipeline_base_cannot_be_instantiated() -> None:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Abstract", env=cdk.Environment(account=ACCOUNT, region=REGION))

    with pytest.raises(TypeError, match="abstract method training_step"):
        MlPipelineBase(stack, "Pipeline")  # type: ignore[abstract, call-arg]


def test_subclass_that_forgets_training_step_cannot_be_instantiated() -> None:
    class NoTraining(MlPipelineBase):
        def preprocessing_step(self, ctx: WorkflowContext) -> Step | None:
            return None

    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Forgetful", env=cdk.Environment(account=ACCOUNT, region=REGION))

    with pytest.raises(TypeError, match="abstract method training_step"):
        NoTraining(stack, "Pipeline")  # type: ignore[abstract, call-arg]


def test_subclass_overriding_training_step_gets_its_own_training_state(templates) -> None:
    base = definition(templates["base"], "MlPipelineTraining")
    gpu = definition(templates["gpu"], "MlPipelineTraining")

    assert set(gpu["States"]) - set(base["States"]) == {"TrainOnGpu"}
    assert set(base["States"]) - set(gpu["States"]) == {"Train"}
    train = gpu["States"]["TrainOnGpu"]
    assert train["Resource"] == "arn:${AWS::Partition}:states:::sagemaker:createTrainingJob.sync"
    assert train["Parameters"]["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert train["Parameters"]["TrainingJobName.$"] == "$.run.training_job"
    assert train["Next"] == "Evaluate"
    # ctx.protect catches into the shared failure path, naming the subclass's own state
    assert train["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Assign": {"failedState": "TrainOnGpu"},
            "Next": "DescribeFailure",
        }
    ]


def test_subclass_overriding_training_step_keeps_every_other_state(templates) -> None:
    base = definition(templates["base"], "MlPipelineTraining")["States"]
    gpu = definition(templates["gpu"], "MlPipelineTraining")["States"]

    assert base["Preprocess"]["Next"] == "Train"
    assert gpu["Preprocess"] == {**base["Preprocess"], "Next": "TrainOnGpu"}
    for name in set(base) - {"Train", "Preprocess"}:
        assert gpu[name] == base[name], name
    assert differing_resources(templates["base"], templates["gpu"]) == {"MlPipelineTrainingE4186D57"}
