"""The bridge's own metrics, ``otel_bridge.exporter.*``, read from the exporters' stats.

Observable instruments read :class:`StatsRegistry` at collection time, so counting costs the export
path one integer add and the app's hot path nothing. On a Prometheus endpoint they appear as
``otel_bridge_exporter_sent_total{exporter="es"}`` and so on.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider

from otel_bridge._internal.stats import COUNTERS, StatsRegistry

METER_NAME = "otel_bridge"


def register_self_metrics(meter_provider: MeterProvider, stats: StatsRegistry) -> None:
    """Creates the self-metric instruments on ``meter_provider``."""
    meter = meter_provider.get_meter(METER_NAME)

    def counter_callback(counter: str):  # type: ignore[no-untyped-def]
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(s.count(counter), {"exporter": s.name, "type": s.type}) for s in stats]

        return observe

    for counter in COUNTERS:
        meter.create_observable_counter(
            f"otel_bridge.exporter.{counter}",
            callbacks=[counter_callback(counter)],
            unit="{item}",
            description=f"Items {counter} per exporter.",
        )

    def observe_dropped(_options: CallbackOptions) -> Iterable[Observation]:
        out = []
        for s in stats:
            dropped = s.dropped() or {"none": 0}
            out += [Observation(n, {"exporter": s.name, "type": s.type, "reason": r}) for r, n in dropped.items()]
        return out

    meter.create_observable_counter(
        "otel_bridge.exporter.dropped",
        callbacks=[observe_dropped],
        unit="{item}",
        description="Items lost per exporter, by reason.",
    )

    def observe_queue(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(s.queued(), {"exporter": s.name, "type": s.type}) for s in stats]

    meter.create_observable_gauge(
        "otel_bridge.exporter.queue.size",
        callbacks=[observe_queue],
        unit="{item}",
        description="Items waiting in memory per exporter.",
    )

    def observe_overflow(_options: CallbackOptions) -> Iterable[Observation]:
        # Readers that see the SDK fold series into otel.metric.overflow="true" list those metrics here.
        out = []
        for s in stats:
            read = s.extra.get("overflowed_metrics")
            if read is not None:
                out.append(Observation(len(read()), {"exporter": s.name, "type": s.type}))
        return out

    meter.create_observable_gauge(
        "otel_bridge.metrics.overflowed",
        callbacks=[observe_overflow],
        unit="{metric}",
        description="Metrics whose series passed metrics.cardinality_limit (folded into one overflow series).",
    )
    latency = meter.create_histogram(
        "otel_bridge.exporter.export.duration",
        unit="s",
        description="Duration of one export call per exporter.",
        explicit_bucket_boundaries_advisory=[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    )
    stats.bind_latency(lambda name, seconds: latency.record(seconds, {"exporter": name}))
