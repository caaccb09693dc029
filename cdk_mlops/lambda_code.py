"""Where the Lambda handlers' code lives, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_REPO_LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda_src"


def lambda_code_dir(name: str) -> Path:
    """The asset directory of handler ``name`` (``lambda_src/<name>``; ``cdk_mlops/lambda_src/<name>``
    once installed from the wheel)."""
    try:
        import cdk_mlops.lambda_src as installed

        base = Path(installed.__file__).resolve().parent
    except ImportError:
        base = _REPO_LAMBDA_DIR
    path = base / name
    if not (path / "handler.py").is_file():
        raise FileNotFoundError(f"no Lambda handler {name!r} at {path}")
    return path
