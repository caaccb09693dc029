"""One module per ``cdk-mlops`` subcommand.

Each module defines ``register(commands)``: it adds its parser to ``commands`` (the subparsers action
of ``cdk-mlops``) and sets ``handler=<function(args) -> int>`` on it with ``set_defaults``. Modules are
imported when the CLI starts, so they import heavy dependencies (the CDK, moto, boto3) inside the
handler, never at module level.
"""

from __future__ import annotations

#: Modules of :mod:`cdk_mlops.commands`, in the order ``cdk-mlops --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "summary",
    "new",
    "diagram",
    "dry_run",
    "run",
    "validate",
    "schema",
    "status", "approve", "rollback",
)
