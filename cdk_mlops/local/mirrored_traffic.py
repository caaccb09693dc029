"""The production endpoint's CloudWatch metrics during a local shadow test.

On AWS, SageMaker publishes ``ModelLatency``, ``Invocations``, ``Invocation5XXErrors`` and
``InvocationModelErrors`` per endpoint and variant (dimensions ``EndpointName`` and ``VariantName``, a
shadow variant under its own name) in the ``AWS/SageMaker`` namespace ("Monitor Amazon SageMaker AI with
Amazon CloudWatch", https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html), while
the deploy workflow's ``MirrorTraffic`` Wait lets real requests arrive. Locally there are no requests and
the engine skips the Wait, so :func:`mirrored_traffic` stands in for both:

* each ``GetMetricData`` first records a scenario's :class:`VariantTraffic` for every queried variant,
  timestamped one second into the query's window (the traffic that arrived during the Wait), and a
  window shorter than its period (the skipped Wait) is read as one full period from its start;
* percentile statistics (``p99``, ``p50``...), which moto 5.2.5 answers with no value, are computed by
  nearest rank over the recorded values, as CloudWatch documents for percentiles of raw values
  ("CloudWatch statistics definitions", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final
from unittest import mock

__all__ = ["SHADOW_TRAFFIC", "VariantTraffic", "mirrored_traffic", "nearest_rank_percentile"]

_PERCENTILE: Final = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


@dataclasses.dataclass(frozen=True)
class VariantTraffic:
    """What one variant served during the window: ``latencies_us`` (one ``ModelLatency`` value per
    request, in microseconds), ``errors_5xx`` and ``model_errors`` among ``len(latencies_us)`` requests."""

    latencies_us: tuple[float, ...]
    errors_5xx: int = 0
    model_errors: int = 0

    def datapoints(self) -> dict[str, list[float]]:
        """Metric name -> the values to record."""
        return {
            "ModelLatency": list(self.latencies_us),
            "Invocations": [float(len(self.latencies_us))],
            "Invocation5XXErrors": [float(self.errors_5xx)],
            "InvocationModelErrors": [float(self.model_errors)],
        }


def _latencies(low_us: int, high_us: int, count: int) -> tuple[float, ...]:
    """``count`` latencies spread evenly from ``low_us`` to ``high_us``."""
    step = (high_us - low_us) / (count - 1)
    return tuple(float(round(low_us + step * index)) for index in range(count))


#: Release scenario -> variant -> what it served while the shadow test mirrored 200 requests. Passing:
#: the shadow's p99 is 5 % above production's, no errors. Failing: 60 % above, 5 errors of 200 (0.025).
SHADOW_TRAFFIC: Final[Mapping[str, Mapping[str, VariantTraffic]]] = {
    "shadow-passes": {
        "AllTraffic": VariantTraffic(_latencies(20_000, 40_000, 200)),
        "Shadow": VariantTraffic(_latencies(21_000, 42_000, 200)),
    },
    "shadow-fails": {
        "AllTraffic": VariantTraffic(_latencies(20_000, 40_000, 200)),
        "Shadow": VariantTraffic(_latencies(32_000, 64_000, 200), errors_5xx=2, model_errors=3),
    },
}


def nearest_rank_percentile(values: list[float], percent: float) -> float | None:
    """The ``percent`` percentile of ``values`` by nearest rank (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


@contextlib.contextmanager
def mirrored_traffic(traffic: Mapping[str, VariantTraffic]) -> Iterator[None]:
    """While open, ``GetMetricData`` of a variant named in ``traffic`` (by ``VariantName``) sees that
    traffic in its window, once per window start, and percentile statistics have values."""
    from moto.cloudwatch.models import CloudWatchBackend, Statistics

    original_read = CloudWatchBackend.get_metric_data
    original_statistic = Statistics.get_statistics_for_type
    recorded: set[tuple[str, str, datetime.datetime]] = set()

    def statistic(self: Any, stat: str) -> Any:
        match = _PERCENTILE.match(stat)
        if match is None:
            return original_statistic(self, stat)
        return nearest_rank_percentile(self.metric_single_values_list, float(match.group(1)))

    def read(
        backend: Any,
        queries: list[dict[str, Any]],
        start_time: datetime.datetime,
        end_time: datetime.datetime,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        period = max((int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q), default=60)
        end_time = max(end_time, start_time + datetime.timedelta(seconds=period))
        at = start_time.replace(microsecond=0) + datetime.timedelta(seconds=1)
        for query in queries:
            metric = query.get("MetricStat", {}).get("Metric", {})
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            variant = traffic.get(dimensions.get("VariantName", ""))
            endpoint = dimensions.get("EndpointName", "")
            if variant is None or (endpoint, dimensions["VariantName"], at) in recorded:
                continue
            recorded.add((endpoint, dimensions["VariantName"], at))
            backend.put_metric_data(
                "AWS/SageMaker",
                [
                    {
                        "MetricName": name,
                        "Dimensions": [
                            {"Name": "EndpointName", "Value": endpoint},
                            {"Name": "VariantName", "Value": dimensions["VariantName"]},
                        ],
                        "Timestamp": at,
                        "Values": values,
                    }
                    for name, values in variant.datapoints().items()
                ],
            )
        return original_read(backend, queries, start_time, end_time, *args, **kwargs)

    with (
        mock.patch.object(CloudWatchBackend, "get_metric_data", read),
        mock.patch.object(Statistics, "get_statistics_for_type", statistic),
    ):
        yield
