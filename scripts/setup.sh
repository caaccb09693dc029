#!/usr/bin/env bash
# Installs everything the project needs into ./.venv and ./node_modules (idempotent): one line per step;
# a failing step shows its full output.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/steps.sh
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  step "python virtual environment (.venv)" "$PYTHON" -m venv .venv
else
  skip "python virtual environment (.venv)" "present"
fi
stamp=".venv/.cdk-mlops-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  step "pip upgrade" .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  step "python packages (pip install -e .[dev], a few minutes the first time)" \
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  touch "$stamp"
else
  skip "python packages" "up to date with pyproject.toml"
fi
if [ ! -x node_modules/.bin/cdk ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm packages (aws-cdk CLI, asl-validator)" npm ci --no-audit --no-fund --silent
else
  skip "npm packages" "up to date with package-lock.json"
fi
