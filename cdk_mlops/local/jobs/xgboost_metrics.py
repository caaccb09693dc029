"""The metrics SageMaker's built-in XGBoost algorithm emits, by name, without importing xgboost.

Per aws/sagemaker-xgboost-container (``constants/xgb_constants.py``: ``XGB_MAXIMIZE_METRICS``,
``XGB_MINIMIZE_METRICS``; ``algorithm_mode/metrics.py``) and SageMaker's "Tune an XGBoost model" page
(docs.aws.amazon.com/sagemaker/latest/dg/xgboost-tuning.html): every evaluation metric is logged per
round and per watched channel as ``[<round>]#011<channel>-<metric>:<value>`` and reported as
``<channel>:<metric>`` (``train:auc``, ``validation:auc``). The channels evaluated are ``train`` and
``validation``. Without ``eval_metric``, XGBoost evaluates its objective's default metric.

Pre-flight checks import this module to reject a quality gate on a metric the algorithm never emits
(``validation:acuracy``) before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

__all__ = [
    "EVALUATED_CHANNELS",
    "MAXIMIZE_METRICS",
    "MINIMIZE_METRICS",
    "default_eval_metric",
    "emitted_metric_names",
    "eval_metrics",
    "metric_regex",
]

MAXIMIZE_METRICS: Final = (
    "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
    "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro",
)  # fmt: skip
MINIMIZE_METRICS: Final = (
    "aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "interval-regression-accuracy",
    "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse", "poisson-nloglik", "rmse", "rmsle",
    "tweedie-nloglik",
)  # fmt: skip
KNOWN_METRICS: Final = frozenset(MAXIMIZE_METRICS + MINIMIZE_METRICS)
#: Channels the built-in algorithm evaluates each round (its watchlist), in log order.
EVALUATED_CHANNELS: Final = ("train", "validation")

#: XGBoost's default evaluation metric per objective (XGBoost's parameter docs, "eval_metric").
_DEFAULT_BY_OBJECTIVE: Final[Mapping[str, str]] = {
    "binary:logistic": "logloss",
    "binary:logitraw": "logloss",
    "binary:hinge": "error",
    "multi:softmax": "mlogloss",
    "multi:softprob": "mlogloss",
    "rank:pairwise": "map",
    "rank:ndcg": "ndcg",
    "rank:map": "map",
    "count:poisson": "poisson-nloglik",
    "survival:cox": "cox-nloglik",
    "survival:aft": "aft-nloglik",
    "reg:gamma": "gamma-nloglik",
    "reg:tweedie": "tweedie-nloglik",
    "reg:absoluteerror": "mae",
    "reg:pseudohubererror": "mphe",
}


def default_eval_metric(objective: str) -> str:
    """XGBoost's default metric for ``objective`` (``rmse`` for regression and unknown objectives)."""
    return _DEFAULT_BY_OBJECTIVE.get(objective, "rmse")


def eval_metrics(hyperparameters: Mapping[str, object]) -> list[str]:
    """The metrics the algorithm evaluates: ``eval_metric`` (comma-separated) or the objective's default."""
    raw = str(hyperparameters.get("eval_metric") or "").strip()
    if raw:
        return [name.strip() for name in raw.split(",") if name.strip()]
    return [default_eval_metric(str(hyperparameters.get("objective") or "reg:squarederror"))]


def emitted_metric_names(hyperparameters: Mapping[str, object], channels: Iterable[str]) -> list[str]:
    """``<channel>:<metric>`` for every metric evaluated on every evaluated channel the job has."""
    present = [channel for channel in EVALUATED_CHANNELS if channel in set(channels)]
    return [f"{channel}:{metric}" for channel in present for metric in eval_metrics(hyperparameters)]


def metric_regex(channel: str, metric: str) -> str:
    """The built-in algorithm's metric definition regex for ``<channel>:<metric>`` (CloudWatch form).

    The container's own definitions capture ``(\\S+)``; the value here is captured as a number, so a
    line carrying several metrics (``#011train-auc:0.9#011train-logloss:0.3``) still yields each one.
    """
    number = r"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    return f".*\\[[0-9]+\\].*#011{channel}-{metric}:{number}"
