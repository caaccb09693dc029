"""The model.yaml the pipeline builds from: its batch section matches what src/features.py writes."""

from __future__ import annotations

from pathlib import Path

import yaml

CONFIG = yaml.safe_load((Path(__file__).resolve().parent.parent / "model.yaml").read_text())


def test_the_model_is_scored_in_batch_from_csv_lines() -> None:
    batch = CONFIG["batch"]

    assert CONFIG["inference"] == "batch"
    assert "endpoints" not in CONFIG  # batch models host no endpoint
    assert batch["content_type"] == "text/csv"
    assert batch["split_type"] == "Line"  # one transaction per line, as features.write_batch_input writes
    assert batch["assemble_with"] == "Line"  # one score per line, so scores.flagged pairs them by position


def test_requests_in_flight_stay_within_sagemakers_payload_limit() -> None:
    batch = CONFIG["batch"]

    assert batch["max_concurrent_transforms"] * batch["max_payload_mb"] <= 100


def test_results_are_written_outside_the_input_prefix() -> None:
    batch = CONFIG["batch"]

    assert not batch["output_prefix"].startswith(batch["input_prefix"])
