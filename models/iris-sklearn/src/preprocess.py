"""Splits the raw iris CSV into train and validation sets (runs in a SageMaker processing job)."""

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = Path("/opt/ml/processing")


def main() -> None:
    frames = [pd.read_csv(path, header=None) for path in sorted((ROOT / "input/raw").rglob("*.csv"))]
    data = pd.concat(frames)
    train, validation = train_test_split(data, test_size=0.2, random_state=0, stratify=data[0])
    for name, frame in (("train", train), ("validation", validation)):
        out = ROOT / "output" / name
        out.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / f"{name}.csv", header=False, index=False)


if __name__ == "__main__":
    main()
