#!/usr/bin/env bash
# Static security scans of synthesized templates: checkov (skips justified in .checkov.yaml) and
# cfn-lint (ignores justified in .cfnlintrc.yaml). Fails on any finding, warnings included.
# Usage: scripts/scan.sh [cdk.out]   (run `cdk synth -q` first)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
out="${1:-cdk.out}"
shopt -s nullglob
templates=("$out"/*.template.json)
if [ ${#templates[@]} -eq 0 ]; then
  echo "no templates in $out: run 'cdk synth -q' first" >&2
  exit 2
fi

echo "== checkov (${#templates[@]} templates)"
BC_SKIP_MAPPING=TRUE checkov -d "$out" --config-file .checkov.yaml

echo "== cfn-lint (errors and warnings fail)"
cfn-lint --config-file .cfnlintrc.yaml -- "${templates[@]}"
echo "cfn-lint: 0 errors, 0 warnings"
