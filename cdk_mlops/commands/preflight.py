"""Checks a command makes before it synthesizes anything: does the model it was given exist?

Synthesis takes seconds; a typo in a model name should cost none of them. The names come from a cheap
scan of ``<models dir>/*/model.yaml`` (each file's ``name``, read with the YAML parser alone, plus the
folder names), so a command answers in well under a second. A file that cannot be read counts by its
folder name: the full check that follows reports what is wrong with it.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from cdk_mlops.config.loader import MODEL_FILE_NAME

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The exit code of a command given a model or a scenario that does not exist (argparse's for usage errors).
USAGE_ERROR = 2


def model_names(models_dir: Path | str) -> list[str]:
    """The models of ``models_dir``: the ``name`` of every ``*/model.yaml`` that parses, and every folder
    that holds a model.yaml, sorted. Empty when the folder does not exist."""
    names: set[str] = set()
    for path in Path(models_dir).glob(f"*/{MODEL_FILE_NAME}"):
        names.add(path.parent.name)
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # a safe loader
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            names.add(data["name"])
    return sorted(names)


def unknown_model(models_dir: Path | str, model: str) -> str | None:
    """Why ``model`` is not a model of ``models_dir`` (with the known models and the closest name), or
    None when it is one."""
    names = model_names(models_dir)
    if model in names:
        return None
    if not Path(models_dir).is_dir():
        return f"unknown model {model!r}: the models folder {models_dir} does not exist (set it with --models-dir)"
    if not names:
        return (
            f"unknown model {model!r}: {models_dir} holds no <name>/{MODEL_FILE_NAME} (cdk-mlops new <name> makes one)"
        )
    close = difflib.get_close_matches(model, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown model {model!r} (known models: {', '.join(names)}){hint}"


def reject_unknown_model(models_dir: Path | str, model: str, err: TextIO | None = None) -> int | None:
    """Prints ``error: <why>`` to ``err`` (default stderr) and returns :data:`USAGE_ERROR` when ``model``
    is not a model of ``models_dir``; returns None when it is."""
    problem = unknown_model(models_dir, model)
    if problem is None:
        return None
    print(f"error: {problem}", file=err or sys.stderr, flush=True)
    return USAGE_ERROR
