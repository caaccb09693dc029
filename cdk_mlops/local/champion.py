"""Local champions for the champion/challenger gate: read the champion rules of a synthesized training
workflow and seed the local SageMaker with an Approved package the candidate beats or loses to.

The rules come from the definition (``ReadChampion``'s bars and each ``ChampionGate`` Choice), so the
scenarios follow whatever a model's ``quality_gate`` says. The champion is registered as the training
workflow registers every version: the gate's metrics as strings in ``CustomerMetadataProperties``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["CHAMPION_SCENARIOS", "ChampionRule", "champion_rules", "champion_table", "champion_values", "seed_champion"]

#: Training scenarios of the champion gate and what they script.
CHAMPION_SCENARIOS: Final[Mapping[str, str]] = {
    "champion-wins": (
        "an Approved champion is seeded and the candidate beats it on every champion rule: registered "
        "(models with beat_champion_by / within_champion_by rules only)"
    ),
    "champion-loses": (
        "an Approved champion is seeded that the candidate does not beat on the first champion rule: the "
        "topic is told candidate vs champion and nothing is registered (champion rules only)"
    ),
    "no-champion": (
        "the package group has no Approved package: the champion rules pass, the topic is told so, and the "
        "model is registered (champion rules only)"
    ),
}

_BAR: Final = re.compile(r'"(?P<key>[A-Za-z0-9_]+)": \$number\(\$m\.`(?P<metric>[^`]+)`\) \+ \((?P<offset>[-0-9.e]+)\)')
_METRICS_PREFIX: Final = "$.evaluation.metrics."


@dataclasses.dataclass(frozen=True)
class ChampionRule:
    """One champion rule as synthesized: the candidate must reach ``champion + offset`` in ``direction``
    (1: at least, -1: at most). ``path`` is where the candidate's value sits under ``$.evaluation.metrics``."""

    key: str
    metric: str
    offset: float
    direction: int
    path: tuple[str, ...]


def champion_rules(states: Mapping[str, Any]) -> list[ChampionRule]:
    """The champion rules of a training workflow's ``states``, in gate order; ``[]`` without any."""
    read = states.get("ReadChampion")
    if read is None:
        return []
    offsets = {m["key"]: (m["metric"], float(m["offset"])) for m in _BAR.finditer(str(read.get("Output", "")))}
    rules = []
    for name, state in states.items():
        if not name.startswith("ChampionGate "):
            continue
        key = name.removeprefix("ChampionGate ")
        for choice in state.get("Choices", []):
            for operator, direction in (("NumericGreaterThanEqualsPath", 1), ("NumericLessThanEqualsPath", -1)):
                if operator in choice:
                    path = str(choice["Variable"]).removeprefix(_METRICS_PREFIX).removesuffix("[0]")
                    metric, offset = offsets[key]
                    rules.append(ChampionRule(key, metric, offset, direction, tuple(path.split("."))))
    # in quality_gate order: ChampionGate <key> rejects into NotifyBelowChampion<index of the rule>
    return sorted(
        rules,
        key=lambda rule: int(str(states[f"ChampionGate {rule.key}"]["Default"]).removeprefix("NotifyBelowChampion")),
    )


def _value_at(metrics: Mapping[str, Any], path: tuple[str, ...]) -> float:
    node: Any = metrics
    for part in path:
        node = node[part]
    if isinstance(node, list):  # a training metric, as the JSONPath filter of ExtractTrainingMetrics yields it
        node = node[0]
    return float(node)


def champion_values(
    rules: list[ChampionRule], metrics: Mapping[str, Any], scenario: str, *, losing_rule: int = 0
) -> dict[str, float]:
    """The champion's metric values for ``scenario``: 0.01 on the candidate's side of each bar
    (``champion-wins``), or, for ``champion-loses``, rule ``losing_rule``'s (default the first) 0.01 on the
    other side, so the candidate passes every rule before it and stops there."""
    values = {}
    for index, rule in enumerate(rules):
        candidate = _value_at(metrics, rule.path)
        side = 1 if scenario == "champion-loses" and index == losing_rule else -1
        values[rule.metric] = round(candidate - rule.offset + side * 0.01 * rule.direction, 4)
    return values


def seed_champion(
    sagemaker: Any,
    group: str,
    rules: list[ChampionRule],
    metrics: Mapping[str, Any],
    scenario: str,
    *,
    losing_rule: int = 0,
) -> str | None:
    """Registers an Approved champion in ``group`` for ``champion-wins`` / ``champion-loses`` through the
    ``sagemaker`` client (see :func:`champion_values`); returns its ARN (None for any other scenario)."""
    if scenario not in ("champion-wins", "champion-loses"):
        return None
    values = champion_values(rules, metrics, scenario, losing_rule=losing_rule)
    response = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription="The champion seeded by cdk_mlops.local.champion",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/champion:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={metric: repr(value) for metric, value in values.items()},
    )
    return str(response["ModelPackageArn"])


def _last_state_output(history: Sequence[Mapping[str, Any]], key: str) -> Any:
    found = None
    for event in history:
        details = event.get("stateExitedEventDetails")
        if not details or not details.get("output"):
            continue
        try:
            output = json.loads(details["output"])
        except ValueError:
            continue
        if isinstance(output, dict) and key in output:
            found = output[key]
    return found


def champion_table(states: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> list[str]:
    """Lines comparing the candidate with the champion per champion rule, from a training execution's
    ``history``: the champion's version, each metric's candidate value, champion value, the bar and the
    verdict; ``[]`` for a workflow without champion rules or a run that did not reach the gate."""
    rules = champion_rules(states)
    evaluation = _last_state_output(history, "evaluation")
    if not rules or not isinstance(evaluation, dict):
        return []
    champion = _last_state_output(history, "champion")
    if not isinstance(champion, dict):
        return [
            f"Champion: none (no Approved package yet): champion rules on {', '.join(r.metric for r in rules)} pass"
        ]
    width = max(len("metric"), *(len(rule.metric) for rule in rules))
    lines = [
        f"Champion: version {champion.get('ModelPackageVersion')} ({champion.get('ModelPackageArn')})",
        f"  {'metric':<{width}}  {'candidate':>9}  {'champion':>9}  {'needs':>11}  result",
    ]
    for rule in rules:
        try:
            candidate: float | None = _value_at(evaluation.get("metrics", {}), rule.path)
        except (KeyError, IndexError, TypeError, ValueError):
            candidate = None
        value = champion.get("metrics", {}).get(rule.key)
        bar = champion.get("bars", {}).get(rule.key)
        if bar is None or value is None:
            lines.append(
                f"  {rule.metric:<{width}}  {_shown(candidate):>9}  {'-':>9}  {'-':>11}  pass (champion has no value)"
            )
            continue
        needs = f"{'>=' if rule.direction > 0 else '<='} {bar:.4g}"
        passed = candidate is not None and (candidate - bar) * rule.direction >= 0
        lines.append(
            f"  {rule.metric:<{width}}  {_shown(candidate):>9}  {float(value):>9.4f}  {needs:>11}  "
            f"{'pass' if passed else 'FAIL'}"
        )
    return lines


def _shown(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4f}"
