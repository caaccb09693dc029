"""The shadow test of a production deploy workflow: the candidate serves mirrored real traffic as a
shadow variant of the production endpoint before it is promoted.

Why shadow variants through the endpoint stack, not ``CreateInferenceExperiment``: the production
endpoint is owned by CloudFormation (``ModelEndpointStack``). An inference experiment changes that
endpoint's configuration behind CloudFormation's back (SageMaker creates and swaps endpoint configs
itself), so the next stack update would fight it; and ``AWS::SageMaker::InferenceExperiment`` would be a
second resource owning the same endpoint. A ``ShadowProductionVariants`` entry of the endpoint config,
present while the stack's ``ShadowModelPackageArn`` parameter is set, keeps one owner: the deploy workflow
sets the parameter (UpdateStack), waits, reads the metrics, and clears it again (removal) or clears it
while setting ``ModelPackageArn`` to the candidate (promotion), all through the same UpdateStack call
the workflow already makes.

Why the arithmetic in one JSONata state: the Amazon States Language's JSONPath intrinsics cannot divide,
and CloudWatch's metric math would hide the raw numbers the rejection must name. ``CompareShadow`` (a
Pass in JSONata, allowed per state in a JSONPath state machine: Step Functions developer guide,
"Transforming data with JSONata in Step Functions") computes the latency increase and the error rate
from ``GetMetricData``'s answer and writes the verdict and a one-line comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_mlops.config.model_config import ShadowConfig
from cdk_mlops.constructs.error_names import aws_sdk
from cdk_mlops.constructs.failure_notice import Headline, Line, catch_failure, message, publish
from cdk_mlops.constructs.model_endpoint import SHADOW_VARIANT_NAME, VARIANT_NAME
from cdk_mlops.constructs.promotion import retry_sagemaker
from cdk_mlops.constructs.run_names import client_token

__all__ = ["SHADOW_METRICS", "SHADOW_MODEL_PACKAGE_PARAMETER", "ShadowTest"]

#: The endpoint stack parameter naming the shadow-tested package (empty: no shadow variant).
SHADOW_MODEL_PACKAGE_PARAMETER: Final = "ShadowModelPackageArn"
#: The metrics compared, per variant: query id suffix -> (metric name, statistic).
SHADOW_METRICS: Final = {
    "Latency": ("ModelLatency", "p99"),
    "Errors5xx": ("Invocation5XXErrors", "Sum"),
    "ModelErrors": ("InvocationModelErrors", "Sum"),
    "Invocations": ("Invocations", "Sum"),
}
#: Where the test keeps its state in the execution's input.
SHADOW_PATH: Final = "$.shadowTest"
_VARIANTS: Final = {"shadow": SHADOW_VARIANT_NAME, "production": VARIANT_NAME}


def _retry_throttling(task: tasks.CallAwsService, service: str) -> None:
    task.add_retry(
        errors=list(aws_sdk(service).retryable), interval=Duration.seconds(2), backoff_rate=2, max_attempts=4
    )


class ShadowTest:
    """The states between ``ResolveModelPackage`` and the production ``UpdateEndpointStack``.

    ``StartShadow`` (UpdateStack: ``ShadowModelPackageArn`` = the candidate, every other parameter kept)
    → ``WaitForShadowStack``/``DescribeShadowStack``/``ShadowStackUpdated?`` (poll every
    ``poll_interval``) → ``ShadowPhase?`` → ``ReadShadowEndpoint`` (the endpoint name from the stack's
    ``EndpointName`` output, and the start time) → ``MirrorTraffic`` (Wait ``shadow.minutes``) →
    ``ReadShadowMetrics`` (``cloudwatch:getMetricData``, p99 ``ModelLatency`` and the error and
    invocation sums of both variants over the window) → ``CompareShadow`` → ``ShadowWithinLimits?``:
    within the limits, ``promote`` (the workflow's own UpdateStack, which also clears the shadow);
    otherwise ``RemoveShadow`` (UpdateStack clearing the shadow, polled through the same loop) →
    ``RejectShadowCandidate`` (``Rejected``, the comparison as approval description) →
    ``NotifyShadowRejected`` → ``ShadowTestFailed``. A stack update that rolls back goes to
    ``rolled_back``; a failed call to ``failed``. ``entry`` is ``StartShadow``.

    The workflow's role gets ``cloudwatch:GetMetricData`` (no resource-level permissions: ``*``) through
    the task, and the UpdateStack/DescribeStacks grants of ``stack_arn``.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        shadow: ShadowConfig,
        stack_name: str,
        stack_arn: str,
        cloudformation_role: iam.IRole,
        kept_parameters: Sequence[str],
        static_parameters: Sequence[dict[str, object]],
        package_arns: Sequence[str],
        headline: Headline,
        topic: sns.ITopic,
        subject: str,
        poll_interval: Duration,
        promote: sfn.IChainable,
        rolled_back: sfn.IChainable,
        failed: sfn.IChainable,
    ) -> None:
        self.shadow = shadow
        self._scope = scope
        kept = [{"ParameterKey": name, "UsePreviousValue": True} for name in ("ModelPackageArn", *kept_parameters)]
        start = self._update(
            "StartShadow",
            stack_name,
            stack_arn,
            cloudformation_role,
            [
                {
                    "ParameterKey": SHADOW_MODEL_PACKAGE_PARAMETER,
                    "ParameterValue.$": "$.training.output.ModelPackageArn",
                },
                *static_parameters,
                *kept,
            ],
            client_token(f"{stack_name}/shadow-start"),
        )
        remove = self._update(
            "RemoveShadow",
            stack_name,
            stack_arn,
            cloudformation_role,
            [{"ParameterKey": SHADOW_MODEL_PACKAGE_PARAMETER, "ParameterValue": ""}, *static_parameters, *kept],
            client_token(f"{stack_name}/shadow-removal"),
        )
        wait = sfn.Wait(scope, "WaitForShadowStack", time=sfn.WaitTime.duration(poll_interval))
        describe = tasks.CallAwsService(
            scope,
            "DescribeShadowStack",
            service="cloudformation",
            action="describeStacks",
            parameters={"StackName": stack_name},
            iam_resources=[stack_arn],
            result_selector={"status.$": "$.Stacks[0].StackStatus", "reason.$": "$.Stacks[0]"},
            result_path="$.stack",
        )
        _retry_throttling(describe, "cloudformation")
        read_endpoint = sfn.Pass(
            scope,
            "ReadShadowEndpoint",
            comment="The endpoint the shadow runs on, and when mirroring started",
            parameters={
                "startedAt.$": "$$.State.EnteredTime",
                "endpointNames.$": "$.stack.reason.Outputs[?(@.OutputKey == 'EndpointName')].OutputValue",
            },
            result_path=SHADOW_PATH,
        )
        mirror = sfn.Wait(
            scope,
            "MirrorTraffic",
            comment=f"{shadow.traffic_percent}% of real requests go to the shadow as well",
            time=sfn.WaitTime.duration(Duration.minutes(shadow.minutes)),
        )
        metrics = self._read_metrics()
        compare = self._compare()
        reject = tasks.CallAwsService(
            scope,
            "RejectShadowCandidate",
            service="sagemaker",
            action="updateModelPackage",
            parameters={
                "ModelPackageArn.$": "$.training.output.ModelPackageArn",
                "ModelApprovalStatus": "Rejected",
                "ApprovalDescription.$": "States.Format('Shadow test failed ({}): {}', $$.Execution.Id, "
                f"{SHADOW_PATH}.comparison)",
            },
            iam_resources=list(package_arns),
            result_path=sfn.JsonPath.DISCARD,
        )
        retry_sagemaker(reject)
        notify = publish(
            scope,
            "NotifyShadowRejected",
            topic=topic,
            subject=subject,
            text=message(
                headline.line(
                    "the shadow test of {} did not pass, the shadow is removed and the package Rejected: {}",
                    ["$.training.output.ModelPackageArn", f"{SHADOW_PATH}.comparison"],
                    state="ShadowWithinLimits?",
                ),
                Line(
                    f"Limits: p99 ModelLatency at most {shadow.max_latency_increase_percent:g}% above production, "
                    f"error rate at most {shadow.max_error_rate:g}, over {shadow.minutes} minutes"
                ),
            ),
        )
        for task in (start, describe, metrics, remove, reject, notify):
            catch_failure(task, failed)
        reject.next(notify).next(
            sfn.Fail(scope, "ShadowTestFailed", error="ShadowTestFailed", cause_path=f"{SHADOW_PATH}.comparison")
        )
        phase = (
            sfn.Choice(scope, "ShadowPhase?")
            .when(sfn.Condition.is_present(f"{SHADOW_PATH}.comparison"), reject)
            .otherwise(read_endpoint)
        )
        updated = (
            sfn.Choice(scope, "ShadowStackUpdated?")
            .when(sfn.Condition.string_equals("$.stack.status", "UPDATE_COMPLETE"), phase)
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_matches("$.stack.status", "*ROLLBACK*"),
                    sfn.Condition.string_matches("$.stack.status", "*FAILED"),
                ),
                rolled_back,
            )
            .otherwise(wait)
        )
        start.next(wait)
        remove.next(wait)
        wait.next(describe).next(updated)
        read_endpoint.next(mirror).next(metrics).next(compare)
        compare.next(
            sfn.Choice(scope, "ShadowWithinLimits?")
            .when(sfn.Condition.boolean_equals(f"{SHADOW_PATH}.passed", True), promote)
            .otherwise(remove)
        )
        self.entry: sfn.IChainable = start

    def _update(
        self,
        id: str,
        stack_name: str,
        stack_arn: str,
        role: iam.IRole,
        parameters: list[dict[str, object]],
        token: str,
    ) -> tasks.CallAwsService:
        update = tasks.CallAwsService(
            self._scope,
            id,
            service="cloudformation",
            action="updateStack",
            parameters={
                "StackName": stack_name,
                "UsePreviousTemplate": True,
                "Parameters": parameters,
                "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                "RoleARN": role.role_arn,
                "ClientRequestToken.$": token,
            },
            iam_resources=[stack_arn],
            result_path="$.update",
        )
        _retry_throttling(update, "cloudformation")
        return update

    def _read_metrics(self) -> tasks.CallAwsService:
        """``GetMetricData`` of both variants over one period that spans the mirroring window: CloudWatch
        rounds the start down to the minute and SageMaker publishes a minute late, hence 2 spare minutes."""
        queries: list[dict[str, object]] = []
        for prefix, variant in _VARIANTS.items():
            for suffix, (metric, stat) in SHADOW_METRICS.items():
                queries.append(
                    {
                        "Id": f"{prefix}{suffix}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/SageMaker",
                                "MetricName": metric,
                                "Dimensions": [
                                    {
                                        "Name": "EndpointName",
                                        "Value.$": f"States.ArrayGetItem({SHADOW_PATH}.endpointNames, 0)",
                                    },
                                    {"Name": "VariantName", "Value": variant},
                                ],
                            },
                            "Period": (self.shadow.minutes + 2) * 60,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )
        task = tasks.CallAwsService(
            self._scope,
            "ReadShadowMetrics",
            service="cloudwatch",
            action="getMetricData",
            parameters={
                "MetricDataQueries": queries,
                "StartTime.$": f"{SHADOW_PATH}.startedAt",
                "EndTime.$": "$$.State.EnteredTime",
                "ScanBy": "TimestampAscending",
            },
            iam_resources=["*"],  # GetMetricData has no resource-level permissions
            result_selector={"results.$": "$.MetricDataResults"},
            result_path=f"{SHADOW_PATH}.metrics",
        )
        _retry_throttling(task, "cloudwatch")
        return task

    def _compare(self) -> sfn.Pass:
        """The verdict: requests reached the shadow, its p99 latency is at most the allowed percent above
        production's (or production has none to compare), and its error rate is at most the limit."""
        shadow = self.shadow
        latency_limit = shadow.max_latency_increase_percent
        rate_limit = shadow.max_error_rate
        expression = (
            "{% ($t := $states.input.shadowTest; $r := $t.metrics.results; "
            "$v := function($id) { $r[Id = $id].Values[0] }; "
            "$sl := $v('shadowLatency'); $pl := $v('productionLatency'); "
            "$n := $sum([$v('shadowInvocations')]); $e := $sum([$v('shadowErrors5xx'), $v('shadowModelErrors')]); "
            "$pn := $sum([$v('productionInvocations')]); "
            "$pe := $sum([$v('productionErrors5xx'), $v('productionModelErrors')]); "
            "$inc := ($exists($sl) and $exists($pl) and $pl > 0) ? 100 * ($sl - $pl) / $pl : 0; "
            "$rate := $n > 0 ? $e / $n : 1; "
            f"$ok := $n > 0 and $exists($sl) and $inc <= {latency_limit:g} and $rate <= {rate_limit:g}; "
            "$us := function($x) { $exists($x) ? $string($round($x)) & ' us' : 'no data' }; "
            "$merge([$states.input, {'shadowTest': $merge([$t, {"
            "'passed': $ok, 'latencyIncreasePercent': $round($inc, 2), 'errorRate': $round($rate, 4), "
            "'comparison': 'p99 ModelLatency shadow ' & $us($sl) & ' vs production ' & $us($pl) & ' ('"
            " & ($inc >= 0 ? '+' : '') & $string($round($inc, 1)) & '%, limit "
            f"{latency_limit:g}%); errors shadow ' & $string($e) & ' of ' & $string($n) & ' requests (rate ' & "
            f"$string($round($rate, 4)) & ', limit {rate_limit:g}) vs production ' & $string($pe) & ' of ' & "
            "$string($pn) & ($n = 0 ? '; no request reached the shadow' : '')}])}])) %}"
        )
        return sfn.Pass.jsonata(
            self._scope,
            "CompareShadow",
            comment="The shadow's p99 latency and error rate against production's and the limits",
            outputs=expression,
        )
