"""``cdk-mlops validate [--models-dir DIR]``: every model file, every error and warning at once, a line
per model and a table at the end; exit 1 on any error, 0 otherwise; never a traceback, never jsii."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cdk_mlops.cli import main
from cdk_mlops_testing import MODELS_DIR, REPO_ROOT, example_config_data, write_model_with_code


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["validate", *args])
    return code, capsys.readouterr().out.splitlines()


def broken_models(root: Path) -> tuple[Path, Path]:
    """Two models under ``root/models``: churn-xgb on ``ml.m5.huge`` without num_round, and an iris model
    without notification_email (a warning only)."""
    churn = example_config_data("churn-xgb")
    churn["training"]["instance_type"] = "ml.m5.huge"
    churn["training"]["hyperparameters"].pop("num_round")
    iris: dict[str, Any] = example_config_data("iris-sklearn")
    del iris["pipeline_class"]
    return write_model_with_code(root / "models", churn), write_model_with_code(root / "models", iris)


def test_valid_models_pass_with_a_line_per_model_a_table_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = validate(capsys, "--models-dir", str(MODELS_DIR), "--region", "eu-west-1")

    assert code == 0
    assert [line.split()[:2] for line in lines if line.startswith(("ok", "FAIL"))] == [
        ["ok", "churn-xgb"],
        ["ok", "fraud-batch"],
        ["ok", "iris-sklearn"],
    ]
    header = next(index for index, line in enumerate(lines) if line.startswith("model "))
    assert lines[header].split() == ["model", "inference", "stacks", "production", "errors", "warnings"]
    assert lines[header + 1].split() == ["churn-xgb", "endpoint", "3", "instances", "0", "0"]
    assert lines[header + 2].split() == ["fraud-batch", "batch", "1", "-", "0", "0"]
    assert lines[-1] == "3 model files, 0 errors, 1 warning: all valid (region eu-west-1)"


def test_every_error_of_every_model_is_printed_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    churn, iris = broken_models(tmp_path)

    code, lines = validate(capsys, "--models-dir", str(tmp_path / "models"), "--region", "eu-west-1")

    assert code == 1
    assert f"FAIL  churn-xgb            {churn}  (2 errors)" in lines
    assert f"ok    iris-sklearn         {iris}  (1 warning)" in lines
    errors = [line.strip() for line in lines if line.strip().startswith("error:")]
    assert [error.split()[1] for error in errors] == ["training.instance_type:", "training.hyperparameters.num_round:"]
    assert errors[0].endswith("(got 'ml.m5.huge')")
    assert any(line.strip().startswith("warning: notification_email: is not set") for line in lines)
    assert lines[-1] == "2 model files, 2 errors, 1 warning: 1 of 2 model files have errors (region eu-west-1)"


def test_a_missing_folder_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = validate(capsys, "--models-dir", str(tmp_path / "nowhere"))

    assert code == 1
    assert lines == [f"error: --models-dir: no folder {tmp_path / 'nowhere'} (got {str(tmp_path / 'nowhere')!r})"]


def test_an_unexpected_failure_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import cdk_mlops.plan

    def broken(*args: Any, **kwargs: Any) -> None:
        raise PermissionError("model.yaml: permission denied")

    monkeypatch.setattr(cdk_mlops.plan, "plan_models", broken)
    (tmp_path / "models").mkdir()

    code, lines = validate(capsys, "--models-dir", str(tmp_path / "models"))

    assert code == 1
    assert lines == ["error: validate stopped: PermissionError: model.yaml: permission denied"]


def test_validate_runs_without_the_cdk_runtime_and_prints_no_traceback(tmp_path: Path) -> None:
    broken_models(tmp_path)
    script = (
        "import sys\n"
        "from cdk_mlops.cli import main\n"
        f"code = main(['validate', '--models-dir', {str(tmp_path / 'models')!r}])\n"
        "print('aws_cdk' in sys.modules, 'jsii' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    environment = {**os.environ, "CDK_DEFAULT_REGION": "eu-west-1"}

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment)

    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "False False"
    assert "Traceback" not in result.stdout + result.stderr


def test_the_repository_models_folder_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    # Whatever models sit in models/, the README's commands need them valid; this names any that is not.
    code, lines = validate(capsys, "--models-dir", str(REPO_ROOT / "models"), "--region", "eu-west-1")

    assert code == 0, "\n".join(lines)
