#!/usr/bin/env python3
"""The example app: a pipeline stack and two endpoint stacks for every ``models/*/model.yaml``.

``cdk synth -c models=churn-xgb`` synthesizes only that model (every file is still validated);
``cdk synth -c models_dir=examples`` reads the model files of another folder. With credentials (the CLI
sets ``CDK_DEFAULT_ACCOUNT``), a chosen model still holding the examples' placeholder accounts or
connection stops synthesis (``cdk_mlops.deploy_guard``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

from cdk_mlops.app_builder import build_app, enable_compliance_checks, selected_models
from cdk_mlops.config import ModelConfigError
from cdk_mlops.constructs.hooks import HookReturnError
from cdk_mlops.deploy_guard import refuse_placeholders

MODELS_DIR = Path(__file__).resolve().parent / "models"


def main() -> None:
    app = cdk.App()
    enable_compliance_checks(app)
    try:
        models_dir = app.node.try_get_context("models_dir") or MODELS_DIR
        mlops = build_app(app, models_dir, only=selected_models(app))
        refuse_placeholders([stacks.config for stacks in mlops.models.values()], models_dir)
    except (ModelConfigError, HookReturnError) as error:  # the file, field or hook, and the value: no traceback
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    app.synth()


if __name__ == "__main__":
    main()
