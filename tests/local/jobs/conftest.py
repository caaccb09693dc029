"""Fixtures for the real local SageMaker jobs: a running engine with a LocalJobRunner, and model
environments (built with uv into the cache on first use; never skipped)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_testing import BUCKET, Harness

from cdk_mlops.local.engine import LocalEngine
from cdk_mlops.local.environments import ensure_environment
from cdk_mlops.local.jobs import LocalJobRunner


def _harness(python: Path, workspace: Path) -> Iterator[Harness]:
    lines: list[str] = []
    with (
        LocalEngine(execution_timeout_seconds=300) as engine,
        LocalJobRunner(python=python, workspace=workspace, on_line=lines.append) as runner,
    ):
        runner.install(engine)
        harness = Harness(engine, runner, lines)
        engine.s3_create_bucket(BUCKET)
        yield harness


@pytest.fixture
def stdlib_jobs(tmp_path: Path) -> Iterator[Harness]:
    """Jobs run with this interpreter (enough for scripts that need only the standard library)."""
    yield from _harness(Path(sys.executable), tmp_path / "ws")


def _environment(tmp_path_factory: pytest.TempPathFactory, framework: str, version: str, requirements: str) -> Path:
    folder = tmp_path_factory.mktemp(f"model-{framework}")
    (folder / "requirements.txt").write_text(requirements)
    return ensure_environment(folder, framework, version).python


@pytest.fixture(scope="session")
def sklearn_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scikit-learn 1.2 environment (as the sklearn 1.2-1 container), built once and cached."""
    return _environment(tmp_path_factory, "sklearn", "1.2-1", "joblib\n")


@pytest.fixture(scope="session")
def xgboost_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An XGBoost 1.7 environment (as the built-in xgboost 1.7-1 container), built once and cached."""
    return _environment(tmp_path_factory, "xgboost", "1.7-1", "")


@pytest.fixture
def sklearn_jobs(tmp_path: Path, sklearn_python: Path) -> Iterator[Harness]:
    """Jobs run with the scikit-learn environment."""
    yield from _harness(sklearn_python, tmp_path / "ws")


@pytest.fixture
def xgboost_jobs(tmp_path: Path, xgboost_python: Path) -> Iterator[Harness]:
    """Jobs run with the XGBoost environment."""
    yield from _harness(xgboost_python, tmp_path / "ws")
