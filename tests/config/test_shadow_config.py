"""``endpoints.production.shadow`` in model.yaml: its documented defaults, and every combination where a
SageMaker shadow variant cannot run (serverless, asynchronous, staging) or the deploy workflow cannot read
its metrics (another account or region), each refused through the loader naming file, field and value.

Shadow variants run on instances and mirror real-time requests ("Testing models with shadow variants",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-shadow-deployment.html)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.config import ModelConfigError, load_model_config
from cdk_mlops_testing import example_config_data, write_model


@pytest.fixture
def churn() -> dict[str, Any]:
    """churn-xgb with an instance production endpoint and a default shadow section, free to modify."""
    data = example_config_data("churn-xgb")
    data["endpoints"]["production"] = {"instance_type": "ml.m5.large", "shadow": {}}
    return data


def problems_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = write_model(tmp_path, data["name"], data)
    with pytest.raises(ModelConfigError) as raised:
        load_model_config(path)
    assert str(raised.value).startswith(f"invalid model configuration {path}:")
    return raised.value.problems


def test_shadow_defaults_mirror_all_traffic_for_an_hour_with_ten_percent_latency_and_one_percent_errors(
    tmp_path, churn
) -> None:
    shadow = load_model_config(write_model(tmp_path, "churn-xgb", churn)).endpoints.production.shadow
    assert shadow is not None
    assert (shadow.traffic_percent, shadow.minutes, shadow.max_latency_increase_percent, shadow.max_error_rate) == (
        100,
        60,
        10,
        0.01,
    )


def test_models_without_a_shadow_section_have_none(tmp_path) -> None:
    data = example_config_data("churn-xgb")
    assert load_model_config(write_model(tmp_path, "churn-xgb", data)).endpoints.production.shadow is None


def test_a_serverless_production_endpoint_refuses_a_shadow(tmp_path, churn) -> None:
    churn["endpoints"]["production"] = {"serverless": True, "shadow": {"minutes": 30}}
    (problem,) = problems_of(tmp_path, churn)
    assert problem.startswith("endpoints.production.shadow: ")
    assert "{'minutes': 30}" in problem
    assert "needs an instance endpoint (serverless: false)" in problem


def test_an_asynchronous_endpoint_refuses_a_shadow(tmp_path, churn) -> None:
    churn["endpoints"]["production"]["async_inference"] = {}
    (problem,) = problems_of(tmp_path, churn)
    assert problem.startswith("endpoints.production.shadow: ")
    assert "not queued asynchronous ones" in problem


@pytest.mark.parametrize(("field", "value"), [("account", "222222222222"), ("region", "us-west-2")])
def test_a_production_endpoint_in_another_account_or_region_refuses_a_shadow(tmp_path, churn, field, value) -> None:
    churn["endpoints"]["production"][field] = value
    (problem,) = problems_of(tmp_path, churn)
    assert problem.startswith("endpoints.production.shadow: ")
    assert f"another {field} ({field} {value})" in problem
    assert "GetMetricData in the pipeline's account and region" in problem


def test_staging_refuses_a_shadow(tmp_path, churn) -> None:
    churn["endpoints"]["staging"] = {"instance_type": "ml.m5.large", "shadow": {}}
    (problem,) = problems_of(tmp_path, churn)
    assert problem.startswith("endpoints.staging.shadow: ")
    assert "production only" in problem


@pytest.mark.parametrize(
    ("field", "value"),
    [("traffic_percent", 0), ("traffic_percent", 101), ("minutes", 4), ("max_error_rate", 1.5)],
)
def test_out_of_range_shadow_fields_are_refused_naming_the_field_and_value(tmp_path, churn, field, value) -> None:
    churn["endpoints"]["production"]["shadow"] = {field: value}
    (problem,) = problems_of(tmp_path, churn)
    assert problem.startswith(f"endpoints.production.shadow.{field}: ")
    assert repr(value) in problem or str(value) in problem
