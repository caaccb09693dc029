"""A training job's ``MetricDefinitions`` applied to its output, as SageMaker does.

Per SageMaker's "Define metrics and environment variables" (docs.aws.amazon.com/sagemaker/latest/dg/
automatic-model-tuning-define-metrics-variables.html) and ``MetricDefinition`` in the API reference: each
regex searches every line the algorithm writes to stdout or stderr, and the metric's value is the regex's
first capture group (a number; a match whose group is not a number is ignored). ``FinalMetricDataList``
(``DescribeTrainingJob``) holds one entry per metric that was emitted, with the last value emitted; a
metric that never matched is absent from it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["MetricDefinition", "final_metrics", "parse_metric_definitions"]


class MetricDefinition:
    """One ``{"Name": ..., "Regex": ...}`` of ``AlgorithmSpecification.MetricDefinitions``."""

    def __init__(self, name: str, regex: str) -> None:
        try:
            self.pattern = re.compile(regex)
        except re.error as error:
            raise ValueError(f"MetricDefinitions: {name!r} has an invalid Regex {regex!r}: {error}") from error
        if self.pattern.groups < 1:
            raise ValueError(f"MetricDefinitions: {name!r} Regex {regex!r} has no capture group for the value")
        self.name = name
        self.regex = regex

    def value_in(self, line: str) -> float | None:
        """The metric's value in ``line``, or None when the line does not emit it."""
        match = self.pattern.search(line)
        if match is None or match.group(1) is None:
            return None
        try:
            value = float(match.group(1))
        except ValueError:
            return None
        return None if math.isnan(value) else value


def parse_metric_definitions(request: Mapping[str, Any]) -> list[MetricDefinition]:
    """The metric definitions of a ``CreateTrainingJob`` request (none when it has no such member)."""
    raw: Sequence[Mapping[str, str]] = (request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    return [MetricDefinition(str(item["Name"]), str(item["Regex"])) for item in raw]


def final_metrics(definitions: Sequence[MetricDefinition], lines: Iterable[str]) -> dict[str, float]:
    """Each metric's last emitted value over ``lines``, in the order the definitions list them."""
    last: dict[str, float] = {}
    for line in lines:
        for definition in definitions:
            value = definition.value_in(line)
            if value is not None:
                last[definition.name] = value
    return {definition.name: last[definition.name] for definition in definitions if definition.name in last}
