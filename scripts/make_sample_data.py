"""Writes the example models' sample data (``models/<name>/sample_data/``), which ``cdk-mlops run`` copies
into the local S3 at the model's data prefix. Deterministic: a fixed seed, fixed number formats, so
rerunning it changes no file.

- iris-sklearn: scikit-learn's bundled iris table (150 rows, label 0-2 first, no header) as the raw
  file its preprocessing job splits: ``sample_data/iris.csv``.
- churn-xgb: a synthetic churn table in the built-in XGBoost's CSV form (label first, no header) with
  the six features of its smoke-test payload: ``sample_data/{train,validation}/``.
- fraud-batch: synthetic card transactions in the column order of ``src/features.py`` (about 8 % fraud),
  ``sample_data/{train,validation}/``, plus unlabelled rows for its batch transform in
  ``sample_data/batch_input/`` (copied to the model's ``batch.input_prefix``).

Run it with an interpreter that has scikit-learn (for the iris table), e.g. the iris environment that
``cdk-mlops run iris-sklearn`` builds: ``<env>/bin/python scripts/make_sample_data.py [models dir]``.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

SEED = 20261201


def _write(path: Path, rows: Iterable[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(cell) for cell in row) + "\n" for row in rows), encoding="utf-8")


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


def iris_rows() -> list[list[object]]:
    """The 150 iris rows: species (0, 1, 2), then the four measurements in cm."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return [[int(label), *(f"{value:.1f}" for value in row)] for row, label in zip(data.data, data.target, strict=True)]


def churn_rows(count: int, rng: random.Random) -> list[list[object]]:
    """``churned, tenure_months, contract, paperless, support_calls, monthly_charges, products``; churn
    falls with tenure and a contract and rises with support calls and charges."""
    rows: list[list[object]] = []
    for _ in range(count):
        tenure = rng.randint(1, 72)
        contract = int(rng.random() < 0.5)
        paperless = int(rng.random() < 0.6)
        calls = min(int(rng.expovariate(0.5)), 9)
        charges = round(rng.uniform(20, 120), 1)
        products = rng.randint(1, 4)
        logit = 0.5 - 0.06 * tenure - 1.6 * contract + 0.4 * paperless + 0.55 * calls + 0.03 * (charges - 70)
        logit -= 0.3 * products
        label = int(rng.random() < _sigmoid(2.0 * logit))
        rows.append([label, tenure, contract, paperless, calls, f"{charges:.1f}", products])
    return rows


def fraud_features(rng: random.Random, fraud: bool) -> list[str]:
    """One transaction's features, as ``src/features.py`` writes them (a missing value is empty)."""
    amount = rng.lognormvariate(5.5 if fraud else 3.5, 1.0)
    hour = rng.choice([0, 1, 2, 3, 4, 23]) if fraud and rng.random() < 0.7 else rng.randint(6, 22)
    risk = min(max(rng.gauss(0.7 if fraud else 0.2, 0.15), 0.0), 1.0)
    distance = rng.expovariate(1 / (400 if fraud else 15))
    age = rng.randint(1, 60) if fraud else rng.randint(30, 3000)
    foreign = int(rng.random() < (0.6 if fraud else 0.05))
    risk_text = "" if rng.random() < 0.05 else f"{risk:.3f}"
    return [f"{math.log1p(amount):.4f}", str(hour), risk_text, f"{distance:.1f}", str(age), str(foreign)]


def fraud_rows(count: int, rng: random.Random) -> list[list[object]]:
    """``fraud``, then the six features; about 8 % fraud."""
    rows: list[list[object]] = []
    for _ in range(count):
        fraud = rng.random() < 0.08
        rows.append([int(fraud), *fraud_features(rng, fraud)])
    return rows


def main(models_dir: Path) -> None:
    """Writes every example model's sample data under ``models_dir``."""
    rng = random.Random(SEED)
    iris = models_dir / "iris-sklearn" / "sample_data"
    _write(iris / "iris.csv", iris_rows())
    churn = models_dir / "churn-xgb" / "sample_data"
    _write(churn / "train" / "train.csv", churn_rows(400, rng))
    _write(churn / "validation" / "validation.csv", churn_rows(150, rng))
    fraud = models_dir / "fraud-batch" / "sample_data"
    _write(fraud / "train" / "train.csv", fraud_rows(600, rng))
    _write(fraud / "validation" / "validation.csv", fraud_rows(250, rng))
    _write(fraud / "batch_input" / "transactions.csv", [row[1:] for row in fraud_rows(40, rng)])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "models")
