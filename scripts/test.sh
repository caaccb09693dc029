#!/usr/bin/env bash
# Setup, then every check CI runs: lint, types, the test suite, a full synth with CloudFormation
# validation on, and the installed-wheel check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

echo "== ruff"; ruff check cdk_mlops lambda_src tests app.py scripts models bench
echo "== mypy"; mypy cdk_mlops lambda_src app.py
echo "== pytest"; python -m pytest -p no:cacheprovider
echo "== cdk synth (CloudFormation validation on)"
rm -rf cdk.out
cdk synth --quiet
echo "== security scans: checkov and cfn-lint (any finding fails)"
bash scripts/scan.sh cdk.out
python -m cdk_mlops.cli summary cdk.out
echo "== state machines: asl-validator, transitions, Retry/Catch on SageMaker tasks"
python scripts/check_state_machines.py cdk.out
echo "== examples/: the same synth, scans and state machine checks"
examples_out="$(mktemp -d)"
trap 'rm -rf "$examples_out"' EXIT
cdk synth --quiet -c models_dir=examples -o "$examples_out"
bash scripts/scan.sh "$examples_out"
python scripts/check_state_machines.py "$examples_out"
echo "== wheel installs and synthesizes outside the repository"
bash scripts/check_wheel.sh
echo "all checks passed"
