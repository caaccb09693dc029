"""Scores the trained model on the validation set and writes evaluation.json for the quality gate."""

import json
import tarfile
from pathlib import Path

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, recall_score

ROOT = Path("/opt/ml/processing")


def evaluate(model, data: pd.DataFrame) -> dict:
    predictions = model.predict(data.iloc[:, 1:])
    truth = data.iloc[:, 0]
    return {
        "metrics": {
            "accuracy": float(accuracy_score(truth, predictions)),
            "macro_f1": float(f1_score(truth, predictions, average="macro")),
            "min_class_recall": float(min(recall_score(truth, predictions, average=None))),
        }
    }


def main() -> None:
    with tarfile.open(ROOT / "input/model/model.tar.gz") as archive:
        archive.extractall(ROOT / "model")
    model = joblib.load(ROOT / "model/model.joblib")
    data = pd.concat(pd.read_csv(path, header=None) for path in sorted((ROOT / "input/test").glob("*.csv")))
    out = ROOT / "output/evaluation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(evaluate(model, data)))


if __name__ == "__main__":
    main()
