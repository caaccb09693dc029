"""The feature rows the model trains on and the batch transform scores: same columns, label only in training."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
SPEC = importlib.util.spec_from_file_location("features", SRC / "features.py")
assert SPEC is not None and SPEC.loader is not None
features = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(features)

TRANSACTION = {
    "id": "t-1",
    "amount": 99.0,
    "hour": 3,
    "merchant_risk": 0.7,
    "distance_km": 1200,
    "card_age_days": 40,
    "foreign": True,
}


def test_batch_line_has_one_value_per_feature_and_no_label() -> None:
    values = features.batch_line(TRANSACTION).split(",")

    assert len(values) == len(features.FEATURES)
    assert [float(value) for value in values] == [pytest.approx(math.log1p(99.0)), 3, 0.7, 1200, 40, 1]


def test_training_line_is_the_label_then_the_batch_line() -> None:
    assert features.training_line(TRANSACTION, 1) == "1," + features.batch_line(TRANSACTION)
    assert features.training_line(TRANSACTION, 0).startswith("0,")


def test_missing_optional_features_are_left_empty_for_xgboost() -> None:
    line = features.batch_line({**TRANSACTION, "merchant_risk": None, "distance_km": ""})

    assert line.split(",")[2:4] == ["", ""]


@pytest.mark.parametrize(("field", "value"), [("amount", -1), ("hour", 24)])
def test_impossible_values_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValueError, match="t-1"):
        features.feature_row({**TRANSACTION, field: value})


def test_labels_other_than_0_and_1_are_refused() -> None:
    with pytest.raises(ValueError, match="label"):
        features.training_line(TRANSACTION, 2)


def test_batch_input_file_keeps_the_transaction_order(tmp_path: Path) -> None:
    transactions = [{**TRANSACTION, "id": f"t-{index}", "amount": index} for index in range(3)]

    ids = features.write_batch_input(transactions, tmp_path / "2026-11-30.csv")

    assert ids == ["t-0", "t-1", "t-2"]
    lines = (tmp_path / "2026-11-30.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["0", f"{math.log1p(1):g}", f"{math.log1p(2):g}"]
