"""The champion/challenger part of the quality gate: the candidate against the newest Approved package.

The champion is the newest ``Approved`` package of the model's package group: ``ListModelPackages``
(``ModelApprovalStatus=Approved``, ``SortBy=CreationTime``, ``SortOrder=Descending``, ``MaxResults=1``),
then ``DescribeModelPackage`` for the metrics the registration step stored in its
``CustomerMetadataProperties`` (each a string, ``States.JsonToString`` of the number). Both are native
AWS SDK integrations, no Lambda.

Why one JSONata state: a rule needs ``candidate >= champion + margin`` with a fractional margin, and
JSONPath has no arithmetic that keeps fractions (``States.MathAdd`` rounds both arguments to the nearest
integer, Step Functions developer guide, "Intrinsic functions": "If you specify a non-integer value for
one or both the arguments, Step Functions will round it off to the nearest integer"). So ``ReadChampion``
(a Pass state in JSONata, allowed per state in a JSONPath state machine, "Transforming data with
JSONata in Step Functions") turns each stored string into a number with ``$number`` and adds the signed
margin, giving the bar the candidate must reach at ``$.champion.bars.<key>``. A champion without the
metric gets no bar (JSONata leaves an undefined value out of an object), so its rule passes. The
comparisons themselves stay JSONPath Choices.

States (only for models with a ``beat_champion_by`` or ``within_champion_by`` rule; every other model's
workflow is unchanged): ``FindChampion`` → ``HasChampion`` → ``DescribeChampion`` → ``ReadChampion``, or
``NotifyNoChampion`` when the group has no Approved package; then per champion rule, after its threshold
(if any), ``ChampionGate <key>``: no bar → pass; candidate reaches the bar → pass; else
``NotifyBelowChampion<i>`` and ``BelowChampion<i>`` (``QualityGateRejected``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from cdk_mlops.config.model_config import Comparison, MetricThreshold
from cdk_mlops.constructs.failure_notice import TRAINING_WORKFLOW, Headline
from cdk_mlops.constructs.workflow_context import WorkflowContext

__all__ = ["CHAMPION_PATH", "champion_lookup", "champion_rule_gate", "has_champion_rules"]

#: Where the champion lands in the state: ``ModelPackageArn``, ``ModelPackageVersion``, ``metrics`` (numbers
#: by rule key) and ``bars`` (the value each candidate metric must reach), or ``{"found": false}``.
CHAMPION_PATH = "$.champion"
_DESCRIBED_PATH = "$.championPackage"

Notify = Callable[[str, str, Sequence[str]], tasks.SnsPublish]


def has_champion_rules(rules: Sequence[MetricThreshold]) -> bool:
    """Whether any rule compares with the champion (``beat_champion_by`` or ``within_champion_by``)."""
    return any(rule.champion_margin is not None for rule in rules)


def _bar(rule: MetricThreshold) -> str:
    """The JSONata number the candidate must reach: the champion's value moved by the margin towards better."""
    margin = rule.champion_margin
    assert margin is not None
    signed = margin if rule.comparison is Comparison.GREATER_THAN_OR_EQUAL else -margin
    return f"$number($m.`{rule.metric}`) + ({signed!r})"


def champion_lookup(
    ctx: WorkflowContext,
    rules: Sequence[MetricThreshold],
    *,
    model_package_group_name: str,
    then: sfn.IChainable,
    notify: Notify,
) -> sfn.IChainable:
    """``FindChampion`` → ``HasChampion`` → ``DescribeChampion`` → ``ReadChampion`` → ``then``; with no
    Approved package in the group, ``NotifyNoChampion`` (the champion rules pass, and the topic is told)
    → ``then``. The two SageMaker calls retry throttling and are caught into the failure notification."""
    stack = ctx.artifact_bucket.stack
    champion_rules = [rule for rule in rules if rule.champion_margin is not None]
    find = tasks.CallAwsService(
        ctx.scope,
        "FindChampion",
        service="sagemaker",
        action="listModelPackages",
        iam_action="sagemaker:ListModelPackages",
        parameters={
            "ModelPackageGroupName": model_package_group_name,
            "ModelApprovalStatus": "Approved",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 1,
        },
        # ListModelPackages has no resource type in the SageMaker service authorization reference: "*".
        iam_resources=["*"],
        result_selector={"packages.$": "$.ModelPackageSummaryList"},
        result_path="$.championSearch",
    )
    describe = tasks.CallAwsService(
        ctx.scope,
        "DescribeChampion",
        service="sagemaker",
        action="describeModelPackage",
        iam_action="sagemaker:DescribeModelPackage",
        parameters={"ModelPackageName.$": "$.championSearch.packages[0].ModelPackageArn"},
        iam_resources=[
            stack.format_arn(
                service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name}/*"
            )
        ],
        result_path=_DESCRIBED_PATH,
    )
    for task in (find, describe):
        ctx.retry_throttling(task, "SageMaker")
        ctx.protect(task)
    metrics = ", ".join(f'"{rule.key}": $number($m.`{rule.metric}`)' for rule in champion_rules)
    bars = ", ".join(f'"{rule.key}": {_bar(rule)}' for rule in champion_rules)
    read = sfn.Pass.jsonata(
        ctx.scope,
        "ReadChampion",
        comment="The champion's registered metrics as numbers, and the bar each candidate metric must reach",
        outputs=(
            "{% ($p := $states.input.championPackage; $m := $p.CustomerMetadataProperties; "
            '$merge([$states.input, {"champion": {"found": true, "ModelPackageArn": $p.ModelPackageArn, '
            f'"ModelPackageVersion": $p.ModelPackageVersion, "metrics": {{{metrics}}}, "bars": {{{bars}}}}}}}])) %}}'
        ),
    )
    names = ", ".join(rule.metric for rule in champion_rules)
    headline = Headline(ctx.model.name, TRAINING_WORKFLOW)
    no_champion_line = headline.line(
        f"no Approved package in model package group {model_package_group_name} yet, so there is no champion: "
        f"the champion comparison of {names} passes",
        state="HasChampion",
        verb="found no champion at",
    )
    no_champion = notify("NotifyNoChampion", no_champion_line.text, no_champion_line.arguments)
    ctx.protect(no_champion)
    found = sfn.Choice(ctx.scope, "HasChampion")
    found.when(
        sfn.Condition.is_present("$.championSearch.packages[0].ModelPackageArn"),
        describe.next(read).next(then),
    )
    found.otherwise(no_champion.next(then))
    return sfn.Chain.start(find).next(found)


def champion_rule_gate(
    ctx: WorkflowContext,
    index: int,
    rule: MetricThreshold,
    path: str,
    *,
    on_pass: sfn.IChainable,
    notify: Notify,
) -> sfn.Choice:
    """``ChampionGate <key>``: passes when the champion has no bar for the metric (none found, or one
    registered without it) or the candidate at ``path`` reaches it; otherwise notifies candidate vs
    champion and fails ``QualityGateRejected``."""
    bar = f"{CHAMPION_PATH}.bars.{rule.key}"
    margin = rule.beat_champion_by if rule.beat_champion_by is not None else rule.within_champion_by
    assert margin is not None
    better = "higher" if rule.comparison is Comparison.GREATER_THAN_OR_EQUAL else "lower"
    requirement = (
        f"beat the champion by {margin:g} ({better} is better)"
        if rule.beat_champion_by is not None
        else f"stay within {margin:g} of the champion ({better} is better)"
    )
    gate_name = f"ChampionGate {rule.key}"
    line = Headline(ctx.model.name, TRAINING_WORKFLOW).line(
        f"candidate {rule.metric} = {{}} vs champion version {{}} = {{}}: does not {requirement} "
        "(needs {}); nothing was registered",
        [path, f"{CHAMPION_PATH}.ModelPackageVersion", f"{CHAMPION_PATH}.metrics.{rule.key}", bar],
        state=gate_name,
        verb="stopped at",
    )
    rejected = notify(f"NotifyBelowChampion{index}", line.text, line.arguments).next(
        sfn.Fail(
            ctx.scope,
            f"BelowChampion{index}",
            error="QualityGateRejected",
            cause=f"{rule.metric} does not {requirement}",
        )
    )
    reaches = (
        sfn.Condition.number_greater_than_equals_json_path(path, bar)
        if rule.comparison is Comparison.GREATER_THAN_OR_EQUAL
        else sfn.Condition.number_less_than_equals_json_path(path, bar)
    )
    choice = sfn.Choice(ctx.scope, f"ChampionGate{index}", state_name=gate_name)
    choice.when(sfn.Condition.not_(sfn.Condition.is_present(bar)), on_pass)
    choice.when(reaches, on_pass)
    choice.otherwise(rejected)
    return choice
