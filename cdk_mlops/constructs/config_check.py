"""The configuration check a model's build runs first: is the pushed ``model.yaml`` what this pipeline
was deployed with?

The check itself is :mod:`cdk_mlops.drift_check_config` (pure Python). Here it is added to whatever
buildspec the pipeline uses (the default or a ``build_spec`` override), right after the buildspec's
leading ``cd`` and before the model's requirements are installed, so a stale pipeline fails within
the build's first minute. It runs in a virtual environment of its own holding the same cdk-mlops,
pydantic, PyYAML, botocore and sagemaker-core versions that synthesized the pipeline (no CDK), so
the model's requirements cannot change how the file validates, and it runs the checks synthesis runs
(:mod:`cdk_mlops.plan`). On a difference or an invalid file, the build prints the
message, publishes it (with the build's log URL) to the model's topic, and fails.
"""

from __future__ import annotations

import copy
from typing import Any

from cdk_mlops.config_drift import ACCOUNT_VARIABLE, REGION_VARIABLE, TOPIC_VARIABLE, DeployedConfig

#: Where the check's virtual environment lives in the build container.
CHECK_ENV = "/tmp/cdk-mlops-check"
#: The buildspec variable naming the Python that runs the check.
CHECK_PYTHON_VARIABLE = "CDK_MLOPS_CHECK_PYTHON"
_REPORT = "/tmp/cdk-mlops-check.txt"


def _installed_version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


#: What the check imports besides cdk-mlops: the model schema's (pydantic, PyYAML), and the synthesis
#: checks' (botocore's SageMaker instance types and regions; sagemaker-core's image catalogue, read as
#: JSON files, so without its dependencies).
CHECK_REQUIREMENTS = ("pydantic", "PyYAML", "botocore")
CHECK_CATALOGUE = "sagemaker-core"


def install_commands(record: DeployedConfig) -> list[str]:
    """Creates the check's virtual environment with the synthesizing versions of cdk-mlops and
    sagemaker-core (both without dependencies), pydantic, PyYAML and botocore. Where the package index
    has no such cdk-mlops (the library is not published there), the pushed repository's root is
    installed instead (the monorepo layout, with the library in it); the check then names both
    versions when they differ."""
    pip = f"{CHECK_ENV}/bin/pip install --quiet --disable-pip-version-check"
    pinned = " ".join(f'"{name}=={_installed_version(name)}"' for name in CHECK_REQUIREMENTS)
    return [
        f"python -m venv {CHECK_ENV}",
        f'{pip} --no-deps "cdk-mlops=={record.version}" || {pip} --no-deps "$CODEBUILD_SRC_DIR"',
        f'{pip} --no-deps "{CHECK_CATALOGUE}=={_installed_version(CHECK_CATALOGUE)}"',
        f"{pip} {pinned}",
    ]


def check_command(model_name: str, model_file: str) -> str:
    """Runs the check from the repository root; on a non-zero status publishes its output to the topic
    and fails the build."""
    subject = f"cdk-mlops {model_name}: pushed model.yaml differs from the deployed pipeline"[:100]
    return (
        f'cd "$CODEBUILD_SRC_DIR" && status=0 && "${CHECK_PYTHON_VARIABLE}" -m cdk_mlops.drift_check_config '
        f"{model_file} > {_REPORT} 2>&1 || status=$?; cat {_REPORT}; "
        f'if [ "$status" -ne 0 ]; then echo "Build log: $CODEBUILD_BUILD_URL" >> {_REPORT}; '
        f'aws sns publish --topic-arn "${TOPIC_VARIABLE}" --subject "{subject}" --message file://{_REPORT}; '
        "exit 1; fi; cd - > /dev/null"
    )


def with_config_check(
    spec: dict[str, Any],
    *,
    model_name: str,
    model_file: str,
    record: DeployedConfig,
    topic_arn: str,
    region: str,
    account: str,
) -> dict[str, Any]:
    """A copy of ``spec`` whose install phase first checks ``model_file`` (relative to the repository
    root) against ``record``, as synthesis in ``region`` and ``account`` (the pipeline's) would. The
    record travels as buildspec variables (``DeployedConfig.environment``, the topic ARN, the region
    and account, and the check's Python)."""
    spec = copy.deepcopy(spec)
    env = spec.setdefault("env", {})
    env["variables"] = {
        **env.get("variables", {}),
        **record.environment(),
        TOPIC_VARIABLE: topic_arn,
        REGION_VARIABLE: region,
        ACCOUNT_VARIABLE: account,
        CHECK_PYTHON_VARIABLE: f"{CHECK_ENV}/bin/python",
    }
    install = spec.setdefault("phases", {}).setdefault("install", {})
    commands = list(install.get("commands", []))
    at = 1 if commands and commands[0].startswith("cd ") else 0
    install["commands"] = [
        *commands[:at],
        *install_commands(record),
        check_command(model_name, model_file),
        *commands[at:],
    ]
    return spec
