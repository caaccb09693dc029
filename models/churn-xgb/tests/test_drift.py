"""The example drift script: PSI of captured requests against the training data."""

from __future__ import annotations

import base64
import importlib.util
import json
import random
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("drift", Path(__file__).resolve().parent.parent / "src" / "drift.py")
assert SPEC is not None and SPEC.loader is not None
drift = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(drift)


def _write(root: Path, shift: float) -> None:
    rng = random.Random(7)
    baseline = root / "input" / "baseline"
    captured = root / "input" / "captured" / "2026" / "11"
    baseline.mkdir(parents=True)
    captured.mkdir(parents=True)
    rows = [f"{rng.randint(0, 1)},{rng.gauss(40, 10):.3f},{rng.gauss(5, 2):.3f}" for _ in range(2000)]
    (baseline / "train.csv").write_text("\n".join(rows) + "\n")
    lines = []
    for index in range(500):
        body = f"{rng.gauss(40 + shift, 10):.3f},{rng.gauss(5, 2):.3f}"
        data = {"data": base64.b64encode(body.encode()).decode(), "encoding": "BASE64"}
        if index % 2:
            data = {"data": body, "encoding": "CSV"}
        lines.append(json.dumps({"captureData": {"endpointInput": {"observedContentType": "text/csv", **data}}}))
    (captured / "capture.jsonl").write_text("\n".join(lines) + "\n")


def test_same_distribution_scores_low(tmp_path: Path) -> None:
    _write(tmp_path, shift=0)
    report = drift.main(tmp_path)
    assert report["drift_score"] < 0.1
    assert json.loads((tmp_path / "output" / "drift" / "drift.json").read_text()) == report


def test_shifted_feature_scores_above_the_threshold(tmp_path: Path) -> None:
    _write(tmp_path, shift=15)
    report = drift.main(tmp_path)
    assert report["drift_score"] > 0.2
    assert report["features"]["f0"] == report["drift_score"]
    assert report["features"]["f1"] < 0.1


def test_no_captured_inputs_scores_zero(tmp_path: Path) -> None:
    (tmp_path / "input" / "baseline").mkdir(parents=True)
    (tmp_path / "input" / "baseline" / "train.csv").write_text("1,2,3\n0,4,5\n")
    assert drift.main(tmp_path)["drift_score"] == 0.0
