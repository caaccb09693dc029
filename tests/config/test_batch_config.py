"""Batch models (``inference: batch``) in model.yaml: the ``batch`` section's defaults, and every rule,
each refused through the loader with the file, the field and the value received."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.config import BatchConfig, ModelConfigError, load_model_config
from cdk_mlops_testing import example_config_data, write_model


@pytest.fixture
def fraud() -> dict[str, Any]:
    """The fraud-batch example configuration, free to modify."""
    return example_config_data("fraud-batch")


def problems_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    """The problems the loader reports for ``data``, after checking that the message names the file."""
    path = write_model(tmp_path, "fraud-batch", data)
    with pytest.raises(ModelConfigError) as raised:
        load_model_config(path)
    assert str(raised.value).startswith(f"invalid model configuration {path}:")
    return raised.value.problems


def test_the_example_batch_model_loads_with_its_batch_section(tmp_path: Path, fraud: dict[str, Any]) -> None:
    config = load_model_config(write_model(tmp_path, "fraud-batch", fraud))

    assert config.inference == "batch"
    assert config.batch_settings == BatchConfig(
        input_prefix="fraud-batch/batch/input/",
        output_prefix="fraud-batch/batch/output/",
        instance_type="ml.m5.xlarge",
        instance_count=2,
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        batch_strategy="MultiRecord",
        assemble_with="Line",
        max_payload_mb=6,
        max_concurrent_transforms=4,
        schedule="cron(0 2 * * ? *)",
        date_partition=True,
    )


def test_models_are_endpoint_models_unless_they_say_batch(tmp_path: Path) -> None:
    config = load_model_config(write_model(tmp_path, "churn-xgb", example_config_data("churn-xgb")))

    assert config.inference == "endpoint"
    assert config.batch is None


def test_a_batch_model_without_a_batch_section_gets_every_default(tmp_path: Path, fraud: dict[str, Any]) -> None:
    del fraud["batch"]
    fraud["data"]["content_type"] = "application/x-recordio-protobuf"

    config = load_model_config(write_model(tmp_path, "fraud-batch", fraud))

    assert config.batch is None
    assert config.batch_settings == BatchConfig(
        input_prefix="fraud-batch/batch/input/",
        output_prefix="fraud-batch/batch/output/",
        instance_type="ml.m5.large",
        instance_count=1,
        content_type="application/x-recordio-protobuf",  # data.content_type
        accept="application/x-recordio-protobuf",  # the content type
        split_type="Line",
        batch_strategy="MultiRecord",
        assemble_with="Line",
        max_payload_mb=6,
        max_concurrent_transforms=None,
        schedule=None,
        date_partition=False,
    )


def test_accept_defaults_to_the_given_content_type(tmp_path: Path, fraud: dict[str, Any]) -> None:
    fraud["batch"] = {"content_type": "application/jsonlines"}

    settings = load_model_config(write_model(tmp_path, "fraud-batch", fraud)).batch_settings

    assert (settings.content_type, settings.accept) == ("application/jsonlines", "application/jsonlines")


def test_a_batch_section_on_an_endpoint_model_is_refused(tmp_path: Path) -> None:
    churn = example_config_data("churn-xgb")
    churn["batch"] = {"instance_count": 2}

    assert problems_of(tmp_path, churn) == [
        "batch: only applies to batch models; set inference: batch (inference is 'endpoint') (got {'instance_count': 2})"
    ]


@pytest.mark.parametrize(
    ("section", "value", "instead"),
    [
        ("endpoints", {"production": {"instance_count": 2}}, "set the transform job's instances in batch"),
        ("smoke_test", {"payload": "1,2,3"}, "the manual approval gates the batch transform instead"),
        ("drift", {"schedule": "rate(1 day)"}, "there are no captured requests to compare with the training data"),
    ],
)
def test_endpoint_sections_are_refused_for_a_batch_model(
    tmp_path: Path, fraud: dict[str, Any], section: str, value: dict[str, Any], instead: str
) -> None:
    fraud[section] = value

    [problem] = problems_of(tmp_path, fraud)

    assert problem.startswith(
        f"{section}: does not apply to batch models (inference: batch): they host no endpoint; {instead}"
    )
    assert problem.endswith(f"(got {value!r})")


def test_an_unknown_inference_mode_is_refused(tmp_path: Path, fraud: dict[str, Any]) -> None:
    fraud["inference"] = "streaming"

    assert problems_of(tmp_path, fraud) == ["inference: Input should be 'endpoint' or 'batch' (got 'streaming')"]


def test_more_than_100_mb_in_flight_is_refused(tmp_path: Path, fraud: dict[str, Any]) -> None:
    fraud["batch"]["max_concurrent_transforms"] = 20  # x 6 MB

    assert problems_of(tmp_path, fraud) == [
        "batch.max_concurrent_transforms: x max_payload_mb (6) = 120 MB, above SageMaker's limit of 100 MB for "
        "MaxConcurrentTransforms x MaxPayloadInMB (got 20)"
    ]


def test_exactly_100_mb_in_flight_is_allowed(tmp_path: Path, fraud: dict[str, Any]) -> None:
    fraud["batch"].update(max_concurrent_transforms=4, max_payload_mb=25)

    settings = load_model_config(write_model(tmp_path, "fraud-batch", fraud)).batch_settings

    assert (settings.max_concurrent_transforms, settings.max_payload_mb) == (4, 25)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_payload_mb", 101, "Input should be less than or equal to 100"),
        ("instance_count", 0, "Input should be greater than or equal to 1"),
        ("instance_count", 101, "Input should be less than or equal to 100"),
        ("max_concurrent_transforms", 0, "Input should be greater than or equal to 1"),
        (
            "instance_type",
            "m5.large",
            "must be a SageMaker instance type of the form 'ml.<family>.<size>', e.g. 'ml.m5.large'",
        ),
        ("split_type", "Lines", "Input should be 'Line', 'None', 'RecordIO' or 'TFRecord'; did you mean 'Line'?"),
        ("batch_strategy", "Multi", "Input should be 'MultiRecord' or 'SingleRecord'; did you mean 'MultiRecord'?"),
        ("assemble_with", "RecordIO", "Input should be 'Line' or 'None'"),
        (
            "schedule",
            "every night",
            "must be an EventBridge Scheduler expression: 'rate(<n> <minutes|hours|days>)', 'cron(<6 fields>)' or "
            "'at(yyyy-mm-ddThh:mm:ss)'",
        ),
        (
            "schedule",
            "rate(1 days)",
            "rate() takes a singular unit for 1 and a plural one otherwise, e.g. 'rate(1 day)'",
        ),
        (
            "input_prefix",
            "/fraud-batch/in/",
            "must be an S3 key prefix ending with '/' (letters, digits and !_.'()/-, no leading '/')",
        ),
        (
            "output_prefix",
            "fraud-batch/out",
            "must be an S3 key prefix ending with '/' (letters, digits and !_.'()/-, no leading '/')",
        ),
        (
            "output_prefix",
            "fraud-batch/*/",
            "must be an S3 key prefix ending with '/' (letters, digits and !_.'()/-, no leading '/')",
        ),
        ("workers", 3, None),
    ],
)
def test_invalid_batch_fields_are_refused_naming_field_and_value(
    tmp_path: Path, fraud: dict[str, Any], field: str, value: Any, message: str | None
) -> None:
    fraud["batch"][field] = value

    expected = (
        f"batch.{field}: is not a known field (got {value!r})"
        if message is None
        else (f"batch.{field}: {message} (got {value!r})")
    )
    assert problems_of(tmp_path, fraud) == [expected]


@pytest.mark.parametrize(
    ("input_prefix", "output_prefix"),
    [
        ("fraud-batch/batch/", "fraud-batch/batch/results/"),  # results inside the input
        ("fraud-batch/batch/input/", "fraud-batch/batch/input/"),  # the same prefix
        ("fraud-batch/batch/input/new/", "fraud-batch/batch/input/"),  # input inside the results
    ],
)
def test_results_written_where_the_next_run_reads_its_input_are_refused(
    tmp_path: Path, fraud: dict[str, Any], input_prefix: str, output_prefix: str
) -> None:
    fraud["batch"].update(input_prefix=input_prefix, output_prefix=output_prefix)

    assert problems_of(tmp_path, fraud) == [
        f"batch.output_prefix: overlaps batch.input_prefix ({input_prefix}) in the artifact bucket: every run "
        f"would read the results of the runs before it (got {output_prefix!r})"
    ]


def test_overlapping_prefixes_are_fine_when_the_input_lives_in_the_data_bucket(
    tmp_path: Path, fraud: dict[str, Any]
) -> None:
    fraud["data"]["bucket"] = "fraud-landing-zone"
    fraud["batch"].update(input_prefix="fraud-batch/batch/", output_prefix="fraud-batch/batch/")

    config = load_model_config(write_model(tmp_path, "fraud-batch", fraud))

    assert config.batch_settings.input_prefix == config.batch_settings.output_prefix == "fraud-batch/batch/"
