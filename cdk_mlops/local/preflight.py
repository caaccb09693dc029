"""Checks ``cdk-mlops run`` makes before anything runs: mistakes that pass synthesis and every dry run but
would each cost a cloud round trip to find.

- a script model.yaml names (``training.entry_point``, ``preprocessing.script``, ``evaluation.job.script``,
  ``drift.script``) that is not in the model's ``src/`` folder, which the build stage packages, and a
  ``source.path`` that is not the model's own folder (pushes to it start the pipeline, and the build
  runs there): the folder checks of ``cdk-mlops validate`` (:mod:`cdk_mlops.plan`), reused;
- sample data missing for a channel the run reads (``sample_data/<channel>/``; with preprocessing, any
  file under ``sample_data/``; a batch model's transform input in ``sample_data/batch_input/``);
- a quality-gate metric the built-in XGBoost algorithm never emits (``validation:acuracy``, or
  ``validation:auc`` when ``eval_metric`` asks for ``aucpr`` only).

Each problem names the file, the field and the value. Pure Python: no synthesis, no engine.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from cdk_mlops.config.loader import MODEL_FILE_NAME, did_you_mean
from cdk_mlops.config.model_config import ModelConfig

__all__ = [
    "BATCH_INPUT_FOLDER",
    "SAMPLE_DATA_FOLDER",
    "SOURCE_FOLDER",
    "PreflightError",
    "PreflightProblem",
    "builtin_metric_problems",
    "preflight",
    "raise_for_problems",
]

#: The folder of a model's code, which the build stage packages as ``sourcedir.tar.gz``.
SOURCE_FOLDER = "src"
#: The folder mirroring the model's data prefix (``s3://<data bucket>/<data prefix>``).
SAMPLE_DATA_FOLDER = "sample_data"
#: Inside :data:`SAMPLE_DATA_FOLDER`: a batch model's transform input (copied to ``batch.input_prefix``).
BATCH_INPUT_FOLDER = "batch_input"


@dataclasses.dataclass(frozen=True)
class PreflightProblem:
    """One mistake found before the run: the file it is in, the field, the value and why it is wrong."""

    file: Path
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field} {self.value!r}: {self.reason}"


class PreflightError(ValueError):
    """The model cannot run: every :class:`PreflightProblem` found, one per line."""

    def __init__(self, problems: Sequence[PreflightProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []


def folder_problems(model_dir: Path, config: ModelConfig) -> list[PreflightProblem]:
    """The model's folder name, ``source.path`` and the ``src/`` files model.yaml names: the checks
    ``cdk-mlops validate`` makes (:mod:`cdk_mlops.plan`), as pre-flight problems."""
    from cdk_mlops.plan import folder_problems  # one implementation for validate and run

    path = model_dir / MODEL_FILE_NAME
    return [_problem(path, text) for text in folder_problems(path, config)]


def _problem(path: Path, text: str) -> PreflightProblem:
    """A plan problem (``<field>: <reason> (got <value>)``) as a :class:`PreflightProblem`."""
    match = re.fullmatch(r"(?s)([^:]+): (.*?)(?: \(got (.*)\))?", text)
    if match is None:
        return PreflightProblem(path, "<file>", None, text)
    field, reason, got = match.groups()
    value: object = got
    if got is not None:
        try:
            value = ast.literal_eval(got)
        except (ValueError, SyntaxError):
            value = got
    return PreflightProblem(path, field, value, reason)


def sample_data_problems(model_dir: Path, config: ModelConfig) -> list[PreflightProblem]:
    """Channels the run reads without a file under ``<model_dir>/sample_data/``."""
    sample = model_dir / SAMPLE_DATA_FOLDER
    problems = []
    if config.preprocessing is not None:
        raw = [path for path in _files(sample) if BATCH_INPUT_FOLDER not in path.relative_to(sample).parts[:1]]
        if not raw:
            problems.append(
                PreflightProblem(
                    sample,
                    "preprocessing.script",
                    config.preprocessing.script,
                    "reads the whole data prefix, but the sample data folder holds no file",
                )
            )
    else:
        for channel in config.data.channels:
            if not _files(sample / channel):
                problems.append(
                    PreflightProblem(
                        sample / channel,
                        "data.channels",
                        channel,
                        f"no sample data for this channel (put a few files in {sample / channel})",
                    )
                )
    if config.inference == "batch" and not _files(sample / BATCH_INPUT_FOLDER):
        input_prefix, _ = _batch_prefixes(config)
        problems.append(
            PreflightProblem(
                sample / BATCH_INPUT_FOLDER,
                "batch.input_prefix",
                input_prefix,
                f"no sample batch input (put a few files in {sample / BATCH_INPUT_FOLDER})",
            )
        )
    return problems


def _batch_prefixes(config: ModelConfig) -> tuple[str, str]:
    from cdk_mlops.config.model_config import BatchConfig

    return (config.batch or BatchConfig()).prefixes(config.name)


def builtin_metric_problems(
    model_dir: Path, config: ModelConfig, emitted: Sequence[str] | None = None
) -> list[PreflightProblem]:
    """Gate metrics read from the training job that the built-in XGBoost algorithm never emits.

    ``emitted`` is what the training job reports (default: what
    :func:`cdk_mlops.local.jobs.xgboost_metrics.emitted_metric_names` says the algorithm emits for
    these channels and hyperparameters). Only built-in XGBoost models whose gate reads training metrics are
    checked: a script-mode model's metrics are its own ``metric_definitions``, already checked."""
    builtin = config.framework.name == "xgboost" and not config.training.entry_point
    if not builtin or config.evaluation.source != "training_metrics":
        return []
    if emitted is None:
        from cdk_mlops.local.jobs.xgboost_metrics import emitted_metric_names

        emitted = emitted_metric_names(config.training.hyperparameters, config.data.channels)
    names = list(emitted)
    return [
        PreflightProblem(
            model_dir / MODEL_FILE_NAME,
            "quality_gate.metric",
            rule.metric,
            "the built-in XGBoost algorithm never emits it with these channels and hyperparameters "
            f"(it emits {', '.join(names)}){did_you_mean(rule.metric, names)}",
        )
        for rule in config.quality_gate
        if rule.metric not in names
    ]


def preflight(model_dir: Path | str, config: ModelConfig) -> list[PreflightProblem]:
    """Every problem :mod:`this module <cdk_mlops.local.preflight>` checks for, in the model in
    ``model_dir`` (the folder of its model.yaml) with configuration ``config``; empty when it can run."""
    folder = Path(model_dir)
    return [
        *folder_problems(folder, config),
        *sample_data_problems(folder, config),
        *builtin_metric_problems(folder, config),
    ]


def raise_for_problems(model_dir: Path | str, config: ModelConfig) -> None:
    """Raises :class:`PreflightError` listing every problem :func:`preflight` finds."""
    problems = preflight(model_dir, config)
    if problems:
        raise PreflightError(problems)
