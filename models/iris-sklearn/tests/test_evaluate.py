"""The model author's own tests: run by the pipeline's BuildAndTest stage before anything trains."""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from evaluate import evaluate


class AlwaysSetosa:
    def predict(self, features):
        return ["setosa"] * len(features)


def test_a_model_that_ignores_two_classes_has_zero_minimum_recall():
    data = pd.DataFrame([["setosa", 1.0], ["versicolor", 2.0], ["virginica", 3.0]])
    report = evaluate(AlwaysSetosa(), data)
    assert report["metrics"]["min_class_recall"] == 0.0
    assert abs(report["metrics"]["accuracy"] - 1 / 3) < 1e-9
