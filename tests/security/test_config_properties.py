"""Property-based tests of model configurations (hypothesis).

Invalid configurations: every one is rejected by ``parse_model_config`` with a ``ModelConfigError``
naming the file, the field path and the value received. Valid configurations: a few are generated,
built into ONE app (synthesizing per example would be far too slow) and that app must have zero
cfn-lint findings and zero unacknowledged cdk-nag findings.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdk_mlops.config import ModelConfigError, parse_model_config
from cdk_mlops_testing import example_config_data, write_model

FILE = "models/x/model.yaml"
CHURN = example_config_data("churn-xgb")

INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge", "ml.c5.2xlarge", "ml.g4dn.xlarge"]


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(CHURN)
    training = data["training"]
    training["instance_type"] = draw(st.sampled_from(INSTANCE_TYPES))
    training["instance_count"] = draw(st.integers(1, 4))
    training["volume_size_gib"] = draw(st.integers(1, 500))
    training["max_runtime_minutes"] = draw(st.integers(1, 600))
    training["spot"] = draw(st.booleans())
    data["quality_gate"] = [{"metric": "validation:auc", "threshold": draw(st.floats(0, 1))}]
    endpoints = data["endpoints"]
    endpoints["staging"] = {"serverless": True, "memory_mb": draw(st.sampled_from([1024, 2048, 3072, 4096]))}
    count = draw(st.integers(1, 3))
    endpoints["production"]["instance_count"] = count
    endpoints["production"]["autoscaling"]["min_capacity"] = count
    endpoints["production"]["autoscaling"]["max_capacity"] = count + draw(st.integers(0, 4))
    endpoints["data_capture"] = {"enabled": draw(st.booleans()), "sampling_percent": draw(st.integers(1, 100))}
    if not endpoints["data_capture"]["enabled"]:
        data.pop("drift", None)  # the drift check needs data capture
    return data


# (field path, value) pairs that are invalid whatever else the configuration holds.
INVALID_FIELDS: list[tuple[tuple[str, ...], st.SearchStrategy[Any]]] = [
    (("training", "instance_count"), st.integers(max_value=0) | st.integers(min_value=101)),
    (("training", "volume_size_gib"), st.integers(max_value=0) | st.integers(min_value=16385)),
    (("training", "max_runtime_minutes"), st.integers(max_value=0) | st.integers(min_value=28 * 24 * 60 + 1)),
    (("training", "instance_type"), st.from_regex(r"[a-z0-9]{1,6}\.[a-z0-9]{1,6}", fullmatch=True)),
    (("training", "instance_count"), st.text(alphabet="abcxyz", min_size=1, max_size=8)),
    (("framework", "name"), st.sampled_from(["keras", "jax", "XGBoost2", "scikit", "mxnet2"])),
    (("endpoints", "staging", "memory_mb"), st.integers(1, 10_000).filter(lambda v: v % 1024 or v > 6144)),
    (("endpoints", "data_capture", "sampling_percent"), st.integers(max_value=0) | st.integers(min_value=101)),
    (("training", "unknown_setting"), st.integers() | st.text(min_size=1, max_size=10)),
]


@st.composite
def invalid_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str, Any]:
    data = copy.deepcopy(CHURN)
    path, values = draw(st.sampled_from(INVALID_FIELDS))
    value = draw(values)
    target = data
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
    return data, ".".join(path), value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=invalid_configs())
def test_invalid_configuration_is_rejected_naming_file_field_and_value(case: tuple[dict[str, Any], str, Any]) -> None:
    data, field, value = case
    with pytest.raises(ModelConfigError) as raised:
        parse_model_config(data, FILE)
    message = str(raised.value)
    assert FILE in message
    problems = [problem for problem in raised.value.problems if problem.startswith(f"{field}:")]
    assert problems, f"no problem names {field}: {raised.value.problems}"
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77]
    assert any(f"(got {shown}" in problem for problem in problems), problems


@settings(max_examples=100, deadline=None)
@given(data=valid_configs())
def test_generated_valid_configuration_parses(data: dict[str, Any]) -> None:
    config = parse_model_config(data, FILE)
    assert config.training.instance_count == data["training"]["instance_count"]


VALID_SAMPLES: list[dict[str, Any]] = []


@settings(max_examples=5, deadline=None, database=None)
@given(data=valid_configs())
def _collect_valid(data: dict[str, Any]) -> None:
    VALID_SAMPLES.append(data)


def test_generated_valid_configurations_synthesize_without_cfn_lint_or_cdk_nag_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aws_cdk as cdk
    from cfnlint.api import ManualArgs, lint

    from cdk_mlops.app_builder import build_app, enable_compliance_checks

    VALID_SAMPLES.clear()
    _collect_valid()
    assert VALID_SAMPLES
    models_dir = tmp_path / "models"
    for index, data in enumerate(VALID_SAMPLES):
        data = copy.deepcopy(data)
        data["name"] = f"gen-{index}"
        data["source"]["path"] = f"models/gen-{index}"
        write_model(models_dir, f"gen-{index}", data)

    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), builtin_cloud_formation_validation=False)
    assert enable_compliance_checks(app)
    build_app(app, models_dir)
    app.synth()  # cdk-nag: any unacknowledged finding raises here

    report = tmp_path / "cdk.out" / "validation-report.json"
    assert not report.exists() or "FAILURE" not in report.read_text()

    templates = sorted((tmp_path / "cdk.out").glob("*.template.json"))
    assert len(templates) == 1 + 3 * len(VALID_SAMPLES)
    ignore = ["W3005"]  # as .cfnlintrc.yaml: aws-cdk-lib's redundant DependsOn on roles
    findings = [
        f"{template.name}: {match}"
        for template in templates
        for match in lint(template.read_text(), config=ManualArgs(ignore_checks=ignore, regions=["eu-west-1"]))
    ]
    assert findings == []
