"""Where the Lambda handlers' code lives, in a source checkout and in an installed wheel."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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


def load_handler(name: str, module_name: str | None = None) -> ModuleType:
    """``lambda_src/<name>/handler.py`` loaded from its file as module ``module_name`` (default
    ``cdk_mlops_lambda_<name>``), as Lambda loads it: on its own, outside any package, so it can only
    import what the Lambda runtime has."""
    module_name = module_name or f"cdk_mlops_lambda_{name}"
    spec = importlib.util.spec_from_file_location(module_name, lambda_code_dir(name) / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
