"""``training.tuning``: the training workflow runs ``createHyperParameterTuningJob.sync`` then describes
the best training job, so evaluation, gate and registration read it as a plain training job.

The request follows CreateHyperParameterTuningJob in the SageMaker API reference (and botocore's
service model); the IAM statements follow the Step Functions developer guide's "IAM policies for
Amazon SageMaker AI" for the ``.sync`` tuning integration
(https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html).
"""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_mlops.config import parse_model_config
from cdk_mlops.constructs import error_names
from cdk_mlops.constructs.ml_pipeline import MlPipeline
from cdk_mlops.constructs.tuning_task import TUNING_JOB_NAME_MAX, tuning_job_name
from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
from cdk_mlops_testing import (
    ACCOUNT,
    BUCKET_ARN,
    KEY_ARN,
    REGION,
    definition,
    example_config_data,
    happy_path,
    render,
    role_statements,
    state_machine,
)

TUNING = {
    "objective_metric": "validation:auc",
    "strategy": "Random",
    "max_jobs": 6,
    "max_parallel_jobs": 2,
    "early_stopping": True,
    "ranges": {
        "eta": {"min": 0.05, "max": 0.5, "scaling": "Logarithmic"},
        "max_depth": {"min": 2, "max": 8},
        "booster": {"values": ["gbtree", "dart"]},
    },
}


def _synth(data: dict[str, Any]) -> dict[str, Any]:
    app = cdk.App(builtin_cloud_formation_validation=False)
    stack = ModelPipelineStack(
        app,
        "Tuned",
        model=parse_model_config(data, f"models/{data['name']}/model.yaml"),
        artifact_bucket_arn=BUCKET_ARN,
        encryption_key_arn=KEY_ARN,
        staging_stack_name=f"{data['name']}-Staging",
        production_stack_name=f"{data['name']}-Production",
        pipeline_class=MlPipeline,
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    data = example_config_data("churn-xgb")
    data["training"]["tuning"] = TUNING
    return _synth(data)


@pytest.fixture(scope="module")
def workflow(template) -> dict[str, Any]:
    return definition(template, "MlPipelineTraining")


def test_tuned_workflow_tunes_then_describes_the_best_job_before_gating_and_registering(workflow) -> None:
    path = happy_path(workflow)
    assert path[path.index("Initialize") + 1 : path.index("Initialize") + 4] == [
        "Tune",
        "DescribeBestTrainingJob",
        "ExtractTrainingMetrics",
    ]
    assert "Train" not in workflow["States"]
    assert "RegisterModel" in path


def test_tuning_uses_the_sync_integration_and_a_32_character_name(workflow) -> None:
    tune = workflow["States"]["Tune"]
    assert tune["Resource"] == "arn:${AWS::Partition}:states:::sagemaker:createHyperParameterTuningJob.sync"
    assert tune["Parameters"]["HyperParameterTuningJobName.$"] == (
        "States.Hash(States.Format('churn-xgb/tune/{}', $$.Execution.Name), 'MD5')"
    )
    assert tune["ResultPath"] == "$.tuning"


def test_tuning_job_name_is_a_valid_sagemaker_name_for_an_80_character_execution_name() -> None:
    import hashlib

    execution = "x" * 80
    name = hashlib.md5(f"churn-xgb/tune/{execution}".encode()).hexdigest()  # what States.Hash computes
    assert "churn-xgb/tune" in tuning_job_name("churn-xgb")
    assert len(name) <= TUNING_JOB_NAME_MAX
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}", name)


def test_tuning_request_is_rendered_from_the_config(workflow) -> None:
    config = workflow["States"]["Tune"]["Parameters"]["HyperParameterTuningJobConfig"]
    assert config == {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
        "ResourceLimits": {"MaxParallelTrainingJobs": 2, "MaxNumberOfTrainingJobs": 6},
        "ParameterRanges": {
            "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
            ],
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "8", "ScalingType": "Auto"}],
        },
        "TrainingJobEarlyStoppingType": "Auto",
    }


def test_tuned_hyperparameters_are_dropped_from_the_static_ones(workflow) -> None:
    static = workflow["States"]["Tune"]["Parameters"]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"objective": "binary:logistic", "eval_metric": "auc", "num_round": "200"}


def test_spot_and_checkpoints_apply_to_every_training_job_of_the_tuning_job(workflow) -> None:
    job = workflow["States"]["Tune"]["Parameters"]["TrainingJobDefinition"]
    assert job["EnableManagedSpotTraining"] is True
    assert job["CheckpointConfig"] == {"S3Uri.$": "$.run.checkpoints"}
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["OutputDataConfig"]["S3OutputPath.$"] == "$.run.model_output"
    assert [channel["ChannelName"] for channel in job["InputDataConfig"]] == ["train", "validation"]


def test_the_best_training_job_is_described_into_the_training_result(workflow) -> None:
    describe = workflow["States"]["DescribeBestTrainingJob"]
    assert describe["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sagemaker:describeTrainingJob"
    assert describe["Parameters"] == {"TrainingJobName.$": "$.tuning.BestTrainingJob.TrainingJobName"}
    assert describe["ResultPath"] == "$.training"


def test_tuning_states_retry_with_names_from_the_error_table_and_catch_into_the_failure_path(workflow) -> None:
    tune, describe = workflow["States"]["Tune"], workflow["States"]["DescribeBestTrainingJob"]
    assert [rule["ErrorEquals"] for rule in tune["Retry"]] == [
        list(error_names.OPTIMIZED["sagemaker"].retryable),
        list(error_names.OPTIMIZED["sagemaker"].capacity),
    ]
    assert describe["Retry"][0]["ErrorEquals"] == list(error_names.aws_sdk("SageMaker").retryable)
    for state in (tune, describe):
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert error_names.unknown_error_names(workflow) == []


def test_state_machine_role_may_run_and_stop_tuning_jobs_and_pass_the_training_role(template) -> None:
    role_id = state_machine(template, "MlPipelineTraining")["RoleArn"]["Fn::GetAtt"][0]
    found: dict[str, list[str]] = {}
    for statement in role_statements(template, role_id):
        for action in statement.actions:
            found.setdefault(action, []).extend(render(resource) for resource in statement.resources)
    tuning_arn = "arn:${AWS::Partition}:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/*"
    for action in ("CreateHyperParameterTuningJob", "DescribeHyperParameterTuningJob", "StopHyperParameterTuningJob"):
        assert tuning_arn in found[f"sagemaker:{action}"]
    assert (
        "arn:${AWS::Partition}:sagemaker:eu-west-1:123456789012:training-job/*"
        in found["sagemaker:DescribeTrainingJob"]
    )
    rule = "arn:${AWS::Partition}:events:eu-west-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTuningJobsRule"
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert rule in found[action]
    pass_role = [s for s in role_statements(template, role_id) if s.allows("iam:PassRole")]
    assert pass_role and all(
        s.body["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}} for s in pass_role
    )


def test_workflow_timeout_covers_every_round_of_parallel_training_jobs(template) -> None:
    # 6 jobs, 2 at a time: 3 rounds of (spot) 2 x 60 minutes, plus an hour.
    assert definition(template, "MlPipelineTraining")["TimeoutSeconds"] == (3 * 120 + 60) * 60


def test_grid_search_sends_no_max_number_of_training_jobs() -> None:
    data = example_config_data("churn-xgb")
    data["training"]["tuning"] = {
        "objective_metric": "validation:auc",
        "strategy": "Grid",
        "ranges": {"max_depth": {"values": [3, 5]}, "booster": {"values": ["gbtree", "dart"]}},
    }
    tune = definition(_synth(data), "MlPipelineTraining")["States"]["Tune"]["Parameters"]
    assert tune["HyperParameterTuningJobConfig"]["ResourceLimits"] == {"MaxParallelTrainingJobs": 1}
    assert tune["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Off"
