#!/usr/bin/env bash
# Builds the wheel, installs it into a fresh venv outside the repository and synthesizes a pipeline
# from it: proves the Lambda code and the cdk-mlops new templates ship inside the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" . 2>/dev/null
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/cdk_mlops-*.whl 2>&1 | grep -v "^WARNING: Location" || true
cp -r models/churn-xgb "$work/churn-xgb"
cd "$work"
JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_VALIDATION=false "$work/venv/bin/python" - <<'PY'
import json, pathlib, shutil, tempfile
import aws_cdk as cdk
import cdk_mlops
from cdk_mlops.lambda_code import lambda_code_dir

assert "site-packages" in cdk_mlops.__file__, cdk_mlops.__file__
for name in ("smoke_test", "regional_deploy"):
    handler = lambda_code_dir(name) / "handler.py"
    assert "site-packages" in str(handler), handler
models = pathlib.Path(tempfile.mkdtemp()) / "models"  # source.path is models/<name>
models.mkdir()
shutil.copytree("churn-xgb", models / "churn-xgb")  # a copy: validation resolves the folder's path
from cdk_mlops.scaffold import scaffold  # the model templates ship in the wheel too
scaffold("from-wheel", "sklearn", models)
app = cdk.App(outdir=tempfile.mkdtemp())
built = cdk_mlops.build_app(app, models)
assembly = app.synth()
template = assembly.get_stack_by_name("Mlops-churn-xgb-Pipeline").template
functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
assert assembly.get_stack_by_name("Mlops-from-wheel-Pipeline").template["Resources"]
print(f"wheel OK: {cdk_mlops.__file__}; {len(template['Resources'])} resources, {len(functions)} Lambda functions")
PY
