"""Input drift of churn-xgb: population stability index (PSI) between the training data and the inputs
the production endpoint captured. Standard library only (runs in the built-in XGBoost image).

Inputs (SageMaker processing channels):
  /opt/ml/processing/input/baseline  training CSV files (label in the first column, no header)
  /opt/ml/processing/input/captured  SageMaker data-capture JSON Lines files (CSV request bodies)
Output:
  /opt/ml/processing/output/drift/drift.json  {"drift_score": <max PSI over features>, "features": {...}}

PSI per feature over ten quantile bins of the training values: sum((a - e) * ln(a / e)) with expected
share e and actual share a (each floored at 0.0001). Below 0.1 is stable, 0.1 to 0.2 a moderate shift,
above 0.2 a significant one. With no captured inputs the score is 0.
"""

from __future__ import annotations

import base64
import bisect
import csv
import io
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

ROOT = Path(os.environ.get("PROCESSING_ROOT", "/opt/ml/processing"))
BINS = 10
FLOOR = 1e-4


def _files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from sorted(path for path in folder.rglob("*") if path.is_file())


def _numbers(row: Sequence[str]) -> list[float] | None:
    try:
        return [float(cell) for cell in row]
    except ValueError:
        return None


def baseline_rows(folder: Path) -> list[list[float]]:
    """Feature rows of the training CSVs (the first column, the label, is dropped)."""
    rows = []
    for path in _files(folder):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                values = _numbers(row)
                if values and len(values) > 1:
                    rows.append(values[1:])
    return rows


def _capture_body(record: dict) -> str | None:
    data = record.get("captureData", {}).get("endpointInput", {})
    body = data.get("data")
    if body is None:
        return None
    if data.get("encoding") == "BASE64":
        return base64.b64decode(body).decode("utf-8")
    return str(body)


def captured_rows(folder: Path) -> list[list[float]]:
    """Feature rows of the CSV request bodies in SageMaker data-capture files (JSON Lines)."""
    rows = []
    for path in _files(folder):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            body = _capture_body(json.loads(line))
            if body is None:
                continue
            for row in csv.reader(io.StringIO(body)):
                values = _numbers(row)
                if values:
                    rows.append(values)
    return rows


def _edges(values: Sequence[float], bins: int = BINS) -> list[float]:
    ordered = sorted(values)
    cuts = {ordered[min(len(ordered) - 1, (len(ordered) * i) // bins)] for i in range(1, bins)}
    return sorted(cuts)


def _shares(values: Iterable[float], edges: Sequence[float]) -> list[float]:
    counts = [0] * (len(edges) + 1)
    total = 0
    for value in values:
        counts[bisect.bisect_right(edges, value)] += 1
        total += 1
    return [max(count / total, FLOOR) if total else FLOOR for count in counts]


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of ``actual`` against ``expected`` (bins from ``expected``)."""
    if not expected or not actual:
        return 0.0
    edges = _edges(expected)
    return sum((a - e) * math.log(a / e) for e, a in zip(_shares(expected, edges), _shares(actual, edges), strict=True))


def drift(baseline: list[list[float]], captured: list[list[float]]) -> dict:
    """``{"drift_score": <max PSI>, "features": {"f<i>": <PSI>}}`` over the features both sides have."""
    width = min((len(row) for row in baseline + captured), default=0)
    features = {
        f"f{index}": round(psi([row[index] for row in baseline], [row[index] for row in captured]), 6)
        for index in range(width)
    }
    return {"drift_score": max(features.values(), default=0.0), "features": features}


def main(root: Path = ROOT) -> dict:
    report = drift(baseline_rows(root / "input" / "baseline"), captured_rows(root / "input" / "captured"))
    output = root / "output" / "drift"
    output.mkdir(parents=True, exist_ok=True)
    (output / "drift.json").write_text(json.dumps(report), encoding="utf-8")
    print(json.dumps(report), file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
