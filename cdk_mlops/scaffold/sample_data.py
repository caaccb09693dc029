"""The sample data of a scaffolded model: a small, seeded, binary classification problem that every
template learns well (a quality gate of 0.8 accuracy or 0.75 AUC passes), in the layout ``cdk-mlops run``
reads (``sample_data/`` mirrors ``s3://<data bucket>/<data prefix>``).

Rows are CSV without a header, the label (0 or 1) first, then :data:`FEATURES` numbers: the format of
SageMaker's built-in XGBoost algorithm, which the script templates read too. The batch input has the
features only, as a transform job sends them to the model.
"""

from __future__ import annotations

import random
from pathlib import Path

FEATURES = 4
#: Rows per file: enough for a stable score, small enough to train in a second.
ROWS = {"train": 240, "validation": 80, "batch_input": 20}
#: The smoke test's request: one row of features.
SMOKE_TEST_PAYLOAD = "0.5,-1.2,0.3,0.8"
SEED = 20261201


def _row(generator: random.Random) -> tuple[int, list[float]]:
    features = [round(generator.gauss(0.0, 1.0), 3) for _ in range(FEATURES)]
    score = 1.5 * features[0] - features[1] + 0.5 * features[2] + generator.gauss(0.0, 0.4)
    return (1 if score > 0 else 0), features


def rows(name: str, count: int, *, labelled: bool = True) -> list[str]:
    """``count`` CSV lines for the file ``name`` (its own seed): ``label,f1,...`` or ``f1,...``."""
    generator = random.Random(f"{SEED}-{name}")
    lines = []
    for _ in range(count):
        label, features = _row(generator)
        cells = [str(label)] * labelled + [f"{value:g}" for value in features]
        lines.append(",".join(cells))
    return lines


def write_sample_data(folder: Path, *, batch: bool = False) -> list[str]:
    """Writes ``sample_data/train/train.csv`` and ``sample_data/validation/validation.csv`` (and, for a
    batch model, ``sample_data/batch_input/records.csv``) under ``folder``; returns their paths relative
    to it."""
    files = {"train": "train/train.csv", "validation": "validation/validation.csv"}
    if batch:
        files["batch_input"] = "batch_input/records.csv"
    written = []
    for name, relative in files.items():
        path = folder / "sample_data" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows(name, ROWS[name], labelled=name != "batch_input")) + "\n", encoding="utf-8")
        written.append(f"sample_data/{relative}")
    return written
