"""The ``cdk-mlops`` command line itself: plain-text help (no reStructuredText markup from the module
docstrings it shows), ``--version``, and model and scenario names checked before anything is synthesized."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from cdk_mlops.cli import main
from cdk_mlops.commands import COMMAND_MODULES
from cdk_mlops.commands.help_text import plain_text
from cdk_mlops.commands.preflight import model_names, unknown_model

MARKUP = ("``", ":mod:", ":class:", ":func:", ":data:", ":meth:")

MINIMAL_MODEL = """\
name: {name}
source:
  provider: codecommit
  repository: ml-models
framework:
  name: xgboost
  version: "1.7-1"
"""


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def _command_names() -> list[str]:
    import argparse
    import importlib

    commands = argparse.ArgumentParser().add_subparsers()
    for module in COMMAND_MODULES:
        importlib.import_module(f"cdk_mlops.commands.{module}").register(commands)
    return list(commands.choices)


def _models(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.yaml").write_text(MINIMAL_MODEL.format(name=name))
    return tmp_path


@pytest.fixture
def no_synthesis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes any synthesis fail the test: the checks under test must answer before it."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("synthesized although the command line was invalid")

    import cdk_mlops.local.dry_run as dry_run
    import cdk_mlops.local.harness as harness

    monkeypatch.setattr(harness, "synthesize_templates", refuse)
    monkeypatch.setattr(harness, "synthesize_workflows", refuse)
    monkeypatch.setattr(dry_run, "synthesize_workflows", refuse)


def test_top_level_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help([], capsys)

    assert "cdk-mlops: build, check and run" in text
    assert not [mark for mark in MARKUP if mark in text]


@pytest.mark.parametrize("command", _command_names())
def test_every_subcommand_help_is_its_module_docstring_in_plain_text(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help([command], capsys)
    description = text.split("\n\n")[1]

    assert description.strip(), f"cdk-mlops {command} --help has no description"
    assert not [mark for mark in MARKUP if mark in text], text


def test_plain_text_keeps_the_words_of_roles_and_literals_and_the_paragraphs() -> None:
    text = plain_text(
        "Runs ``cdk synth`` with :mod:`cdk_mlops.local`\nand :class:`the app <cdk_mlops.MlopsApp>`.\n\nMore."
    )

    assert text == "Runs cdk synth with cdk_mlops.local and the app.\n\nMore."


def test_version_prints_the_installed_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])

    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"cdk-mlops {importlib.metadata.version('cdk-mlops')}"


def test_model_names_come_from_each_files_name_and_folder(tmp_path: Path) -> None:
    _models(tmp_path, "alpha", "beta")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.yaml").write_text("name: [unclosed")
    (tmp_path / "notes").mkdir()

    assert model_names(tmp_path) == ["alpha", "beta", "broken"]


def test_dry_run_rejects_an_unknown_model_before_synthesizing_and_suggests_the_closest(
    tmp_path: Path, no_synthesis: None, capsys: pytest.CaptureFixture[str]
) -> None:
    models = _models(tmp_path, "churn-xgb", "iris-sklearn")

    code = main(["dry-run", "churn-xbg", "--models-dir", str(models)])

    assert code == 2
    err = capsys.readouterr().err
    assert "unknown model 'churn-xbg' (known models: churn-xgb, iris-sklearn); did you mean 'churn-xgb'?" in err


def test_dry_run_rejects_an_unknown_scenario_before_synthesizing(
    tmp_path: Path, no_synthesis: None, capsys: pytest.CaptureFixture[str]
) -> None:
    models = _models(tmp_path, "churn-xgb")

    code = main(["dry-run", "churn-xgb", "--scenario", "aprove", "--models-dir", str(models)])

    assert code == 2
    assert "unknown scenario 'aprove'" in capsys.readouterr().err


def test_a_missing_models_folder_is_named(tmp_path: Path) -> None:
    problem = unknown_model(tmp_path / "nowhere", "churn-xgb")

    assert (
        problem
        == f"unknown model 'churn-xgb': the models folder {tmp_path / 'nowhere'} does not exist (set it with --models-dir)"
    )
