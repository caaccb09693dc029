"""Trains a random forest on the train channel (SageMaker scikit-learn script mode)."""

from __future__ import annotations  # the scikit-learn 1.2-1 container runs Python 3.8

import argparse
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier


def train(train_dir: Path, model_dir: Path, n_estimators: int, max_depth: int) -> RandomForestClassifier:
    data = pd.concat(pd.read_csv(path, header=None) for path in sorted(train_dir.glob("*.csv")))
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
    model.fit(data.iloc[:, 1:], data.iloc[:, 0])
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return model


def model_fn(model_dir: str) -> RandomForestClassifier:
    """Loads the model for SageMaker hosting."""
    return joblib.load(Path(model_dir) / "model.joblib")


def input_fn(request_body: bytes | str, content_type: str) -> np.ndarray:
    """One row per CSV line. The container's default parser makes a single line a 1-D array, which
    scikit-learn refuses ("Expected 2D array"; aws/sagemaker-scikit-learn-container#15)."""
    if content_type != "text/csv":
        raise ValueError(f"unsupported content type {content_type!r} (expected text/csv)")
    text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    return np.array([[float(cell) for cell in line.split(",")] for line in text.splitlines() if line.strip()])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_estimators", type=int, default=100)
    parser.add_argument("--max_depth", type=int, default=4)
    args = parser.parse_args()
    train(Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")),
          Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")), args.n_estimators, args.max_depth)
