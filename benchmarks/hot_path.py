"""The app's hot path through otel-bridge vs the bare OTel SDK: a log call, a span, a counter add.

Run: .venv/bin/python benchmarks/hot_path.py [--n 50000] [--repeat 7]
Prints the median nanoseconds per operation of each setup. Both sides use the same SDK batch
processors with an exporter that discards, so the difference is what the bridge adds in front.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_bridge.exporters import registry
from otel_bridge.exporters.base import BuildContext, ExporterOptions, ExporterSpec


class NullSpans(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class NullLogs(LogRecordExporter):
    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _null(ctx: BuildContext) -> Any:
    return {"traces": NullSpans, "logs": NullLogs}.get(ctx.signal, InMemoryMetricReader)()


NULL_SPEC = ExporterSpec("null", frozenset({"traces", "logs", "metrics"}), ExporterOptions, build=_null)


def measure(op: Callable[[], None], n: int, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            op()
        samples.append((time.perf_counter_ns() - start) / n)
    return statistics.median(samples)


def bare_sdk() -> dict[str, Callable[[], None]]:
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(BatchSpanProcessor(NullSpans(), max_queue_size=1 << 20))
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(NullLogs(), max_queue_size=1 << 20))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    log = logging.getLogger("bench.bare")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    tracer = tracer_provider.get_tracer("bench")
    counter = meter_provider.get_meter("bench").create_counter("ops")
    return _ops(log, tracer, counter)


def bridge() -> dict[str, Callable[[], None]]:
    from opentelemetry import metrics, trace

    from otel_bridge import configure_otel

    registry.register(NULL_SPEC)
    big = {"batch": {"max_queue_size": 1 << 20}}
    configure_otel(
        {
            "traces": {"exporters": ["null"]},
            "logs": {"level": "INFO", "exporters": ["null"]},
            "metrics": {"exporters": ["null"], "self_metrics": True},
            "exporters": {"null": big},
        }
    )
    log = logging.getLogger("bench.bridge")
    return _ops(log, trace.get_tracer("bench"), metrics.get_meter("bench").create_counter("ops"))


def _ops(log: logging.Logger, tracer: Any, counter: Any) -> dict[str, Callable[[], None]]:
    def log_call() -> None:
        log.info("order %s placed", 42)

    def span() -> None:
        tracer.start_span("op").end()

    def counter_add() -> None:
        counter.add(1, {"route": "/checkout"})

    return {"logger.info": log_call, "span start+end": span, "counter.add": counter_add}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    setups = {"bare SDK": bare_sdk(), "otel-bridge": bridge()}
    print(f"median ns/op over {args.repeat} runs of {args.n}")
    print(f"{'operation':<18}" + "".join(f"{name:>14}" for name in setups))
    for op in next(iter(setups.values())):
        # Alternate the setups run by run so machine noise hits both alike.
        samples: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(args.repeat):
            for name, ops in setups.items():
                samples[name].append(measure(ops[op], args.n, 1))
        row = {name: statistics.median(values) for name, values in samples.items()}
        print(f"{op:<18}" + "".join(f"{row[name]:>14.0f}" for name in setups))


if __name__ == "__main__":
    main()
