"""A hyperparameter tuning job run locally: a few real trials, the best one by the objective.

SageMaker's tuning job (CreateHyperParameterTuningJob) starts training jobs from its
``TrainingJobDefinition`` with hyperparameters chosen by its strategy, names them
``<tuning job>-<NNN>-<8 hex>``, and reports the best one by ``HyperParameterTuningJobObjective``
(``BestTrainingJob``, DescribeHyperParameterTuningJob). Locally, every strategy samples at random
over the ``ParameterRanges`` as SageMaker's Random strategy does (uniform, or log-uniform for
``Logarithmic`` scaling; Grid walks its combinations in order), seeded by the tuning job's name so a
rerun tries the same values, and runs at most ``limit`` trials (``cdk-mlops run --max-tuning-jobs``,
default :data:`DEFAULT_MAX_LOCAL_TRIALS`). Bayesian search and Hyperband's early stopping are not
reproduced: the local run exercises the path, it does not search well.

Pure functions on the request as the workflow sent it (PascalCase); the moto patch that answers the
tuning API (:mod:`cdk_mlops.local.moto_patches`) creates the trials as ordinary training jobs, which the
local job runner executes like any other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

__all__ = [
    "DEFAULT_MAX_LOCAL_TRIALS",
    "Trial",
    "best_trial",
    "objective_metric_of",
    "objective_of",
    "plan_trials",
    "trial_count",
    "trial_request",
]

#: Trials a local tuning job runs unless told otherwise (``cdk-mlops run --max-tuning-jobs``).
DEFAULT_MAX_LOCAL_TRIALS: Final = 3

#: Fields of a ``TrainingJobDefinition`` that a CreateTrainingJob request takes under the same name.
_SHARED_FIELDS: Final = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


@dataclasses.dataclass(frozen=True)
class Trial:
    """One training job of a tuning job: its name and the tuned hyperparameters it was given."""

    name: str
    tuned: Mapping[str, str]


def trial_count(config: Mapping[str, Any], limit: int) -> int:
    """How many trials to run: ``MaxNumberOfTrainingJobs`` (or, for Grid, the number of combinations),
    at most ``limit`` (at least 1)."""
    if limit < 1:
        raise ValueError(f"the local trial limit must be at least 1 (got {limit})")
    maximum = config.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs")
    if maximum is None:
        maximum = sum(1 for _ in _grid(config.get("ParameterRanges", {})))
    return max(1, min(int(maximum), limit))


def _grid(ranges: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    categorical = sorted(ranges.get("CategoricalParameterRanges", []), key=lambda entry: entry["Name"])
    names = [entry["Name"] for entry in categorical]
    for values in itertools.product(*(entry["Values"] for entry in categorical)):
        yield dict(zip(names, values, strict=True))


def _format_number(value: float, integer: bool) -> str:
    return str(round(value)) if integer else f"{value:.6g}"


def _sample_number(entry: Mapping[str, Any], integer: bool, rng: random.Random) -> str:
    low, high = float(entry["MinValue"]), float(entry["MaxValue"])
    scaling = entry.get("ScalingType", "Auto")
    if scaling == "Logarithmic" and low > 0:
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    elif scaling == "ReverseLogarithmic" and high < 1:
        value = 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
    elif integer:
        value = rng.randint(int(low), int(high))
    else:
        value = rng.uniform(low, high)
    return _format_number(min(max(value, low), high), integer)


def _random(ranges: Mapping[str, Any], rng: random.Random) -> dict[str, str]:
    tuned: dict[str, str] = {}
    for entry in ranges.get("IntegerParameterRanges", []):
        tuned[entry["Name"]] = _sample_number(entry, True, rng)
    for entry in ranges.get("ContinuousParameterRanges", []):
        tuned[entry["Name"]] = _sample_number(entry, False, rng)
    for entry in ranges.get("CategoricalParameterRanges", []):
        tuned[entry["Name"]] = str(rng.choice(list(entry["Values"])))
    return tuned


def plan_trials(tuning_job_name: str, config: Mapping[str, Any], limit: int = DEFAULT_MAX_LOCAL_TRIALS) -> list[Trial]:
    """The trials of tuning job ``tuning_job_name`` from its ``HyperParameterTuningJobConfig``: names as
    SageMaker forms them (``<tuning job>-<NNN>-<8 hex>``) and tuned values, seeded by the name."""
    digest = hashlib.sha256(tuning_job_name.encode("utf-8")).hexdigest()
    rng = random.Random(int(digest[:16], 16))
    ranges = config.get("ParameterRanges", {})
    count = trial_count(config, limit)
    if config.get("Strategy") == "Grid":
        values = list(itertools.islice(_grid(ranges), count))
    else:
        values = [_random(ranges, rng) for _ in range(count)]
    return [
        Trial(f"{tuning_job_name}-{index:03d}-{digest[8 * index % 56 : 8 * index % 56 + 8]}", tuned)
        for index, tuned in enumerate(values, start=1)
    ]


def trial_request(definition: Mapping[str, Any], trial: Trial) -> dict[str, Any]:
    """The CreateTrainingJob request SageMaker makes for ``trial`` from a ``TrainingJobDefinition``:
    its fields, and ``HyperParameters`` = ``StaticHyperParameters`` plus the tuned values."""
    request: dict[str, Any] = {"TrainingJobName": trial.name}
    for field in _SHARED_FIELDS:
        if definition.get(field) is not None:
            request[field] = definition[field]
    request["HyperParameters"] = {**dict(definition.get("StaticHyperParameters") or {}), **trial.tuned}
    return request


def objective_metric_of(states: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The objective metric of the tuning job a workflow's states start (``createHyperParameterTuningJob``),
    None when it runs no tuning job; scripted runs report it from every trial, as a real job would."""
    for state in states.values():
        if "createHyperParameterTuningJob" in str(state.get("Resource", "")):
            config = state.get("Parameters", {}).get("HyperParameterTuningJobConfig", {})
            return str(config.get("HyperParameterTuningJobObjective", {}).get("MetricName")) or None
    return None


def objective_of(final_metrics: Sequence[Mapping[str, Any]], metric_name: str) -> float | None:
    """The value of ``metric_name`` in a training job's ``FinalMetricDataList``, None if it is absent."""
    for metric in final_metrics:
        if metric.get("MetricName") == metric_name:
            return float(metric["Value"])
    return None


def best_trial(
    results: Sequence[tuple[str, str, Sequence[Mapping[str, Any]]]], objective: Mapping[str, Any]
) -> tuple[str, float] | None:
    """The best ``(job name, objective value)`` among ``(name, status, FinalMetricDataList)`` results,
    by ``objective`` (``{"Type": "Maximize"|"Minimize", "MetricName": ...}``): Completed jobs that
    report the metric only, the first one on a tie; None when no job qualifies."""
    sign = -1.0 if objective.get("Type") == "Minimize" else 1.0
    best: tuple[str, float] | None = None
    for name, status, metrics in results:
        value = objective_of(metrics, str(objective.get("MetricName")))
        if status != "Completed" or value is None:
            continue
        if best is None or sign * value > sign * best[1]:
            best = (name, value)
    return best
