"""Static checks of every state machine in a cloud assembly.

Usage: ``python scripts/check_state_machines.py cdk.out``

For each ``AWS::StepFunctions::StateMachine`` in each template: renders the definition to plain ASL
(tokens resolved to fake values by :mod:`cdk_mlops.local.harness`), validates it with
``node_modules/.bin/asl-validator``, checks that every ``StartAt``/``Next``/``Default``/Catch target
exists, that every Task whose ``Resource`` contains ``:sagemaker:`` has both Retry and Catch, and that
every Retry/Catch error name is ``States.*`` or comes from the error table of its Task's integration
(:mod:`cdk_mlops.constructs.error_names`; any other name never matches).
Exits 1 with a list of problems, 0 if there are none.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cdk_mlops.constructs.error_names import unknown_error_names  # noqa: E402
from cdk_mlops.local.harness import load_assembly_templates, resolve_state_machines  # noqa: E402

VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def transition_problems(container: Mapping[str, Any], where: str = "") -> list[str]:
    """Missing StartAt/Next/Default/Catch targets and SageMaker Tasks without Retry or Catch."""
    problems: list[str] = []
    states: Mapping[str, Any] = container.get("States", {})
    start = container.get("StartAt")
    if start not in states:
        problems.append(f"{where}StartAt {start!r} is not a state")
    for name, state in states.items():
        targets = [("Next", state.get("Next")), ("Default", state.get("Default"))]
        targets += [("Choice Next", choice.get("Next")) for choice in state.get("Choices", [])]
        targets += [("Catch Next", catch.get("Next")) for catch in state.get("Catch", [])]
        for field, target in targets:
            if target is not None and target not in states:
                problems.append(f"{where}state {name!r}: {field} {target!r} is not a state")
        if state.get("Type") == "Task" and ":sagemaker:" in str(state.get("Resource", "")):
            missing = [field for field in ("Retry", "Catch") if not state.get(field)]
            if missing:
                problems.append(f"{where}SageMaker task {name!r} has no {' or '.join(missing)}")
        for index, branch in enumerate(state.get("Branches", [])):
            problems += transition_problems(branch, f"{where}{name}[branch {index}] ")
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                problems += transition_problems(state[key], f"{where}{name}[{key}] ")
    return problems


def validator_problems(definition: Mapping[str, Any], validator: Path = VALIDATOR) -> list[str]:
    """asl-validator's findings for ``definition`` (empty if it is valid)."""
    with tempfile.NamedTemporaryFile("w", suffix=".asl.json", delete=False) as handle:
        json.dump(definition, handle)
        path = Path(handle.name)
    try:
        completed = subprocess.run(
            [str(validator), "--json-path", str(path)], capture_output=True, text=True, check=False
        )
    finally:
        path.unlink(missing_ok=True)
    if completed.returncode == 0:
        return []
    output = (completed.stdout + completed.stderr).strip()
    return [f"asl-validator: {line}" for line in output.splitlines() if line.strip()] or ["asl-validator failed"]


def check_definition(definition: Mapping[str, Any], validator: Path = VALIDATOR) -> list[str]:
    """Every problem found in one plain ASL definition."""
    return validator_problems(definition, validator) + transition_problems(definition) + unknown_error_names(definition)


def check_assembly(assembly: Path) -> tuple[int, list[str]]:
    """``(state machines checked, problems)`` for every template in ``assembly``."""
    templates = load_assembly_templates(assembly)
    machines = resolve_state_machines(templates)
    problems = [
        f"{stack}/{logical_id}: {problem}"
        for (stack, logical_id), definition in machines.items()
        for problem in check_definition(definition)
    ]
    return len(machines), problems


def main(argv: Sequence[str] | None = None) -> int:
    """Checks the assembly named on the command line (default ``cdk.out``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    assembly = Path(args[0] if args else "cdk.out")
    if not list(assembly.glob("*.template.json")):
        print(f"error: no templates in {assembly} (run 'cdk synth' first)", file=sys.stderr)
        return 2
    if not VALIDATOR.exists():
        print(f"error: {VALIDATOR} not found (run 'npm ci')", file=sys.stderr)
        return 2
    count, problems = check_assembly(assembly)
    if problems:
        print(f"{len(problems)} problem(s) in {count} state machines of {assembly}:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(f"OK: {count} state machines in {assembly}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
