"""The README's deploy section runs as written: every ``cdk bootstrap`` command that trusts another
account also passes ``--cloudformation-execution-policies``, which the pinned CLI requires with
``--trust`` (node_modules/aws-cdk: "Please pass '--cloudformation-execution-policies' when using
'--trust'"); and the section covers each environment a stack can go to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cdk_mlops_testing import REPO_ROOT

#: Files that tell a user how to bootstrap: the README and the model files whose comments do.
DOCUMENTS = [
    path
    for path in [
        REPO_ROOT / "README.md",
        *sorted(REPO_ROOT.glob("examples/*/model.yaml")),
        *sorted(REPO_ROOT.glob("models/*/model.yaml")),
    ]
    if "cdk bootstrap" in path.read_text(encoding="utf-8")
]


def bootstrap_commands(text: str) -> list[str]:
    """Every ``cdk bootstrap`` command of ``text``: each line of a fenced block (``\\`` continuations
    joined) and each inline code span (which may wrap across lines) that contains one; a YAML file's
    comment markers are dropped first."""
    text = re.sub(r"(?m)^\s*# ?", "", text) if "```" not in text else text
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if "cdk bootstrap" in line and not line.lstrip().startswith("#"):
                commands.append(" ".join(line.split()))
    for span in re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
        if "cdk bootstrap" in span:
            commands.append(" ".join(span.split()))
    return commands


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_bootstrap_with_trust_passes_execution_policies(document: Path) -> None:
    commands = bootstrap_commands(document.read_text(encoding="utf-8"))

    assert commands, f"{document.name} mentions cdk bootstrap but no command was extracted"
    for command in commands:
        if "--trust" in command:
            assert "--cloudformation-execution-policies" in command, f"{document.name}: {command}"


def test_readme_bootstraps_the_pipeline_account_each_production_account_and_each_production_region() -> None:
    commands = bootstrap_commands((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    targets = {
        "/".join(match)
        for command in commands
        for match in re.findall(r"aws://(<[^>]+>|\d+)/(<[^>]+>|[a-z0-9-]+)", command)
    }

    assert {
        "<pipeline account>/<pipeline region>",
        "<production account>/<region>",
        "<pipeline account>/<production region>",
    } <= targets
    (trusting,) = [command for command in commands if "aws://<production account>/<region>" in command]
    assert "--trust <pipeline account>" in trusting


def test_extraction_finds_wrapped_inline_commands_and_fenced_lines() -> None:
    text = (
        "Bootstrap with `npx cdk bootstrap aws://1/r --trust 2\n--cloudformation-execution-policies arn:p`.\n"
        "```bash\nnpx cdk bootstrap aws://3/r \\\n  --trust 4\n```\n"
    )

    assert bootstrap_commands(text) == [
        "npx cdk bootstrap aws://3/r --trust 4",
        "npx cdk bootstrap aws://1/r --trust 2 --cloudformation-execution-policies arn:p",
    ]


def test_readme_chooses_the_region_with_aws_region_not_cdk_default_region() -> None:
    # The CLI sets CDK_DEFAULT_REGION for the app from AWS_REGION/the profile, over any value exported
    # (node_modules/aws-cdk: prepareDefaultEnvironment's variables are spread after process.env).
    section = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split("## Deploy to a real account")[1]
    section = section.split("\n## ")[0]

    assert "export AWS_PROFILE=ml-platform AWS_REGION=eu-west-1" in section
    assert "CDK_DEFAULT_REGION=" not in section
