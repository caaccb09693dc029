"""Failure notifications a person can act on, built with native states and intrinsics (no Lambda).

Every failure notification of every workflow reads the same way, in at most a few hundred bytes
(SNS e-mail)::

    churn-xgb training workflow failed at Train: AlgorithmError: ExecuteUserScriptError: out of memory
    Execution: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/<arn>
    Logs: CloudWatch log group /aws/sagemaker/TrainingJobs, log streams churn-xgb-<md5>-train/*
    Error: States.TaskFailed

Line one names the model, the workflow, the state and the reason; then the execution's console URL;
then, for a SageMaker job, its log group and stream prefix; then details. :func:`message` renders
this layout as one ``States.Format`` (line breaks are ``States.Base64Decode('Cg==')``: the template
of an intrinsic may not hold control characters).

A caught error reaches :class:`FailurePath` through :func:`catch_failure`, which records the failed
state's name in the variable ``$failedState`` (``Assign`` on the ``Catch``) because the error output
(``$.error``, ``Error`` and ``Cause``) does not say where it came from. The path then finds the reason:
a ``.sync`` job's ``Cause`` is its ``Describe*Job`` JSON as a string (about 3 KB), parsed with
``States.StringToJson`` to reach ``FailureReason`` and the job name; a Lambda error's ``Cause`` is JSON
with ``errorMessage``; any other ``Cause`` is plain text and is quoted as is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

FAILED_STATE_VARIABLE: Final = "failedState"
"""The workflow variable every failure ``Catch`` assigns: the name of the state that failed."""
NEWLINE: Final = "States.Base64Decode('Cg==')"
"""A line break as an intrinsic argument (``Cg==`` is base64 for ``\\n``)."""
REGION: Final = "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 3)"
"""The execution's region, the fourth field of its ARN (execution names may not hold ``:``)."""
EXECUTION_URL: Final = "https://{}.console.aws.amazon.com/states/home?region={}#/v2/executions/details/{}"
"""The Step Functions console page of an execution: region, region, execution ARN."""

TRAINING_WORKFLOW: Final = "training workflow"
"""How notifications name the training workflow (its quality gate notifies too)."""

#: ``Describe*Job`` name field -> the CloudWatch log group SageMaker writes that kind of job's logs to.
JOB_LOG_GROUPS: Final = {
    "TrainingJobName": "/aws/sagemaker/TrainingJobs",
    "ProcessingJobName": "/aws/sagemaker/ProcessingJobs",
    "TransformJobName": "/aws/sagemaker/TransformJobs",
}


def escape(text: str) -> str:
    """``text`` as a literal inside an intrinsic function's template: ``'``, ``{``, ``}`` and ``\\``
    escaped with a backslash (the Amazon States Language's reserved characters)."""
    for character in ("\\", "'", "{", "}"):
        text = text.replace(character, f"\\{character}")
    return text


@dataclasses.dataclass(frozen=True)
class Line:
    """One line of a message: literal ``text`` with a ``{}`` for each of ``arguments`` (JSONPaths,
    variables such as ``$failedState`` or intrinsics), literal braces written as ``{{`` and ``}}``.
    ``newline`` (default true) starts it on a new line; false appends it as is (an argument that is
    either empty or starts with its own line break)."""

    text: str
    arguments: Sequence[str] = ()
    newline: bool = True

    def render(self) -> tuple[str, list[str]]:
        """The line as an escaped template part and its arguments."""
        parts = self.text.replace("{{", "\0").replace("}}", "\1").split("{}")
        if len(parts) - 1 != len(self.arguments):
            raise ValueError(f"line {self.text!r} has {len(parts) - 1} slots for {len(self.arguments)} arguments")
        template = "{}".join(escape(part) for part in parts)
        return template.replace("\0", "\\{").replace("\1", "\\}"), list(self.arguments)


def message(headline: Line, *lines: Line) -> str:
    """The ``States.Format`` intrinsic of a notification: ``headline``, the execution's console URL,
    then ``lines``, separated by line breaks."""
    template, arguments = headline.render()
    for line in (Line(f"Execution: {EXECUTION_URL}", [REGION, REGION, "$$.Execution.Id"]), *lines):
        text, extra = line.render()
        if line.newline:
            template += "{}"
            arguments.append(NEWLINE)
        template += text
        arguments += extra
    return f"States.Format('{template}', {', '.join(arguments)})"


@dataclasses.dataclass(frozen=True)
class Headline:
    """Who failed: model ``model_name``'s ``workflow`` (e.g. ``training workflow``)."""

    model_name: str
    workflow: str

    def line(
        self, reason: str, arguments: Sequence[str] = (), *, state: str | None = None, verb: str = "failed at"
    ) -> Line:
        """``<model> <workflow> <verb> <state>: <reason>``; ``reason`` may hold ``{}`` slots for
        ``arguments``. ``state`` is a literal state name; None takes it from ``$failedState``."""
        if state is None:
            return Line(
                f"{self.model_name} {self.workflow} {verb} {{}}: {reason}", [f"${FAILED_STATE_VARIABLE}", *arguments]
            )
        literal = state.replace("{", "{{").replace("}", "}}")
        return Line(f"{self.model_name} {self.workflow} {verb} {literal}: {reason}", list(arguments))


def publish(scope: Construct, id: str, *, topic: sns.ITopic, subject: str, text: str) -> tasks.SnsPublish:
    """An SNS publish of the intrinsic ``text`` (see :func:`message`) whose result is discarded."""
    return tasks.SnsPublish(
        scope,
        id,
        topic=topic,
        subject=subject,
        message=sfn.TaskInput.from_text(sfn.JsonPath.string_at(text)),
        result_path=sfn.JsonPath.DISCARD,
    )


def catch_failure(
    task: sfn.CustomState | sfn.TaskStateBase,
    handler: sfn.IChainable,
    *,
    result_path: str = "$.error",
    errors: Sequence[str] = ("States.ALL",),
) -> None:
    """Catches ``errors`` of ``task`` into ``handler`` with the error at ``result_path``, recording the
    task's state name in ``$failedState`` for the failure message."""
    task.add_catch(handler, errors=list(errors), result_path=result_path, assign={FAILED_STATE_VARIABLE: task.state_id})


class FailurePath:
    """The states a caught error goes through: ``DescribeFailure`` (Choice on the shape of
    ``$.error.Cause``) → ``ParseFailureCause`` (JSON causes) → ``FailureCauseKind`` → a Pass that puts
    ``reason`` and ``logs`` in ``$.failure`` → ``NotifyFailure`` (SNS) → ``then`` (usually a Fail).

    ``entry`` is where catches go (through :func:`catch_failure`). ``job_name_fields`` are the
    ``Describe*Job`` name fields of the jobs this workflow runs (keys of :data:`JOB_LOG_GROUPS`);
    without them a JSON cause with ``FailureReason`` is still read, without a log line.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        headline: Headline,
        topic: sns.ITopic,
        subject: str,
        then: sfn.IChainable,
        job_name_fields: Sequence[str] = (),
        notify_id: str = "NotifyFailure",
    ) -> None:
        self.notification = publish(
            scope,
            notify_id,
            topic=topic,
            subject=subject,
            text=message(
                headline.line("{}", ["$.failure.reason"]),
                Line("{}", ["$.failure.logs"], newline=False),
                Line("Error: {}", ["$.error.Error"]),
            ),
        )
        self.notification.next(then)

        def reason(id: str, path: str, logs: str | None = None) -> sfn.Pass:
            """A Pass putting ``reason`` (the value at ``path``) and ``logs`` (an intrinsic, or "") in ``$.failure``."""
            parameters = {"reason.$": path, **({"logs.$": logs} if logs else {"logs": ""})}
            state = sfn.Pass(scope, id, parameters=parameters, result_path="$.failure")
            state.next(self.notification)
            return state

        cause = "$.error.Cause"
        parsed = "$.failure.cause"
        kinds = sfn.Choice(scope, "FailureCauseKind")
        for field in job_name_fields:
            group = JOB_LOG_GROUPS[field]
            logs = (
                f"States.Format('{{}}Logs: CloudWatch log group {group}, log streams {{}}/*', "
                f"{NEWLINE}, {parsed}.{field})"
            )
            kinds.when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(f"{parsed}.FailureReason"), sfn.Condition.is_present(f"{parsed}.{field}")
                ),
                reason(f"Read{field.removesuffix('Name')}Failure", f"{parsed}.FailureReason", logs),
            )
        kinds.when(
            sfn.Condition.is_present(f"{parsed}.FailureReason"),
            reason("ReadFailureReason", f"{parsed}.FailureReason"),
        )
        kinds.when(
            sfn.Condition.is_present(f"{parsed}.errorMessage"),
            reason("ReadErrorMessage", f"{parsed}.errorMessage"),
        )
        error_name = reason("UseErrorName", "$.error.Error")
        kinds.otherwise(error_name)
        parse = sfn.Pass(
            scope,
            "ParseFailureCause",
            parameters={"cause.$": f"States.StringToJson({cause})"},
            result_path="$.failure",
        )
        parse.next(kinds)
        cause_is_text = sfn.Condition.and_(sfn.Condition.is_present(cause), sfn.Condition.is_string(cause))
        self.entry = (
            sfn.Choice(scope, "DescribeFailure")
            .when(sfn.Condition.and_(cause_is_text, sfn.Condition.string_matches(cause, "{*}")), parse)
            .when(
                sfn.Condition.and_(cause_is_text, sfn.Condition.not_(sfn.Condition.string_equals(cause, ""))),
                reason("QuoteErrorCause", f"States.Format('{{}}: {{}}', $.error.Error, {cause})"),
            )
            .otherwise(error_name)
        )
