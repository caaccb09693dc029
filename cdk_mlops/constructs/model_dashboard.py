"""A CloudWatch dashboard of one model: releases, training, quality-gate metrics, endpoints and alarms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_mlops.constructs.model_endpoint import ModelEndpoint

TRAINING_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
WIDTH = 24


class ModelDashboard(Construct):
    """A CloudWatch dashboard (``dashboard``, no physical name, so two apps never collide) with a row per
    section given; every section is optional:

    - ``pipeline``: failed releases (``AWS/CodePipeline`` ``FailedPipelineExecutions``; CodePipeline
      publishes no success count, so succeeded releases are the last workflow's succeeded executions).
    - ``workflows`` (label → state machine): ``ExecutionsSucceeded`` and ``ExecutionsFailed`` of each.
    - ``gate_metrics``: the quality-gate metric names (e.g. ``validation:auc``) as SageMaker publishes
      them for training jobs in ``/aws/sagemaker/TrainingJobs``. Best effort: that namespace is keyed by
      ``Host`` (``<job name>/algo-1``), which changes every run, so the widget is a metric math
      ``SEARCH`` over that namespace for the metric name and the model's name as a free-text term; it
      stays empty for metrics only an evaluation job computes.
    - ``endpoints`` (label → ``ModelEndpoint``): invocations, 5XX and model errors, and p50/p90/p99
      ``ModelLatency``.
    - ``alarms``: one alarm-status widget.

    Where the dashboards live (see ``ModelPipelineStack`` and ``ModelEndpointStack``): endpoints have
    generated names, and a reference from the pipeline stack to an endpoint stack's export would block
    deploying either on its own. So each stack gets a dashboard of what it owns: the pipeline stack one
    with the pipeline, the workflows, the gate metrics and the endpoints' rollback alarms (imported by
    their names, which derive from the endpoint stacks' names), each endpoint stack one with its
    endpoint's metrics and alarms (under the stack's ``HasModelPackage`` condition).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_name: str,
        pipeline: codepipeline.IPipeline | None = None,
        workflows: Mapping[str, sfn.IStateMachine] | None = None,
        release_workflow: sfn.IStateMachine | None = None,
        gate_metrics: Sequence[str] = (),
        endpoints: Mapping[str, ModelEndpoint] | None = None,
        alarms: Sequence[cloudwatch.IAlarm] = (),
        period: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        period = period or Duration.minutes(5)
        self.dashboard = cloudwatch.Dashboard(self, "Resource")
        rows: list[list[cloudwatch.IWidget]] = []
        if pipeline is not None:
            failed = cloudwatch.Metric(
                namespace="AWS/CodePipeline",
                metric_name="FailedPipelineExecutions",
                dimensions_map={"PipelineName": pipeline.pipeline_name},
                statistic="Sum",
                period=period,
                label="Failed releases",
                color=cloudwatch.Color.RED,
            )
            left: list[cloudwatch.IMetric] = [failed]
            if release_workflow is not None:
                left.insert(
                    0,
                    release_workflow.metric_succeeded(
                        period=period, label="Succeeded releases", color=cloudwatch.Color.GREEN
                    ),
                )
            rows.append([cloudwatch.GraphWidget(title=f"{model_name}: pipeline executions", left=left, width=WIDTH)])
        workflow_widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title=f"{label} executions",
                left=[
                    machine.metric_succeeded(period=period, label="Succeeded", color=cloudwatch.Color.GREEN),
                    machine.metric_failed(period=period, label="Failed", color=cloudwatch.Color.RED),
                ],
                width=WIDTH // max(1, len(workflows or {})),
            )
            for label, machine in (workflows or {}).items()
        ]
        if workflow_widgets:
            rows.append(workflow_widgets)
        if gate_metrics:
            rows.append(
                [
                    cloudwatch.GraphWidget(
                        title=f"{model_name}: training metrics of the quality gate (best effort)",
                        left=[
                            cloudwatch.MathExpression(
                                expression=f"SEARCH('{{{TRAINING_METRICS_NAMESPACE},Host}} "
                                f"MetricName=\"{name}\" {model_name}', 'Maximum', {int(period.to_seconds())})",
                                label=name,
                                period=period,
                            )
                            for name in gate_metrics
                        ],
                        width=WIDTH,
                    )
                ]
            )
        for label, endpoint in (endpoints or {}).items():
            rows.append(
                [
                    cloudwatch.GraphWidget(
                        title=f"{label}: invocations and errors",
                        left=[endpoint.metric_invocations(period=period)],
                        right=[
                            endpoint.metric_invocation_5xx_errors(period=period),
                            endpoint.metric_invocation_model_errors(period=period),
                        ],
                        width=WIDTH // 2,
                    ),
                    cloudwatch.GraphWidget(
                        title=f"{label}: model latency (microseconds)",
                        left=[
                            endpoint.metric_model_latency(statistic=statistic, period=period)
                            for statistic in ("p50", "p90", "p99")
                        ],
                        width=WIDTH // 2,
                    ),
                ]
            )
        if alarms:
            rows.append([cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=WIDTH)])
        for row in rows:
            self.dashboard.add_widgets(*row)
