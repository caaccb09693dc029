#!/usr/bin/env bash
# Setup, then synthesize every example model's stacks offline and show what was produced.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cdk synth --quiet "$@"
python -m cdk_mlops.cli summary cdk.out
