"""The drift check (``DriftCheck``) of the churn-xgb pipeline: a schedule starts a workflow that scores
input drift in a processing job and publishes it; an alarm notifies and, with ``retrain_on_drift``,
an EventBridge rule starts the pipeline. Plus the ``drift`` section's validation."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_mlops.config import ModelConfigError, parse_model_config
from cdk_mlops_testing import (
    BUCKET_NAME,
    construct_resource,
    definition,
    example_config_data,
    happy_path,
    render,
    resources,
    role_statements,
    state_machine_role_id,
)

FILE = "models/churn-xgb/model.yaml"


@pytest.fixture(scope="module")
def template(example_app) -> dict[str, Any]:
    return example_app.json["Mlops-churn-xgb-Pipeline"]


@pytest.fixture(scope="module")
def drift(template) -> dict[str, Any]:
    return definition(template, "MlPipelineDrift")


def _pipeline_arn(template: dict[str, Any], account: str = "${AWS::AccountId}") -> str:
    pipeline_id, _ = construct_resource(template, "AWS::CodePipeline::Pipeline", "MlPipeline")
    return f"arn:${{AWS::Partition}}:codepipeline:eu-west-1:{account}:${{{pipeline_id}}}"


def test_schedule_starts_the_drift_workflow_daily(template) -> None:
    schedule_id, schedule = construct_resource(template, "AWS::Scheduler::Schedule", "MlPipelineDriftSchedule")
    state_machine_id, _ = construct_resource(template, "AWS::StepFunctions::StateMachine", "MlPipelineDrift")
    properties = schedule["Properties"]

    assert properties["ScheduleExpression"] == "rate(1 day)"
    assert properties["State"] == "ENABLED"
    assert properties["Target"]["Arn"] == {"Ref": state_machine_id}
    role_id = properties["Target"]["RoleArn"]["Fn::GetAtt"][0]
    [statement] = role_statements(template, role_id)
    assert statement.actions == ["states:StartExecution"]
    assert statement.resources == [{"Ref": state_machine_id}]
    trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert all(s["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"} for s in trust)
    assert len(resources(template, "AWS::Scheduler::Schedule")) == 1, "no retrain_schedule in the example"
    assert schedule_id.startswith("MlPipelineDriftSchedule")


def test_workflow_runs_the_job_reads_the_score_and_publishes_it(drift) -> None:
    assert happy_path(drift) == ["Initialize", "DetectDrift", "ReadDriftScore", "PublishDriftScore", "DriftChecked"]
    assert drift["States"]["Initialize"]["Parameters"] == {
        "job_name.$": "States.Format('churn-xgb-{}-drift', States.Hash($$.Execution.Name, 'MD5'))",
        "output_prefix.$": f"States.Format('s3://{BUCKET_NAME}/churn-xgb/drift/{{}}/', $$.Execution.Name)",
        "score_key.$": "States.Format('churn-xgb/drift/{}/drift.json', $$.Execution.Name)",
    }


def test_processing_job_compares_captured_inputs_with_the_training_data(drift) -> None:
    job = drift["States"]["DetectDrift"]
    parameters = job["Parameters"]

    assert job["Resource"] == "arn:${AWS::Partition}:states:::sagemaker:createProcessingJob.sync"
    assert parameters["ProcessingJobName.$"] == "$.run.job_name"
    assert parameters["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/drift.py",
    ]
    assert parameters["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.large"
    inputs = {item["InputName"]: item["S3Input"] for item in parameters["ProcessingInputs"]}
    assert inputs["code"]["S3Uri"] == f"s3://{BUCKET_NAME}/churn-xgb/source/latest/src/"
    assert inputs["baseline"]["S3Uri"] == f"s3://{BUCKET_NAME}/churn-xgb/data/train/"
    assert inputs["baseline"]["LocalPath"] == "/opt/ml/processing/input/baseline"
    assert inputs["captured"]["S3Uri"] == f"s3://{BUCKET_NAME}/churn-xgb/data-capture/production/"
    assert inputs["captured"]["LocalPath"] == "/opt/ml/processing/input/captured"
    [output] = parameters["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri.$"] == "$.run.output_prefix"
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output/drift"


def test_score_is_parsed_and_published_as_drift_score(drift) -> None:
    read = drift["States"]["ReadDriftScore"]
    publish = drift["States"]["PublishDriftScore"]

    assert read["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:s3:getObject"
    assert read["Parameters"] == {"Bucket": BUCKET_NAME, "Key.$": "$.run.score_key"}
    assert read["ResultSelector"] == {"report.$": "States.StringToJson($.Body)"}
    assert publish["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:cloudwatch:putMetricData"
    assert publish["Parameters"] == {
        "Namespace": "cdk-mlops",
        "MetricData": [
            {
                "MetricName": "DriftScore",
                "Dimensions": [{"Name": "Model", "Value": "churn-xgb"}],
                "Value.$": "$.drift.report.drift_score",
                "Unit": "None",
            }
        ],
    }


def test_every_task_retries_and_is_caught_into_a_notification(drift) -> None:
    states = drift["States"]
    for name in ("DetectDrift", "ReadDriftScore", "PublishDriftScore"):
        assert states[name]["Retry"], name
        assert states[name]["Catch"] == [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.error",
                "Assign": {"failedState": name},
                "Next": "DescribeFailure",
            }
        ], name
    assert states["NotifyFailure"]["Resource"] == "arn:${AWS::Partition}:states:::sns:publish"
    assert states["NotifyFailure"]["Next"] == "DriftCheckFailed"
    assert states["DriftCheckFailed"] == {"Type": "Fail", "Error": "DriftCheckFailed", "CausePath": "$.error.Cause"}


def test_alarm_on_drift_score_above_threshold_notifies_the_topic(template) -> None:
    _, alarm = construct_resource(template, "AWS::CloudWatch::Alarm", "MlPipelineDriftAlarm")
    topic_id, _ = construct_resource(template, "AWS::SNS::Topic", "MlPipelineNotifications")
    properties = alarm["Properties"]

    assert properties["Namespace"] == "cdk-mlops"
    assert properties["MetricName"] == "DriftScore"
    assert properties["Dimensions"] == [{"Name": "Model", "Value": "churn-xgb"}]
    assert properties["Threshold"] == 0.2
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["Statistic"] == "Maximum"
    assert properties["AlarmActions"] == [{"Ref": topic_id}]


def test_drift_alarm_starts_the_pipeline_through_a_role_scoped_to_it(template) -> None:
    _, rule = construct_resource(template, "AWS::Events::Rule", "MlPipelineDriftRetrainOnDrift")
    alarm_id, _ = construct_resource(template, "AWS::CloudWatch::Alarm", "MlPipelineDriftAlarm")
    properties = rule["Properties"]

    assert properties["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [{"Fn::GetAtt": [alarm_id, "Arn"]}],
        "detail": {"state": {"value": ["ALARM"]}},
    }
    [target] = properties["Targets"]
    assert render(target["Arn"]) == _pipeline_arn(template)
    [statement] = role_statements(template, target["RoleArn"]["Fn::GetAtt"][0])
    assert statement.actions == ["codepipeline:StartPipelineExecution"]
    assert [render(resource) for resource in statement.resources] == [_pipeline_arn(template)]


def test_workflow_role_is_scoped(template) -> None:
    role_id = state_machine_role_id(template, "MlPipelineDrift")
    by_action = {action: s for s in role_statements(template, role_id) for action in s.actions}

    assert [render(r) for r in by_action["sagemaker:CreateProcessingJob"].resources] == [
        "arn:${AWS::Partition}:sagemaker:eu-west-1:${AWS::AccountId}:processing-job/churn-xgb-*"
    ]
    assert render(by_action["s3:GetObject"].resources[0]).endswith("/churn-xgb/drift/*")
    metric = by_action["cloudwatch:PutMetricData"]
    assert metric.resources == ["*"]
    assert metric.body["Condition"] == {"StringEquals": {"cloudwatch:namespace": "cdk-mlops"}}
    assert "sagemaker:CreateTrainingJob" not in by_action
    assert "s3:PutObject" not in by_action


def test_retrain_schedule_starts_the_pipeline_and_no_drift_means_no_check(tmp_path) -> None:
    from cdk_mlops.stacks.pipeline_stack import ModelPipelineStack
    from cdk_mlops_testing import BUCKET_ARN, KEY_ARN

    data = example_config_data("churn-xgb")
    data["drift"] = {"retrain_schedule": "rate(7 days)", "threshold": 0.3}
    app = cdk.App(builtin_cloud_formation_validation=False)
    stacks = {}
    for name, drift_settings in (("WithDrift", data["drift"]), ("NoDrift", None)):
        model_data = (
            dict(data, drift=drift_settings) if drift_settings else {k: v for k, v in data.items() if k != "drift"}
        )
        stacks[name] = ModelPipelineStack(
            app,
            name,
            model=parse_model_config(model_data, FILE),
            artifact_bucket_arn=BUCKET_ARN,
            encryption_key_arn=KEY_ARN,
            staging_stack_name="S",
            production_stack_name="P",
            env=cdk.Environment(account="123456789012", region="eu-west-1"),
        )
    with_drift = Template.from_stack(stacks["WithDrift"]).to_json()
    no_drift = Template.from_stack(stacks["NoDrift"]).to_json()

    assert resources(with_drift, "AWS::Events::Rule") == {}, "retrain_on_drift defaults to false"
    _, schedule = construct_resource(with_drift, "AWS::Scheduler::Schedule", "MlPipelineDriftRetrainSchedule")
    assert schedule["Properties"]["ScheduleExpression"] == "rate(7 days)"
    [statement] = role_statements(with_drift, schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0])
    assert statement.actions == ["codepipeline:StartPipelineExecution"]
    assert [render(r) for r in statement.resources] == [_pipeline_arn(with_drift, "123456789012")]
    _, alarm = construct_resource(with_drift, "AWS::CloudWatch::Alarm", "MlPipelineDriftAlarm")
    assert alarm["Properties"]["Threshold"] == 0.3
    assert resources(no_drift, "AWS::Scheduler::Schedule") == {}
    assert not [key for key in no_drift["Resources"] if key.startswith("MlPipelineDrift")]
    assert "source/latest" not in str(no_drift), "the build keeps a latest copy only for the drift check"


@pytest.mark.parametrize(
    ("drift", "field", "value"),
    [
        ({"schedule": "daily"}, "drift.schedule", "'daily'"),
        ({"schedule": "rate(1 days)"}, "drift.schedule", "'rate(1 days)'"),
        ({"retrain_schedule": "every week"}, "drift.retrain_schedule", "'every week'"),
        ({"script": "../drift.py"}, "drift.script", "'../drift.py'"),
        ({"instance_type": "m5.large"}, "drift.instance_type", "'m5.large'"),
        ({"threshold": 0}, "drift.threshold", "0"),
        ({"threshold": "high"}, "drift.threshold", "'high'"),
        ({"retrain": True}, "drift.retrain", "True"),
    ],
)
def test_invalid_drift_settings_name_file_field_and_value(drift: dict[str, Any], field: str, value: str) -> None:
    data = example_config_data("churn-xgb")
    data["drift"] = drift
    with pytest.raises(ModelConfigError) as raised:
        parse_model_config(data, FILE)
    message = str(raised.value)
    assert FILE in message
    assert f"{field}:" in message
    assert value in message


def test_drift_needs_data_capture() -> None:
    data = example_config_data("churn-xgb")
    data["endpoints"]["data_capture"] = {"enabled": False}
    with pytest.raises(ModelConfigError) as raised:
        parse_model_config(data, FILE)
    assert "drift: needs endpoints.data_capture.enabled: true" in str(raised.value)


def test_drift_defaults() -> None:
    data = example_config_data("churn-xgb")
    data["drift"] = {}
    settings = parse_model_config(data, FILE).drift
    assert settings is not None
    assert (settings.schedule, settings.script, settings.instance_type, settings.threshold) == (
        "rate(1 day)",
        "drift.py",
        "ml.m5.large",
        0.2,
    )
    assert (settings.retrain_on_drift, settings.retrain_schedule) == (False, None)
