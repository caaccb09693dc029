"""``ModelDashboard`` in the example app: one dashboard in the pipeline stack (releases, workflows,
quality-gate metrics, alarm states) and one per endpoint stack (the endpoint's metrics and alarms), plus
the training-failure alarm that notifies the model's topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_mlops_testing import only_resource, render, resources

PIPELINE = "Mlops-churn-xgb-Pipeline"


def body(template: dict[str, Any]) -> dict[str, Any]:
    _, dashboard = only_resource(template, "AWS::CloudWatch::Dashboard")
    assert "DashboardName" not in dashboard["Properties"]
    return json.loads(render(dashboard["Properties"]["DashboardBody"]))


def widget(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    (found,) = [w for w in dashboard["widgets"] if w["properties"].get("title") == title]
    return found["properties"]


@pytest.fixture(scope="module")
def pipeline_dashboard(example_app) -> dict[str, Any]:
    return body(example_app.json[PIPELINE])


def ref(template: dict[str, Any], resource_type: str, prefix: str) -> str:
    (logical_id,) = [i for i in resources(template, resource_type) if i.startswith(prefix)]
    return f"${{{logical_id}}}"


def test_pipeline_dashboard_shows_failed_and_succeeded_releases(example_app, pipeline_dashboard) -> None:
    template = example_app.json[PIPELINE]
    metrics = widget(pipeline_dashboard, "churn-xgb: pipeline executions")["metrics"]

    assert metrics[0][:4] == [
        "AWS/States",
        "ExecutionsSucceeded",
        "StateMachineArn",
        ref(template, "AWS::StepFunctions::StateMachine", "MlPipelineDeployProduction"),
    ]
    assert metrics[1][:4] == [
        "AWS/CodePipeline",
        "FailedPipelineExecutions",
        "PipelineName",
        ref(template, "AWS::CodePipeline::Pipeline", "MlPipeline"),
    ]


@pytest.mark.parametrize(
    ("title", "prefix"),
    [
        ("Training executions", "MlPipelineTraining"),
        ("Deploy staging executions", "MlPipelineDeployStaging"),
        ("Smoke test executions", "MlPipelineSmokeTest"),
        ("Deploy production executions", "MlPipelineDeployProduction"),
    ],
)
def test_pipeline_dashboard_shows_each_workflows_succeeded_and_failed_executions(
    example_app, pipeline_dashboard, title, prefix
) -> None:
    machine = ref(example_app.json[PIPELINE], "AWS::StepFunctions::StateMachine", prefix)
    metrics = widget(pipeline_dashboard, title)["metrics"]

    assert [m[:4] for m in metrics] == [
        ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", machine],
        ["AWS/States", "ExecutionsFailed", "StateMachineArn", machine],
    ]


def test_pipeline_dashboard_searches_the_training_jobs_gate_metric(pipeline_dashboard) -> None:
    metrics = widget(pipeline_dashboard, "churn-xgb: training metrics of the quality gate (best effort)")["metrics"]

    assert metrics == [
        [
            {
                "label": "validation:auc",
                "expression": "SEARCH('{/aws/sagemaker/TrainingJobs,Host} MetricName=\"validation:auc\" churn-xgb', "
                "'Maximum', 300)",
            }
        ]
    ]


def test_pipeline_dashboard_shows_training_and_endpoint_rollback_alarm_states(example_app, pipeline_dashboard) -> None:
    alarms = widget(pipeline_dashboard, "Alarms")["alarms"]
    training_alarm = ref(example_app.json[PIPELINE], "AWS::CloudWatch::Alarm", "TrainingFailedAlarm")

    assert alarms[0] == f"${{{training_alarm[2:-1]}.Arn}}"
    # churn-xgb staging is serverless (no rollback alarms); production's three, by name, without an import.
    assert [alarm.rsplit(":alarm:", 1)[1] for alarm in alarms[1:]] == [
        "Mlops-churn-xgb-Production-Endpoint-5xx-errors",
        "Mlops-churn-xgb-Production-Endpoint-model-latency-p99",
        "Mlops-churn-xgb-Production-Endpoint-model-errors",
    ]
    assert "Fn::ImportValue" not in json.dumps(
        only_resource(example_app.json[PIPELINE], "AWS::CloudWatch::Dashboard")[1]
    )


def test_training_failure_alarm_notifies_the_models_topic(example_app) -> None:
    template = example_app.json[PIPELINE]
    (alarm,) = [
        a["Properties"]
        for i, a in resources(template, "AWS::CloudWatch::Alarm").items()
        if i.startswith("TrainingFailedAlarm")
    ]
    (topic_id,) = resources(template, "AWS::SNS::Topic")

    assert alarm["Namespace"] == "AWS/States"
    assert alarm["MetricName"] == "ExecutionsFailed"
    assert alarm["Dimensions"] == [
        {
            "Name": "StateMachineArn",
            "Value": {"Ref": ref(template, "AWS::StepFunctions::StateMachine", "MlPipelineTraining")[2:-1]},
        }
    ]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


@pytest.mark.parametrize("stage", ["Staging", "Production"])
def test_endpoint_dashboard_shows_invocations_errors_and_latency_percentiles(example_app, stage) -> None:
    template = example_app.json[f"Mlops-churn-xgb-{stage}"]
    endpoint_id, _ = only_resource(template, "AWS::SageMaker::Endpoint")
    dashboard = body(template)
    label = f"churn-xgb {stage.lower()}"
    dims = ["EndpointName", f"${{{endpoint_id}.EndpointName}}", "VariantName", "AllTraffic"]

    counts = widget(dashboard, f"{label}: invocations and errors")["metrics"]
    latency = widget(dashboard, f"{label}: model latency (microseconds)")["metrics"]

    assert [m[:6] for m in counts] == [
        ["AWS/SageMaker", "Invocations", *dims],
        ["AWS/SageMaker", "Invocation5XXErrors", *dims],
        ["AWS/SageMaker", "InvocationModelErrors", *dims],
    ]
    assert [m[:6] for m in latency] == [["AWS/SageMaker", "ModelLatency", *dims]] * 3
    assert [m[6]["stat"] for m in latency] == ["p50", "p90", "p99"]


def test_endpoint_dashboard_exists_only_with_a_model_package(example_app) -> None:
    for stage in ("Staging", "Production"):
        _, dashboard = only_resource(example_app.json[f"Mlops-churn-xgb-{stage}"], "AWS::CloudWatch::Dashboard")
        assert dashboard["Condition"] == "HasModelPackage"


def test_production_dashboard_shows_its_rollback_alarms_and_serverless_staging_has_none(example_app) -> None:
    production = body(example_app.json["Mlops-churn-xgb-Production"])
    staging = body(example_app.json["Mlops-churn-xgb-Staging"])

    assert len(widget(production, "Alarms")["alarms"]) == 3
    assert [w for w in staging["widgets"] if w["type"] == "alarm"] == []
