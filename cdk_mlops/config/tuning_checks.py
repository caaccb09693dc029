"""Checks of ``training.tuning`` that need the rest of the model's configuration.

A tuning job ranks its training jobs by ``objective_metric``; SageMaker only knows a metric the job
emits: a ``training.metric_definitions`` name in script mode (MetricDefinitions), or, for the built-in
XGBoost algorithm, one of the ``<channel>:<metric>`` names it reports for its ``eval_metric`` on the
``train`` and ``validation`` channels (:mod:`cdk_mlops.local.jobs.xgboost_metrics`, after
aws/sagemaker-xgboost-container and SageMaker's "Tune an XGBoost model" page). A metric it never emits
would make every training job's objective missing, and the tuning job fail after running them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cdk_mlops.config.model_config import FieldError

if TYPE_CHECKING:
    from cdk_mlops.config.model_config import ModelConfig

#: Hyperparameters whose tuning would change what the objective metric means.
UNTUNABLE_XGBOOST_HYPERPARAMETERS = ("eval_metric", "objective")


def objective_problem(config: ModelConfig) -> FieldError | None:
    """A ``FieldError`` naming ``training.tuning.objective_metric`` (or the range) when the training job
    cannot emit the objective; None when it can or when the model has no tuning."""
    tuning = config.training.tuning
    if tuning is None:
        return None
    metric = tuning.objective_metric
    field = "training.tuning.objective_metric"
    if config.training.entry_point is not None:
        defined = config.training.metric_definitions
        if metric not in defined:
            return FieldError(
                field,
                metric,
                "is not a metric the training job reports: a training script's metrics come from "
                f"training.metric_definitions (defined: {', '.join(sorted(defined)) or 'none'})",
            )
        return None
    if config.framework.name != "xgboost":
        return None  # a custom image: its metrics are its own
    for name in UNTUNABLE_XGBOOST_HYPERPARAMETERS:
        if name in tuning.ranges:
            return FieldError(
                f"training.tuning.ranges.{name}",
                tuning.ranges[name].model_dump(exclude_defaults=True),
                "cannot be tuned: it changes what the objective metric measures; fix it in training.hyperparameters",
            )
    from cdk_mlops.local.jobs.xgboost_metrics import emitted_metric_names

    emitted = emitted_metric_names(config.training.hyperparameters, config.data.channels)
    if metric not in emitted:
        return FieldError(
            field,
            metric,
            "is not a metric the built-in XGBoost algorithm emits with these hyperparameters "
            f"(eval_metric/objective) and channels: it emits {', '.join(emitted) or 'none'}",
        )
    return None
