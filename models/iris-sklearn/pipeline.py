"""The iris model's pipeline: everything from model.yaml, except a stricter quality gate.

Overriding one hook replaces one step; the rest of the workflow and pipeline is inherited.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_stepfunctions as sfn

from cdk_mlops import EvaluationStep, MetricThreshold, MlPipeline, Notify, WorkflowContext, default_quality_gate

#: Every class must keep at least this recall: a model that never predicts one species fails the gate.
MIN_CLASS_RECALL = MetricThreshold(metric="metrics.min_class_recall", threshold=0.8)


class IrisPipeline(MlPipeline):
    """Adds a per-class recall floor to the gates in model.yaml."""

    def quality_gate(
        self,
        ctx: WorkflowContext,
        rules: Sequence[MetricThreshold],
        evaluation: EvaluationStep,
        *,
        on_pass: sfn.IChainable,
        notify: Notify,
    ) -> sfn.IChainable:
        return default_quality_gate(
            ctx, [*rules, MIN_CLASS_RECALL], evaluation.metric_path, on_pass=on_pass, notify=notify
        )
