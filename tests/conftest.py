"""Shared fixtures: the example app (the frozen copies in ``tests/fixtures/models/``, never the repository's
``models/``) synthesized once per test session.

jsii start-up and synthesis are the slow part of these tests, so every construct test reads the same
synthesized example app, and modules that need other stacks build one small app of their own.
CDK's built-in CloudFormation validation is off for unit tests (``cdk synth`` in CI runs it).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# Before anything imports aws_cdk (jsii reads these when its runtime starts).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_VALIDATION", "false")

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

if TYPE_CHECKING:
    from aws_cdk.assertions import Template

    from cdk_mlops.app_builder import MlopsApp


@dataclasses.dataclass
class SynthesizedApp:
    """The example app: what ``build_app`` returned, and each stack's template by stack name (as an
    ``assertions.Template`` and as its parsed JSON)."""

    mlops: MlopsApp
    templates: dict[str, Template]
    json: dict[str, dict[str, Any]]


@pytest.fixture(scope="session")
def example_app() -> SynthesizedApp:
    """``build_app(cdk.App(), MODELS_DIR)`` (``tests/fixtures/models``) with no account or region from the
    environment (so the default region eu-west-1 applies), synthesized once for the whole session.

    The cyclic-dependency check of ``Template.from_stack`` is skipped here so that one broken stack
    does not fail every test; ``test_model_endpoint.py`` checks each endpoint stack for cycles.
    """
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from cdk_mlops.app_builder import build_app
    from cdk_mlops_testing import MODELS_DIR

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
        patch.delenv("CDK_DEFAULT_REGION", raising=False)
        app = cdk.App(builtin_cloud_formation_validation=False)
        mlops = build_app(app, MODELS_DIR)
    stacks = [mlops.platform, *mlops.production_platforms.values(), *mlops.regional_platforms.values()] + [
        stack for model in mlops.models.values() for stack in model.stacks
    ]
    templates = {
        stack.stack_name: Template.from_stack(stack, skip_cyclical_dependencies_check=True) for stack in stacks
    }
    return SynthesizedApp(mlops, templates, {name: template.to_json() for name, template in templates.items()})
