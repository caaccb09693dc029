# Sourced by the other scripts: a quiet, offline, reproducible toolchain.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export CDK_DISABLE_CLI_TELEMETRY=true
export CDK_HOME="${CDK_HOME:-$PWD/.cdk-home}"
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
