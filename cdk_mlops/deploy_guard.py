"""Keeps the shipped example models from being deployed by accident.

The example ``model.yaml`` files name placeholder accounts (``111111111111`` in their CodeConnections
ARNs, ``222222222222`` and ``333333333333`` as production accounts) and an all-zero connection id.
They synthesize offline as they are; but when the CDK CLI has found credentials (it then sets
``CDK_DEFAULT_ACCOUNT``), a model still holding a placeholder stops synthesis with the field and the
value, and how to deploy only your own models.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from cdk_mlops.config.loader import ModelConfigError
from cdk_mlops.config.model_config import ModelConfig

#: Accounts the examples use; never real ones.
PLACEHOLDER_ACCOUNTS = ("111111111111", "222222222222", "333333333333")
#: The connection id of the examples' CodeConnections ARNs.
PLACEHOLDER_CONNECTION_ID = "00000000-0000-0000-0000-000000000000"


def placeholder_problems(config: ModelConfig) -> list[str]:
    """One ``field: ...`` line per placeholder ``config`` still holds."""
    problems = []
    arn = config.source.connection_arn
    if arn is not None:
        account = arn.split(":")[4]
        if account in PLACEHOLDER_ACCOUNTS or arn.endswith(f"/{PLACEHOLDER_CONNECTION_ID}"):
            problems.append(
                f"source.connection_arn: is the examples' placeholder (account {account}, connection "
                f"{arn.rsplit('/', 1)[-1]}): create a CodeConnections connection and put its ARN here (got {arn!r})"
            )
    for stage, endpoint in (("staging", config.endpoints.staging), ("production", config.endpoints.production)):
        if endpoint.account in PLACEHOLDER_ACCOUNTS:
            problems.append(
                f"endpoints.{stage}.account: is a placeholder account of the examples: put the account that "
                f"hosts the endpoint here, or leave it out (got {endpoint.account!r})"
            )
    return problems


def refuse_placeholders(
    configs: Iterable[ModelConfig], models_dir: Path | str, environment: Mapping[str, str] | None = None
) -> None:
    """Raises ``ModelConfigError`` for the first of ``configs`` (files ``<models_dir>/<name>/model.yaml``)
    that holds a placeholder, when ``CDK_DEFAULT_ACCOUNT`` is set in ``environment`` (default: this
    process's): the CLI found credentials, so this synthesis may be deployed. Offline, it does nothing."""
    account = (os.environ if environment is None else environment).get("CDK_DEFAULT_ACCOUNT")
    if not account:
        return
    for config in configs:
        problems = placeholder_problems(config)
        if problems:
            problems.append(
                f"<deploy>: the CDK CLI found credentials for account {account}, so these stacks could be "
                f"deployed; deploy only your own models: npx cdk deploy -c models=<your model> "
                f'"Mlops-<your model>-*" (or remove the examples from {models_dir})'
            )
            raise ModelConfigError(Path(models_dir) / config.name / "model.yaml", problems)
