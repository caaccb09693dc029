"""Metric definitions and the built-in XGBoost's metric names, without running anything.

Metric values follow "Define metrics and environment variables"
(https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-metrics-variables.html);
XGBoost metric names follow "Tune an XGBoost model"
(https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost-tuning.html) and the container's log lines.
"""

from __future__ import annotations

import pytest

from cdk_mlops.local.jobs.metrics import MetricDefinition, final_metrics, parse_metric_definitions
from cdk_mlops.local.jobs.training import cloudwatch_form
from cdk_mlops.local.jobs.xgboost_builtin import metric_definitions
from cdk_mlops.local.jobs.xgboost_metrics import default_eval_metric, emitted_metric_names


def test_final_metric_is_the_first_group_of_the_last_matching_line() -> None:
    definitions = [MetricDefinition("loss", r"loss=([0-9.]+)")]
    assert final_metrics(definitions, ["loss=0.9", "noise", "loss=0.4", "loss=oops"]) == {"loss": 0.4}


def test_metric_never_emitted_is_absent() -> None:
    assert final_metrics([MetricDefinition("f1", r"f1=([0-9.]+)")], ["accuracy=1"]) == {}


def test_invalid_metric_regex_is_an_early_error_naming_metric_and_regex() -> None:
    with pytest.raises(ValueError, match=r"'acc' has an invalid Regex 'acc=\(\[0-9'"):
        parse_metric_definitions(
            {"AlgorithmSpecification": {"MetricDefinitions": [{"Name": "acc", "Regex": "acc=([0-9"}]}}
        )
    with pytest.raises(ValueError, match="no capture group"):
        MetricDefinition("acc", "acc=[0-9]+")


def test_builtin_xgboost_metrics_are_named_channel_colon_metric() -> None:
    assert emitted_metric_names({"eval_metric": "auc"}, ["train", "validation"]) == ["train:auc", "validation:auc"]
    assert emitted_metric_names({"eval_metric": "aucpr,error"}, ["train"]) == ["train:aucpr", "train:error"]


def test_builtin_xgboost_without_eval_metric_emits_the_objective_default() -> None:
    assert default_eval_metric("binary:logistic") == "logloss"
    assert emitted_metric_names({"objective": "reg:squarederror"}, ["validation"]) == ["validation:rmse"]


def test_builtin_xgboost_log_lines_give_each_metric_in_cloudwatch_form() -> None:
    definitions = metric_definitions({"eval_metric": "auc,logloss"}, ["train", "validation"])
    line = cloudwatch_form("[9]\ttrain-auc:0.95\ttrain-logloss:0.2\tvalidation-auc:0.91\tvalidation-logloss:0.3")
    assert final_metrics(definitions, [line]) == {
        "train:auc": 0.95,
        "train:logloss": 0.2,
        "validation:auc": 0.91,
        "validation:logloss": 0.3,
    }
