"""Scripted SageMaker outcomes for local state machine runs.

A :class:`SageMakerScript` says how the local SageMaker behaves: which jobs complete, fail or stop
(and with which metrics or failure reason), and which API calls fail (throttling, capacity limits).
It is plain data plus bookkeeping, with no dependency on moto; ``moto_patches`` consults it while a
:class:`~cdk_mlops.local.engine.LocalEngine` runs.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

__all__ = [
    "ApiFault",
    "EndpointInvoker",
    "JobExecutor",
    "JobKind",
    "JobOutcome",
    "JobRecord",
    "ModelInvocationError",
    "SageMakerScript",
]

JobStatus = Literal["Completed", "Failed", "Stopped"]


class JobKind(str, enum.Enum):
    """The kinds of SageMaker job whose outcome can be scripted."""

    TRAINING = "training"
    PROCESSING = "processing"
    TRANSFORM = "transform"
    TUNING = "tuning"


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    """How a SageMaker job ends, as seen by ``Describe*Job`` (and so by a ``.sync`` task).

    Build one with :meth:`completed`, :meth:`failed` or :meth:`stopped`. ``polls_in_progress`` keeps
    the job ``InProgress`` for that many ``Describe*Job`` calls before it reaches its final status.
    """

    status: JobStatus
    failure_reason: str | None = None
    final_metrics: Mapping[str, float] = dataclasses.field(default_factory=dict)
    model_artifacts: str | None = None
    polls_in_progress: int = 0

    @classmethod
    def completed(
        cls,
        final_metrics: Mapping[str, float] | None = None,
        *,
        model_artifacts: str | None = None,
        polls_in_progress: int = 0,
    ) -> JobOutcome:
        """The job completes; a training job reports ``final_metrics`` as its ``FinalMetricDataList``.

        ``model_artifacts`` overrides a training job's ``ModelArtifacts.S3ModelArtifacts`` (default:
        ``<S3OutputPath>/<job name>/output/model.tar.gz``, as SageMaker writes it).
        """
        return cls("Completed", None, dict(final_metrics or {}), model_artifacts, polls_in_progress)

    @classmethod
    def failed(cls, reason: str, *, polls_in_progress: int = 0) -> JobOutcome:
        """The job fails with ``FailureReason`` = ``reason``."""
        return cls("Failed", reason, {}, None, polls_in_progress)

    @classmethod
    def stopped(cls, *, polls_in_progress: int = 0) -> JobOutcome:
        """The job is stopped (a ``.sync`` task fails with ``States.TaskFailed``, as on AWS)."""
        return cls("Stopped", None, {}, None, polls_in_progress)


UNSCRIPTED = JobOutcome.completed()


class JobExecutor(Protocol):
    """Runs a SageMaker job that no scripted rule matches (e.g. :class:`cdk_mlops.local.jobs.LocalJobRunner`)."""

    def run(self, kind: JobKind, name: str, request: Mapping[str, Any]) -> JobOutcome:
        """Runs job ``name`` from its ``Create*Job`` request (PascalCase, as sent) and returns how it ended."""
        ...


class ModelInvocationError(Exception):
    """Raised by an endpoint invoker when the model fails; ``InvokeEndpoint`` then raises ``ModelError``.

    ``status_code`` is the HTTP status the model container answered with (SageMaker reports it in the
    message as ``Received server error (500) from primary``).
    """

    def __init__(self, message: str, *, status_code: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


#: ``fn(endpoint_name, body, content_type, accept) -> (body, content_type)``; raises ModelInvocationError.
EndpointInvoker = Callable[[str, bytes, str | None, str | None], tuple[bytes, str]]


@dataclasses.dataclass
class _JobRule:
    kind: JobKind
    outcome: JobOutcome
    name_contains: str | None
    remaining: int | None

    def matches(self, kind: JobKind, name: str) -> bool:
        if self.kind is not kind or self.remaining == 0:
            return False
        return self.name_contains is None or self.name_contains in name


@dataclasses.dataclass(frozen=True)
class JobRecord:
    """A job created while the engine ran, with the outcome it was given."""

    kind: JobKind
    name: str
    outcome: JobOutcome
    scripted: bool


@dataclasses.dataclass
class ApiFault:
    """A scripted error for the next ``remaining`` calls of one SageMaker API action."""

    action: str
    code: str
    message: str
    remaining: int


@functools.cache
def _sagemaker_actions() -> frozenset[str]:
    import botocore.session

    return frozenset(botocore.session.get_session().get_service_model("sagemaker").operation_names)


def normalise_action(action: str) -> str:
    """``createTrainingJob`` or ``CreateTrainingJob`` -> ``CreateTrainingJob``."""
    if not action:
        raise ValueError("empty SageMaker action name")
    return action[0].upper() + action[1:]


def _checked_action(action: str) -> str:
    normalised = normalise_action(action)
    if normalised not in _sagemaker_actions():
        raise ValueError(f"{action!r} is not a SageMaker API action (e.g. 'CreateTrainingJob')")
    return normalised


class SageMakerScript:
    """Scripted behaviour of the local SageMaker: job outcomes and API faults, plus a call log.

    Job rules are tried in the order they were added; the first one of the job's kind whose
    ``name_contains`` is in the job name (or that has none) and that has uses left decides the outcome.
    Jobs no rule matches complete with no metrics. All methods are thread-safe (executions run in
    worker threads).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_JobRule] = []
        self._faults: list[ApiFault] = []
        self._calls: list[str] = []
        self._jobs: list[JobRecord] = []
        self._executor: JobExecutor | None = None
        self._invoker: EndpointInvoker | None = None
        self._max_tuning_jobs = 3

    # -- scripting -------------------------------------------------------------------------------

    def script_training_job(
        self, outcome: JobOutcome, *, name_contains: str | None = None, times: int | None = None
    ) -> None:
        """Training jobs (whose name contains ``name_contains``) end with ``outcome``.

        ``times`` limits the rule to that many jobs (default: every matching job).
        """
        self._add_rule(JobKind.TRAINING, outcome, name_contains, times)

    def script_processing_job(
        self, outcome: JobOutcome, *, name_contains: str | None = None, times: int | None = None
    ) -> None:
        """Processing jobs (whose name contains ``name_contains``) end with ``outcome``."""
        self._add_rule(JobKind.PROCESSING, outcome, name_contains, times)

    def script_transform_job(
        self, outcome: JobOutcome, *, name_contains: str | None = None, times: int | None = None
    ) -> None:
        """Batch transform jobs (whose name contains ``name_contains``) end with ``outcome``."""
        self._add_rule(JobKind.TRANSFORM, outcome, name_contains, times)

    def script_tuning_job(
        self, outcome: JobOutcome, *, name_contains: str | None = None, times: int | None = None
    ) -> None:
        """Hyperparameter tuning jobs (whose name contains ``name_contains``) end with ``outcome``: a
        failed or stopped outcome ends the tuning job before any trial; a completed one runs the trials
        (training jobs, scripted as such) and reports the best (:mod:`cdk_mlops.local.jobs.tuning`)."""
        self._add_rule(JobKind.TUNING, outcome, name_contains, times)

    def limit_tuning_jobs(self, count: int) -> None:
        """A tuning job runs at most ``count`` training jobs locally (default 3; ``cdk-mlops run
        --max-tuning-jobs``), however many its request allows."""
        if count < 1:
            raise ValueError(f"a tuning job needs at least 1 training job (got {count})")
        with self._lock:
            self._max_tuning_jobs = count

    @property
    def max_tuning_jobs(self) -> int:
        """The most training jobs a local tuning job runs (see :meth:`limit_tuning_jobs`)."""
        with self._lock:
            return self._max_tuning_jobs

    def throttle(self, action: str, times: int = 1) -> None:
        """The next ``times`` calls of ``action`` (e.g. ``"CreateTrainingJob"``) raise ThrottlingException."""
        self.fail_call(action, "ThrottlingException", "Rate exceeded", times=times)

    def fail_call(self, action: str, code: str, message: str | None = None, *, times: int = 1) -> None:
        """The next ``times`` calls of ``action`` raise a SageMaker error with code ``code``.

        For example ``fail_call("CreateTrainingJob", "ResourceLimitExceeded")``, which a state machine
        sees as ``SageMaker.ResourceLimitExceededException``.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = ApiFault(_checked_action(action), code, message or f"Scripted {code}", times)
        with self._lock:
            self._faults.append(fault)

    def use_executor(self, executor: JobExecutor | None) -> None:
        """Jobs that no scripted rule matches are run by ``executor`` (default: none, they complete with
        no metrics). Scripted rules still win, so a scenario can fail one job of a real run."""
        with self._lock:
            self._executor = executor

    def use_endpoint_invoker(self, invoker: EndpointInvoker | None) -> None:
        """``InvokeEndpoint`` calls ``invoker(endpoint_name, body, content_type, accept)`` and answers with
        the ``(body, content_type)`` it returns (default: none, moto's canned answer)."""
        with self._lock:
            self._invoker = invoker

    @property
    def endpoint_invoker(self) -> EndpointInvoker | None:
        """The invoker set with :meth:`use_endpoint_invoker`, if any."""
        with self._lock:
            return self._invoker

    # -- inspection ------------------------------------------------------------------------------

    def calls(self, action: str | None = None) -> list[str]:
        """SageMaker API actions called so far, in order (all, or only ``action``), failed ones included."""
        with self._lock:
            if action is None:
                return list(self._calls)
            wanted = normalise_action(action)
            return [call for call in self._calls if call == wanted]

    def call_count(self, action: str) -> int:
        """How many times ``action`` was called, including calls that failed."""
        return len(self.calls(action))

    @property
    def jobs(self) -> list[JobRecord]:
        """Jobs created so far, in order, with the outcome each was given."""
        with self._lock:
            return list(self._jobs)

    # -- used by the moto patches ----------------------------------------------------------------

    def record_call(self, action: str) -> ApiFault | None:
        """Logs a call of ``action`` and returns the fault it must raise, if one is scripted."""
        with self._lock:
            self._calls.append(action)
            for fault in self._faults:
                if fault.action == action and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    def is_fault_code(self, code: object) -> bool:
        """True if some scripted fault uses the error code ``code``."""
        with self._lock:
            return any(fault.code == code for fault in self._faults)

    def outcome_for(self, kind: JobKind, name: str, request: Mapping[str, Any] | None = None) -> JobOutcome:
        """Consumes the first matching rule for a new job and returns its outcome; with no matching rule,
        the executor (if any) runs the job from ``request`` (its ``Create*Job`` request) outside the lock."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(kind, name):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    self._jobs.append(JobRecord(kind, name, rule.outcome, scripted=True))
                    return rule.outcome
            executor = self._executor
        outcome = UNSCRIPTED if executor is None else executor.run(kind, name, dict(request or {}))
        with self._lock:
            self._jobs.append(JobRecord(kind, name, outcome, scripted=False))
        return outcome

    def tuning_outcome_for(self, name: str) -> JobOutcome:
        """Consumes the first matching tuning rule for a new tuning job and returns its outcome (a tuning
        job is never given to the executor: its trials are); unscripted, it completes."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(JobKind.TUNING, name):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    self._jobs.append(JobRecord(JobKind.TUNING, name, rule.outcome, scripted=True))
                    return rule.outcome
            self._jobs.append(JobRecord(JobKind.TUNING, name, UNSCRIPTED, scripted=False))
        return UNSCRIPTED

    def _add_rule(self, kind: JobKind, outcome: JobOutcome, name_contains: str | None, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every matching job)")
        if outcome.polls_in_progress < 0:
            raise ValueError("polls_in_progress must not be negative")
        with self._lock:
            self._rules.append(_JobRule(kind, outcome, name_contains, times))
