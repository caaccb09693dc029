"""Per-model environments of ``cdk-mlops run``: the framework pinned at its container version, cached by a
hash of the inputs outside the project's venv, built once even when two runs ask at the same time."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cdk_mlops.local.environments import (
    Environment,
    EnvironmentBuildError,
    default_cache_dir,
    ensure_environment,
    environment_key,
    framework_requirements,
)


def test_scikit_learn_1_2_1_is_pinned_to_1_2_with_numpy_1() -> None:
    assert framework_requirements("sklearn", "1.2-1") == (["scikit-learn==1.2.*", "numpy<2"], [])


def test_newer_scikit_learn_keeps_numpy_unpinned() -> None:
    assert framework_requirements("sklearn", "1.4-2") == (["scikit-learn==1.4.*"], [])


def test_xgboost_1_7_1_is_pinned_to_1_7() -> None:
    assert framework_requirements("xgboost", "1.7-1") == (["xgboost==1.7.*"], [])


def test_a_custom_image_pins_nothing_and_says_so() -> None:
    requirements, notes = framework_requirements("custom", None)

    assert requirements == []
    assert notes == ["framework 'custom': no package to install (its image is not reproduced locally)"]


def test_the_key_ignores_comments_and_order_but_not_versions() -> None:
    key = environment_key("pandas>=1.5\njoblib\n", ["scikit-learn==1.2.*"], "3.11.7")

    assert environment_key("# ours\njoblib\n\npandas>=1.5  # data\n", ["scikit-learn==1.2.*"], "3.11.7") == key
    assert environment_key("pandas>=1.5\njoblib\n", ["scikit-learn==1.3.*"], "3.11.7") != key
    assert environment_key("pandas>=1.5\njoblib\n", ["scikit-learn==1.2.*"], "3.12.1") != key


def test_the_default_cache_is_outside_the_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CDK_MLOPS_ENV_CACHE", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "cdk-mlops" / "envs"
    monkeypatch.setenv("CDK_MLOPS_ENV_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path


def _model(tmp_path: Path, requirements: str | None) -> Path:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements, encoding="utf-8")
    return folder


def test_an_environment_is_built_once_then_found_in_the_cache(tmp_path: Path) -> None:
    model = _model(tmp_path, None)  # nothing to install: the venv alone

    first = ensure_environment(model, "custom", None, cache_dir=tmp_path / "envs")
    second = ensure_environment(model, "custom", None, cache_dir=tmp_path / "envs")

    assert first.built and not second.built
    assert first.python == second.python == tmp_path / "envs" / first.key / "bin" / "python"
    prefix = subprocess.run([str(first.python), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True)
    assert Path(prefix.stdout.strip()) == tmp_path / "envs" / first.key
    assert Path(sys.prefix) != Path(prefix.stdout.strip())  # not the project's venv


def test_two_runs_asking_at_once_build_the_environment_once(tmp_path: Path) -> None:
    model = _model(tmp_path, None)
    results: list[Environment] = []

    def build() -> None:
        results.append(ensure_environment(model, "custom", None, cache_dir=tmp_path / "envs"))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(result.built for result in results) == [False, True]
    assert [path.name for path in (tmp_path / "envs").iterdir() if path.is_dir()] == [results[0].key]


def test_requirements_that_cannot_be_installed_name_the_file(tmp_path: Path) -> None:
    model = _model(tmp_path, "-e ./no-such-folder\n")

    with pytest.raises(EnvironmentBuildError) as raised:
        ensure_environment(model, "custom", None, cache_dir=tmp_path / "envs")

    assert str(raised.value).startswith(f"{model / 'requirements.txt'}: installing the requirements with ")
    assert not any((tmp_path / "envs").glob("*/bin"))  # nothing half-built is left to look complete
