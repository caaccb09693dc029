"""Names a workflow run gives the things it creates, valid for any execution name.

Step Functions execution names are 1 to 80 characters and may hold ``_`` and other characters that
SageMaker names refuse (``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``, at most 63 characters), as do
``CreateModelPackage``'s ``ClientToken`` (``[a-zA-Z0-9-]+``, at most 36) and CloudFormation's
``ClientRequestToken`` (``[a-zA-Z0-9][-a-zA-Z0-9]*``). The Amazon States Language has no substring
intrinsic, so a readable prefix of the execution name cannot be cut to length; instead every such
name carries ``States.Hash($$.Execution.Name, 'MD5')``: 32 lowercase hex characters, the same for a
redriven or retried execution (idempotent) and different for any two names (unique). A job of model
``churn-xgb`` is ``churn-xgb-<md5 of the execution name>-train``: at most 20 + 1 + 32 + 1 + 5 = 59
characters. ``md5 -s <execution name>`` (or ``hashlib.md5``) finds the jobs of an execution.

S3 prefixes keep the readable execution name (any character is valid in a key).
"""

from __future__ import annotations

import re
from typing import Final

SAGEMAKER_NAME_MAX: Final = 63
"""The longest SageMaker job, model and endpoint-config name (botocore's service model)."""
SAGEMAKER_NAME_PATTERN: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
"""The pattern SageMaker job, model and endpoint-config names follow (botocore's service model)."""
HASH_LENGTH: Final = 32
"""Length of an MD5 digest in hex, the part of each name that stands for the execution name."""

EXECUTION_NAME_HASH: Final = "States.Hash($$.Execution.Name, 'MD5')"
"""The intrinsic that stands for the execution name in every name below."""


def run_name(prefix: str, suffix: str) -> str:
    """``States.Format`` of ``<prefix>-<md5 of the execution name>-<suffix>``, a valid SageMaker name.

    ``prefix`` is usually the model name, ``suffix`` the kind of job (``train``, ``batch``...). Raises
    ``ValueError`` naming the value when the result could be longer than 63 characters or break
    SageMaker's pattern.
    """
    sample = f"{prefix}-{'0' * HASH_LENGTH}-{suffix}"
    if len(sample) > SAGEMAKER_NAME_MAX or not SAGEMAKER_NAME_PATTERN.match(sample):
        raise ValueError(
            f"run names '{prefix}-<32 hex>-{suffix}' must match {SAGEMAKER_NAME_PATTERN.pattern}: "
            f"prefix {prefix!r} and suffix {suffix!r} leave {SAGEMAKER_NAME_MAX - HASH_LENGTH - 2} characters"
        )
    return f"States.Format('{prefix}-{{}}-{suffix}', {EXECUTION_NAME_HASH})"


def client_token(scope: str) -> str:
    """An idempotency token for one call per execution: the MD5 (32 hex characters) of
    ``<scope>/<execution name>``, so executions of the same name in two workflows (``scope``, e.g. the
    model package group) never share a token."""
    if "'" in scope or "{" in scope or "}" in scope or "\\" in scope:
        raise ValueError(f"client token scope {scope!r} may not contain quotes, braces or backslashes")
    return f"States.Hash(States.Format('{scope}/{{}}', $$.Execution.Name), 'MD5')"
