"""Per-model Python environments for ``cdk-mlops run``: the model's ``requirements.txt`` plus its framework
at the configured version, in a cached virtual environment outside the project's own venv.

Why a separate environment: a model's code runs with the library versions its SageMaker container has
(scikit-learn ``1.2-1`` is scikit-learn 1.2), which need not match the project's. Why cached by a hash
of the inputs: building one takes seconds with ``uv`` and a warm cache, but a run should not pay even
that when nothing changed. Why ``uv`` (PyPI package ``uv``): it resolves and installs the iris
environment (scikit-learn, pandas, numpy, scipy, joblib) in about 1.5 s from an empty cache and 0.6 s
from a warm one, where ``pip`` takes about 11 s (measured on these machines, see the README). Without
``uv`` on the machine the environment is built with ``venv`` and ``pip`` instead, and the notes say so.

Layout: ``<cache_dir>/<key>/`` (default ``~/.cache/cdk-mlops/envs``, or ``$CDK_MLOPS_ENV_CACHE``), a
file lock ``<key>.lock`` beside it while it is built, and ``<key>/.cdk-mlops-complete`` once it is
whole. A build goes to ``<key>.partial`` and is renamed, so a crashed build never looks complete and two
concurrent runs of the same key build it once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

__all__ = [
    "Environment",
    "EnvironmentBuildError",
    "default_cache_dir",
    "ensure_environment",
    "environment_key",
    "framework_requirements",
]

#: The framework name in model.yaml -> its package on PyPI.
FRAMEWORK_PACKAGES = {"sklearn": "scikit-learn", "xgboost": "xgboost", "pytorch": "torch", "tensorflow": "tensorflow"}

_COMPLETE = ".cdk-mlops-complete"
_VERSION = re.compile(r"^(\d+)\.(\d+)")


class EnvironmentBuildError(RuntimeError):
    """A model's environment could not be built; the message names the file or requirement and the
    installer's last lines."""


@dataclasses.dataclass(frozen=True)
class Environment:
    """A ready per-model environment: its interpreter, its cache key, whether this call built it (False:
    found in the cache), how long the call took, and notes (a framework version that was not available,
    a fallback installer)."""

    python: Path
    key: str
    built: bool
    seconds: float
    notes: list[str] = dataclasses.field(default_factory=list)


def default_cache_dir() -> Path:
    """``$CDK_MLOPS_ENV_CACHE`` if set, else ``~/.cache/cdk-mlops/envs``."""
    configured = os.environ.get("CDK_MLOPS_ENV_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "cdk-mlops" / "envs"


def framework_requirements(framework: str, version: str | None) -> tuple[list[str], list[str]]:
    """``(requirements, notes)`` that pin ``framework`` at its SageMaker container ``version``:
    ``sklearn 1.2-1`` -> ``scikit-learn==1.2.*`` (and ``numpy<2``: scikit-learn wheels before 1.4 were
    built against numpy 1), ``xgboost 1.7-1`` -> ``xgboost==1.7.*``. A custom image, or a version this
    cannot read, pins nothing and says so in the notes."""
    package = FRAMEWORK_PACKAGES.get(framework)
    if package is None:
        return [], [f"framework {framework!r}: no package to install (its image is not reproduced locally)"]
    match = _VERSION.match(version or "")
    if match is None:
        return [package], [f"framework {framework} version {version!r} is not <major>.<minor>: installed the newest"]
    major, minor = int(match.group(1)), int(match.group(2))
    requirements = [f"{package}=={major}.{minor}.*"]
    if framework == "sklearn" and (major, minor) < (1, 4):
        requirements.append("numpy<2")
    return requirements, []


def _own_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("cdk-mlops")
    except metadata.PackageNotFoundError:  # running from a source tree without an install
        return "source"


def environment_key(requirements_text: str, pins: Sequence[str], python_version: str | None = None) -> str:
    """The cache key of an environment: a hash of the model's requirements (comments and blank lines
    dropped), the framework pins, the Python version and platform, and cdk-mlops's own version."""
    lines = sorted(
        line.split("#", 1)[0].strip() for line in requirements_text.splitlines() if line.split("#", 1)[0].strip()
    )
    inputs = {
        "requirements": lines,
        "pins": sorted(pins),
        "python": python_version or platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "cdk_mlops": _own_version(),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # the PyPI package ships its binary

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def _base_python() -> str:
    """The interpreter the project's venv was made from (an environment made from a venv's python would
    still work, but this keeps the two independent)."""
    return str(Path(sys._base_executable if hasattr(sys, "_base_executable") else sys.executable))


def _interpreter(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: Sequence[str], on_line: Callable[[str], None] | None) -> tuple[int, list[str]]:
    process = subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    assert process.stdout is not None
    lines = []
    for raw in process.stdout:
        line = raw.rstrip("\n")
        lines.append(line)
        if on_line is not None:
            on_line(line)
    return process.wait(), lines


def _install(
    target: Path, requirements: Path | None, pins: Sequence[str], on_line: Callable[[str], None] | None
) -> tuple[int, list[str], str]:
    """Creates ``target`` and installs into it; returns the exit code, the output and the installer used."""
    extra = ["-r", str(requirements)] if requirements is not None else []
    uv = _uv()
    if uv is not None:
        code, lines = _run([uv, "venv", "--quiet", "--relocatable", "--python", _base_python(), str(target)], on_line)
        if code == 0 and (extra or pins):
            code, more = _run([uv, "pip", "install", "--python", str(_interpreter(target)), *extra, *pins], on_line)
            lines += more
        return code, lines, "uv"
    code, lines = _run([_base_python(), "-m", "venv", str(target)], on_line)
    if code == 0 and (extra or pins):
        command = [str(_interpreter(target)), "-m", "pip", "install", "--disable-pip-version-check", *extra, *pins]
        code, more = _run(command, on_line)
        lines += more
    return code, lines, "pip"


def _nearest(pins: Sequence[str]) -> list[str]:
    """The pins with each ``==X.Y.*`` framework pin relaxed to ``>=X.Y`` (the nearest newer release)."""
    return [re.sub(r"==(\d+\.\d+)\.\*$", r">=\1", pin) for pin in pins]


def ensure_environment(
    model_dir: Path | str,
    framework: str,
    version: str | None,
    *,
    cache_dir: Path | str | None = None,
    on_line: Callable[[str], None] | None = None,
    extra_requirements: Sequence[str] = (),
) -> Environment:
    """The cached environment for the model in ``model_dir``: its ``requirements.txt`` (if any), plus
    ``framework`` at ``version`` (see :func:`framework_requirements`) and ``extra_requirements`` (what
    the local job runner itself needs inside it). Built on first use under ``cache_dir`` (default
    :func:`default_cache_dir`), found there afterwards; ``on_line`` receives the installer's output.
    The project's own venv is never touched. If the framework version cannot be installed on this
    platform, the nearest newer one is, and :attr:`Environment.notes` says so. Raises
    :class:`EnvironmentBuildError` when the requirements cannot be installed at all."""
    started = time.perf_counter()
    folder = Path(model_dir)
    requirements = folder / "requirements.txt"
    requirements_file = requirements if requirements.is_file() else None
    text = requirements_file.read_text(encoding="utf-8") if requirements_file else ""
    pins, notes = framework_requirements(framework, version)
    pins = [*pins, *extra_requirements]
    key = environment_key(text, pins)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    env_dir = root / key
    notes_file = env_dir / _COMPLETE
    with _locked(root / f"{key}.lock"):
        if notes_file.is_file():
            saved = json.loads(notes_file.read_text(encoding="utf-8"))
            return Environment(_interpreter(env_dir), key, False, time.perf_counter() - started, [*saved["notes"]])
        partial = root / f"{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        code, lines, installer = _install(partial, requirements_file, pins, on_line)
        if code != 0 and _nearest(pins) != pins:
            shutil.rmtree(partial, ignore_errors=True)
            relaxed = _nearest(pins)
            code, lines, installer = _install(partial, requirements_file, relaxed, on_line)
            if code == 0:
                notes.append(f"{', '.join(pins)} is not installable here: installed {', '.join(relaxed)} instead")
        if code != 0:
            shutil.rmtree(partial, ignore_errors=True)
            source = str(requirements_file) if requirements_file else f"{folder} (no requirements.txt)"
            tail = "\n".join(lines[-8:])
            raise EnvironmentBuildError(
                f"{source}: installing {', '.join(pins) or 'the requirements'} with {installer} failed:\n{tail}"
            )
        if installer != "uv":
            notes.append("uv not found: built with venv and pip (slower)")
        (partial / _COMPLETE).write_text(json.dumps({"notes": notes, "pins": pins}), encoding="utf-8")
        shutil.rmtree(env_dir, ignore_errors=True)
        partial.rename(env_dir)
    return Environment(_interpreter(env_dir), key, True, time.perf_counter() - started, notes)
