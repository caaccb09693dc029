"""Feature rows of fraud-batch: one CSV line per card transaction, in the column order the model is
trained on. Standard library only.

SageMaker's built-in XGBoost reads CSV without a header. Training lines start with the label (1 for
fraud); batch transform input lines have no label, and the transform writes one score per input line,
in the same order (``batch.split_type: Line``, ``assemble_with: Line``), so ``scores.py`` can pair each
score with its transaction again.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: The model's features, in column order.
FEATURES = ("amount", "hour", "merchant_risk", "distance_km", "card_age_days", "foreign")


def feature_row(transaction: Mapping[str, Any]) -> list[float]:
    """The features of one transaction. ``amount`` is log-scaled (``log1p``); ``foreign`` is 0 or 1;
    a missing ``merchant_risk`` or ``distance_km`` is NaN, which XGBoost treats as missing."""
    amount = float(transaction["amount"])
    if amount < 0:
        raise ValueError(f"transaction {transaction.get('id')!r}: negative amount {amount}")
    hour = int(transaction["hour"])
    if not 0 <= hour <= 23:
        raise ValueError(f"transaction {transaction.get('id')!r}: hour {hour} is not 0 to 23")
    return [
        round(math.log1p(amount), 6),
        float(hour),
        _optional(transaction.get("merchant_risk")),
        _optional(transaction.get("distance_km")),
        float(transaction["card_age_days"]),
        1.0 if transaction.get("foreign") else 0.0,
    ]


def _optional(value: Any) -> float:
    return math.nan if value is None or value == "" else float(value)


def _csv_line(values: Iterable[float]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow("" if math.isnan(value) else f"{value:g}" for value in values)
    return buffer.getvalue()


def training_line(transaction: Mapping[str, Any], label: int) -> str:
    """A training CSV line: the label (0 or 1), then the features."""
    if label not in (0, 1):
        raise ValueError(f"label must be 0 or 1 (got {label!r})")
    return _csv_line([float(label), *feature_row(transaction)])


def batch_line(transaction: Mapping[str, Any]) -> str:
    """A batch transform input line: the features only."""
    return _csv_line(feature_row(transaction))


def write_batch_input(transactions: Iterable[Mapping[str, Any]], path: Path) -> list[str]:
    """Writes one batch input file (a line per transaction) and returns the transaction ids in line order."""
    ids = []
    lines = []
    for transaction in transactions:
        ids.append(str(transaction["id"]))
        lines.append(batch_line(transaction))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return ids
