"""What CDK users expect of a CDK project: cdk.json carries the feature flags ``cdk init`` gives a new app
(with the CLI version package-lock.json pins), the library synthesizes correctly with and without them
(users' apps differ), no synth prints the "feature flags are not configured" notice, the package
declares its license as an SPDX expression, setup prints one line per step, and the README runs the
project's own CDK CLI.

The flags' effect on our templates was reviewed when they were adopted: against the four flags cdk.json
set before, the only change is that ARNs in stacks of a known region name the partition literally
(``arn:aws:...`` instead of ``{"Ref": "AWS::Partition"}``, ``@aws-cdk/core:enablePartitionLiterals``),
plus the usage data in the ``CDKMetadata`` resource (``@aws-cdk/core:enableAdditionalMetadataCollection``).
Against no flags at all, ``@aws-cdk/aws-iam:minimizePolicies`` also merges IAM statements (the same
grants, fewer statements). ``test_the_recommended_flags_change_only_arn_partitions_and_statement_layout``
keeps it that way.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib

from cdk_mlops_testing import REPO_ROOT

CDK_JSON = REPO_ROOT / "cdk.json"
#: What ``cdk init app`` writes into a new app's cdk.json (shipped with the CLI in node_modules).
RECOMMENDED_FLAGS = (
    REPO_ROOT / "node_modules" / "aws-cdk" / "lib" / "init-templates" / ".recommended-feature-flags.json"
)
#: Where cdk.json deliberately differs from cdk init, and why.
DELIBERATE = {
    # Exports and Fn::ImportValue, as the README describes: the endpoint stacks import the platform's
    # key and bucket and the pipeline's topic; "weak" (Fn::GetStackOutput) would change every stack.
    "@aws-cdk/core:defaultCrossStackReferences": "strong",
}

ENDPOINT_MODEL = """\
name: flags-check
source:
  provider: codeconnections
  connection_arn: arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000
  repository: example-org/ml-models
  path: models/flags-check
framework:
  name: xgboost
  version: "1.7-1"
training:
  hyperparameters: {objective: "binary:logistic", num_round: 10}
quality_gate:
  - metric: validation:auc
    threshold: 0.8
endpoints:
  production:
    instance_type: ml.m5.large
    instance_count: 2
    traffic_shifting: {type: canary, size_percent: 50}
  data_capture:
    enabled: true
drift:
  script: drift.py
notification_email: ml-team@example.com
"""


def _context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("repository") / "models"  # source.path is models/<name>
    (folder / "flags-check" / "src").mkdir(parents=True)
    (folder / "flags-check" / "model.yaml").write_text(ENDPOINT_MODEL, encoding="utf-8")
    (folder / "flags-check" / "src" / "drift.py").write_text("print('drift')\n", encoding="utf-8")
    return folder


def _synthesize(models_dir: Path, context: dict[str, Any], outdir: Path) -> dict[str, dict[str, Any]]:
    """The app of ``models_dir`` with cdk-nag on (any finding fails), under ``context``."""
    import aws_cdk as cdk

    from cdk_mlops.app_builder import build_app, enable_compliance_checks

    app = cdk.App(context=context, outdir=str(outdir), builtin_cloud_formation_validation=False)
    assert enable_compliance_checks(app)
    build_app(app, models_dir, region="eu-west-1", account="123456789012")
    assembly = app.synth()
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in Path(assembly.directory).glob("*.template.json")
    }


def _partition_as_literal(value: Any) -> Any:
    """``value`` with ``{"Ref": "AWS::Partition"}`` written as ``aws`` and the string runs of each
    ``Fn::Join`` merged, as the partition-literals flag renders it; ``CDKMetadata`` left out."""
    if isinstance(value, list):
        return [_partition_as_literal(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if "Fn::Join" in value and value["Fn::Join"][0] == "":
        parts: list[Any] = []
        for part in (_partition_as_literal(item) for item in value["Fn::Join"][1]):
            if isinstance(part, str) and parts and isinstance(parts[-1], str):
                parts[-1] += part
            else:
                parts.append(part)
        return parts[0] if len(parts) == 1 and isinstance(parts[0], str) else {"Fn::Join": ["", parts]}
    if isinstance(value.get("Statement"), list):
        return _grants(value)
    return {key: _partition_as_literal(item) for key, item in value.items() if key != "CDKMetadata"}


def _grants(document: dict[str, Any]) -> list[str]:
    """A policy document as the sorted set of what it allows or denies, one action on one resource per
    item, so that statements merged by ``@aws-cdk/aws-iam:minimizePolicies`` compare equal."""

    def listed(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    grants = set()
    for statement in document["Statement"]:
        statement = _partition_as_literal(statement)
        rest = {key: item for key, item in statement.items() if key not in ("Action", "Resource", "Sid")}
        for action in listed(statement.get("Action", [])):
            for resource in listed(statement.get("Resource", [None])):
                grants.add(json.dumps([action, resource, rest], sort_keys=True))
    return sorted(grants)


def test_cdk_json_sets_every_flag_cdk_init_sets_with_its_value_but_the_deliberate_ones() -> None:
    recommended = json.loads(RECOMMENDED_FLAGS.read_text(encoding="utf-8"))
    context = _context()

    missing = sorted(set(recommended) - set(context))
    different = {key: context[key] for key in recommended if key in context and context[key] != recommended[key]}

    assert missing == []
    assert different == DELIBERATE
    assert context["cli-telemetry"] is False


def test_the_recommended_flags_change_only_arn_partitions_and_statement_layout(
    models_dir: Path, tmp_path: Path
) -> None:
    with_flags = _synthesize(models_dir, _context(), tmp_path / "flags")
    without_flags = _synthesize(models_dir, {}, tmp_path / "none")

    assert (
        sorted(with_flags)
        == sorted(without_flags)
        == [
            "Mlops-Platform",
            "Mlops-flags-check-Pipeline",
            "Mlops-flags-check-Production",
            "Mlops-flags-check-Staging",
        ]
    )
    assert '"AWS::Partition"' in json.dumps(without_flags)
    for stack, template in with_flags.items():
        assert _partition_as_literal(template) == _partition_as_literal(without_flags[stack]), stack


def test_cdk_synth_prints_no_feature_flag_notice(models_dir: Path, tmp_path: Path) -> None:
    cli = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    command = [str(cli), "synth", "--quiet", "--no-validation", "-c", "nag=false", "-c", f"models_dir={models_dir}"]
    command += ["--app", f"{sys.executable} app.py", "-o", str(tmp_path / "cdk.out")]

    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cdk.out" / "Mlops-flags-check-Pipeline.template.json").is_file()
    assert "feature flags" not in done.stdout + done.stderr


def test_pyproject_declares_the_license_as_an_spdx_expression_with_a_setuptools_that_reads_it() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (setuptools,) = [item for item in pyproject["build-system"]["requires"] if item.startswith("setuptools")]

    assert pyproject["project"]["license"] == "Apache-2.0"
    # PEP 639 license expressions: setuptools 77.0 is the first release that reads them.
    assert re.fullmatch(r"setuptools>=(\d+)", setuptools) and int(setuptools.split(">=")[1]) >= 77


def _step(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; source scripts/steps.sh; {script}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_setup_step_prints_one_line_and_hides_the_commands_output() -> None:
    done = _step('step "python packages" bash -c "echo SetuptoolsDeprecationWarning; echo noise >&2"')

    assert done.returncode == 0
    assert re.fullmatch(r"python packages \.\.\. ok \(\d+ s\)\n", done.stdout)
    assert done.stderr == ""


def test_a_failing_setup_step_says_so_and_shows_the_commands_output_and_exit_code() -> None:
    done = _step('step "npm packages" bash -c "echo npm ERR! 404; exit 3"; echo not reached')

    assert done.returncode == 3
    assert done.stdout == "npm packages ... FAILED (exit 3)\n"
    assert done.stderr == "npm ERR! 404\n"


def test_the_readme_runs_the_projects_own_cdk_cli_wherever_it_shows_a_cdk_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.DOTALL)
    prose = re.sub(r"```.*?```", "", readme, flags=re.DOTALL)

    assert "run it as\n`npx cdk ...`" in readme and "`source scripts/env.sh` once per shell" in readme
    for block in blocks:
        lines = block.splitlines()
        for number, line in enumerate(lines):
            if re.match(r"(\S+=\S+ )*cdk ", line):
                assert "source scripts/env.sh" in lines[:number], f"'{line}' runs cdk without npx or env.sh"
    bare = re.findall(r"`(cdk (?:synth|deploy|diff|destroy|bootstrap) [^`]+)`", prose)
    assert bare == [], f"commands to run without npx: {bare}"
