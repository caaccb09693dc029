"""How long ``cdk-mlops run <model>`` takes, and where the time goes.

    .venv/bin/python -m bench.run_local [--model iris-sklearn] [--runs 2] [--no-cold] [--installers]
                                        [--raw bench/results/run-local.json]

1. **First run** (unless ``--no-cold``): ``cdk-mlops run`` in a fresh process with an empty environment
   cache and an empty ``uv`` cache (``CDK_MLOPS_ENV_CACHE``, ``UV_CACHE_DIR`` in a temporary folder), so
   the model's environment is resolved, downloaded from PyPI and installed: a fresh machine's first run.
2. **Cached runs** (``--runs``, default 2): the same command again with that environment cached.
3. ``--installers``: the same environment built with ``uv`` and with ``venv`` + ``pip``, both with
   empty caches, to show why ``cdk_mlops.local.environments`` uses ``uv``.

Each run writes ``--report`` JSON, whose ``split_seconds`` the table prints: synthesis, environment,
setup (engine, stand-ins, seeding), each job, serving (the smoke test's model worker), the engine's
own time (execution time less jobs and serving) and that per state entered. The wall column is the
whole process (interpreter start and imports included). Targets from issue 11: cached under 60 s, the
first run under 4 minutes, engine overhead under 0.2 s per state. Nothing is asserted: numbers are
printed (and written to ``--raw``) for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _run(model: str, models_dir: Path, env: dict[str, str], report: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "cdk_mlops.cli", "run", model, "--models-dir", str(models_dir)]
    started = time.perf_counter()
    done = subprocess.run([*command, "--report", str(report)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    data: dict[str, Any] = json.loads(report.read_text()) if report.is_file() else {}
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
    return {"wall": wall, "exit": done.returncode, "report": data}


def _installers(models_dir: Path, model: str, scratch: Path) -> dict[str, float]:
    """Seconds to build the model's environment with uv and with pip, each from an empty cache."""
    from cdk_mlops.config.loader import load_model_config
    from cdk_mlops.local.environments import _uv, framework_requirements

    config = load_model_config(models_dir / model / "model.yaml")
    pins, _ = framework_requirements(config.framework.name, config.framework.version)
    requirements = ["-r", str(models_dir / model / "requirements.txt"), *pins]
    base = getattr(sys, "_base_executable", sys.executable)
    seconds: dict[str, float] = {}
    uv = _uv()
    if uv is not None:
        env = {**os.environ, "UV_CACHE_DIR": str(scratch / "uv-cache")}
        started = time.perf_counter()
        subprocess.run([uv, "venv", "-q", "--python", base, str(scratch / "uv-env")], env=env, check=True)
        python = str(scratch / "uv-env" / "bin" / "python")
        subprocess.run([uv, "pip", "install", "-q", "--python", python, *requirements], env=env, check=True)
        seconds["uv"] = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run([base, "-m", "venv", str(scratch / "pip-env")], check=True)
    pip = [str(scratch / "pip-env" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-cache-dir"]
    subprocess.run([*pip, *requirements], check=True, capture_output=True)
    seconds["pip"] = time.perf_counter() - started
    return seconds


def _row(label: str, run: dict[str, Any]) -> str:
    split = run["report"].get("split_seconds", {})
    jobs = ", ".join(
        f"{name.split('-')[-1]} {value:.1f}" for name, value in split.items() if name.startswith("job ")
    )
    states = len(run["report"].get("states", []))
    return (
        f"| {label} | {run['exit']} | {run['wall']:.1f} | {split.get('synthesis', 0):.1f} | "
        f"{split.get('environment', 0):.1f} | {split.get('setup', 0):.1f} | {jobs} | "
        f"{split.get('serving', 0):.1f} | {split.get('engine', 0):.1f} | {states} | "
        f"{split.get('engine per state', 0):.3f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="iris-sklearn")
    parser.add_argument("--models-dir", default=ROOT / "models", type=Path)
    parser.add_argument("--runs", default=2, type=int, help="cached runs (default 2)")
    parser.add_argument("--no-cold", action="store_true", help="skip the first run with an empty cache")
    parser.add_argument("--installers", action="store_true", help="also time uv against pip")
    parser.add_argument("--raw", type=Path, help="write every measurement as JSON here")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="cdk-mlops-bench-run-"))
    env = {**os.environ, "CDK_MLOPS_ENV_CACHE": str(scratch / "envs")}
    if args.no_cold:
        env.pop("CDK_MLOPS_ENV_CACHE")
    runs: list[tuple[str, dict[str, Any]]] = []
    try:
        if not args.no_cold:
            cold = {**env, "UV_CACHE_DIR": str(scratch / "uv-cache")}
            first = _run(args.model, args.models_dir, cold, scratch / "r0.json")
            runs.append(("first run (empty caches)", first))
        for index in range(1, args.runs + 1):
            report = scratch / f"r{index}.json"
            runs.append((f"cached run {index}", _run(args.model, args.models_dir, env, report)))
        installers = {}
        if args.installers:
            installers = _installers(args.models_dir, args.model, scratch / "installers")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"cdk-mlops run {args.model} ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    print("| run | exit | wall s | synthesis | environment | setup | jobs s | serving | engine | states "
          "| engine s/state |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, run in runs:
        print(_row(label, run))
    for name, seconds in installers.items():
        print(f"{name}: {seconds:.1f} s to build the {args.model} environment from an empty cache")
    if args.raw is not None:
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        payload = {"runs": [{"label": label, **run} for label, run in runs], "installers": installers}
        args.raw.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if all(run["exit"] == 0 for _, run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
