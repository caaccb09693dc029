"""The built-in XGBoost stand-in's training, run with the model environment's Python (see
``xgboost_builtin``). Needs only the standard library, numpy and xgboost."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import xgboost as xgb

ROOT = Path(os.environ.get("SM_INPUT_DIR", "/opt/ml/input")).parent
CONFIG = ROOT / "input" / "config"
#: Metrics the container computes itself (XGBoost has no such eval_metric).
CUSTOM = ("accuracy", "f1", "f1_binary", "precision", "recall", "r2", "mse", "balanced_accuracy")
#: Hyperparameters of the container, not of xgboost.train's params.
NOT_PARAMS = (
    "num_round",
    "early_stopping_rounds",
    "csv_weights",
    "save_model_on_termination",
    "_kfold",
    "_num_cv_round",
    "tuning_objective_metric",
    "_tuning_objective_metric",
    "eval_metric",
)


def fail(message: str) -> NoReturn:
    (ROOT / "output").mkdir(parents=True, exist_ok=True)
    (ROOT / "output" / "failure").write_text(message)
    print(message, file=sys.stderr)
    sys.exit(2)


def number(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def load(channel: str, content_type: str | None) -> Any:
    folder = ROOT / "input" / "data" / channel
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))
    if not files:
        fail(f"ClientError: channel {channel!r} has no files")
    kind = (content_type or "text/libsvm").split(";")[0].strip().lower()
    if kind in ("text/csv", "csv"):
        rows = []
        for path in files:
            for number_, line in enumerate(path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    rows.append([float(cell) if cell.strip() else float("nan") for cell in line.split(",")])
                except ValueError:
                    fail(
                        f"ClientError: {channel} channel, {path.name} line {number_}: not numeric CSV "
                        f"(the built-in XGBoost reads CSV without a header, label first): {line[:80]!r}"
                    )
        data = np.array(rows, dtype=float)
        return xgb.DMatrix(data[:, 1:], label=data[:, 0])
    if kind in ("text/libsvm", "libsvm", "text/x-libsvm"):
        matrices = [xgb.DMatrix(f"{path}?format=libsvm") for path in files]
        if len(matrices) == 1:
            return matrices[0]
        fail(f"ClientError: channel {channel!r}: the local stand-in reads one libsvm file per channel")
    fail(
        f"ClientError: channel {channel!r}: content type {content_type!r} is not supported locally "
        f"(text/csv or text/libsvm)"
    )


def custom_metric(name: str, predictions: Any, labels: Any, objective: str) -> float:
    binary = objective.startswith("binary:")
    if objective.startswith("multi:softprob"):
        predicted = predictions.reshape(len(labels), -1).argmax(axis=1)
    elif binary and objective != "binary:hinge":
        predicted = (predictions > 0.5).astype(float)
    else:
        predicted = np.round(predictions)
    if name == "accuracy":
        return float((predicted == labels).mean())
    if name == "balanced_accuracy":
        return float(np.mean([(predicted[labels == c] == c).mean() for c in np.unique(labels)]))
    if name in ("precision", "recall", "f1", "f1_binary"):
        tp = float(((predicted == 1) & (labels == 1)).sum())
        precision = tp / max(float((predicted == 1).sum()), 1.0)
        recall = tp / max(float((labels == 1).sum()), 1.0)
        if name == "precision":
            return precision
        if name == "recall":
            return recall
        return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    if name == "mse":
        return float(np.mean((predictions - labels) ** 2))
    if name == "r2":
        total = float(np.sum((labels - labels.mean()) ** 2))
        return 0.0 if total == 0 else 1 - float(np.sum((predictions - labels) ** 2)) / total
    raise ValueError(name)


def main() -> None:
    hyperparameters = json.loads((CONFIG / "hyperparameters.json").read_text())
    channels = json.loads((CONFIG / "inputdataconfig.json").read_text())
    if "num_round" not in hyperparameters:
        fail("ClientError: Missing required hyperparameter: num_round")
    if "train" not in channels:
        fail("ClientError: the built-in XGBoost needs a 'train' channel")
    metrics = [m.strip() for m in str(hyperparameters.get("eval_metric", "")).split(",") if m.strip()]
    params: dict[str, Any] = {key: number(value) for key, value in hyperparameters.items() if key not in NOT_PARAMS}
    objective = str(params.get("objective", "reg:squarederror"))
    native = [m for m in metrics if m not in CUSTOM]
    custom = [m for m in metrics if m in CUSTOM]
    if native:
        params["eval_metric"] = native
    elif custom:
        params["disable_default_eval_metric"] = 1
    watch = [
        (load(name, channels[name].get("ContentType")), name) for name in ("train", "validation") if name in channels
    ]

    def feval(predictions: Any, dmatrix: Any) -> list[tuple[str, float]]:
        return [(name, custom_metric(name, predictions, dmatrix.get_label(), objective)) for name in custom]

    extra: dict[str, Any] = {}
    if custom:
        extra["custom_metric" if xgb.__version__ >= "1.6" else "feval"] = feval
    if "early_stopping_rounds" in hyperparameters and len(watch) > 1:
        extra["early_stopping_rounds"] = int(hyperparameters["early_stopping_rounds"])
    booster = xgb.train(
        params, watch[0][0], num_boost_round=int(hyperparameters["num_round"]), evals=watch, verbose_eval=True, **extra
    )
    model_dir = ROOT / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "xgboost-model"))


if __name__ == "__main__":
    main()
