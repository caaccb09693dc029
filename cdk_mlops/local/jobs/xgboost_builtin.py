"""A stand-in for SageMaker's built-in XGBoost algorithm (``framework: xgboost`` without an entry point).

The training itself is :data:`SCRIPT`, a stdlib + ``xgboost`` + ``numpy`` script run with the model
environment's Python (the project's venv has no xgboost; the environment installs it at the framework's
version, e.g. ``1.7-1`` -> ``xgboost==1.7.*``). It reads the container's files as the built-in
algorithm does (aws/sagemaker-xgboost-container, ``algorithm_mode/train.py`` and ``data_utils.py``):

* hyperparameters from ``/opt/ml/input/config/hyperparameters.json`` (strings); ``num_round`` is
  required; the others (``objective``, ``eval_metric``, ``max_depth``, ``eta``, ``scale_pos_weight``,
  ``subsample``...) go to ``xgboost.train`` as the container passes them; ``early_stopping_rounds``
  is honoured;
* the ``train`` (required) and ``validation`` channels, by the channel's ``ContentType`` in
  ``inputdataconfig.json``: ``text/csv`` (label in the first column, no header) or ``text/libsvm``
  (the algorithm's default); every file of the channel's folder is read;
* each round logs ``[i]\\ttrain-<metric>:<v>\\tvalidation-<metric>:<v>``, reported as ``train:<metric>``
  and ``validation:<metric>`` (:mod:`.xgboost_metrics`); the container's own metrics that XGBoost does
  not compute (``accuracy``, ``f1``, ``r2``, ``mse``...) are computed by the script;
* the booster is saved as ``/opt/ml/model/xgboost-model``, the file the built-in serving loads.

What differs from the real algorithm: no distributed or GPU training, no ``recordio-protobuf`` or
parquet input, no checkpoints, and no hyperparameter validation beyond XGBoost's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from cdk_mlops.local.jobs.metrics import MetricDefinition
from cdk_mlops.local.jobs.xgboost_metrics import emitted_metric_names, metric_regex

__all__ = ["MODEL_FILE", "SCRIPT", "metric_definitions"]

#: The script run in the model environment.
SCRIPT: Final = Path(__file__).with_name("_xgboost_train.py")
#: The artifact name the built-in serving expects inside model.tar.gz.
MODEL_FILE: Final = "xgboost-model"


def metric_definitions(hyperparameters: Mapping[str, str], channels: Iterable[str]) -> list[MetricDefinition]:
    """The built-in algorithm's metric definitions for a job with these hyperparameters and channels."""
    definitions = []
    for name in emitted_metric_names(hyperparameters, channels):
        channel, metric = name.split(":", 1)
        definitions.append(MetricDefinition(name, metric_regex(channel, metric)))
    return definitions
