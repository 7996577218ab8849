"""The app's hot path through otel-bridge vs the bare OTel SDK: a log call, a span, a counter add.

Run from the repository root: .venv/bin/python benchmarks/hot_path.py [--n 50000] [--repeat 7] [--backends]
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
    """CPU time of the calling thread per call: what the app's thread spends, without the time it
    waits for the GIL while the exporters' own threads encode and send (that shows in wall time)."""
    clock = time.thread_time_ns if CPU_TIME else time.perf_counter_ns
    samples = []
    for _ in range(repeat):
        start = clock()
        for _ in range(n):
            op()
        samples.append((clock() - start) / n)
    return statistics.median(samples)


CPU_TIME = True


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


def _server(kind: str) -> str:
    """Starts ``benchmarks/_servers.py kind`` in its own process; returns its URL (it exits with us)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("_servers.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    _children.append(proc)
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


_children: list[Any] = []


def bare_sdk_otlp() -> dict[str, Callable[[], None]]:
    """The standard alternative: the SDK's OTLP/HTTP exporters to a collector (a loopback receiver)."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url = _server("otlp")
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"), max_queue_size=1 << 20)
    )
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs"), max_queue_size=1 << 20)
    )
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()], shutdown_on_exit=False)
    log = logging.getLogger("bench.otlp")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    return _ops(log, tracer_provider.get_tracer("bench"), meter_provider.get_meter("bench").create_counter("ops"))


def bridge_backends() -> dict[str, Callable[[], None]]:
    """The real pipeline: logs → Elasticsearch, spans and errors → Sentry (loopback stand-ins in other
    processes), metrics → the Prometheus reader. Queues are sized so nothing is dropped while measuring."""
    from opentelemetry import metrics, trace

    from otel_bridge import configure_otel

    es_url, dsn = _server("es"), _server("sentry")
    big = {"max_queue_size": 1 << 20}
    configure_otel(
        {
            "traces": {"exporters": ["sentry"]},
            "logs": {"level": "INFO", "exporters": ["elasticsearch", "sentry"]},
            "metrics": {"exporters": ["prometheus"]},
            "exporters": {
                "elasticsearch": {"hosts": [es_url], "batch": {**big, "max_queue_bytes": "2GiB"}},
                "sentry": {"dsn": dsn, "batch": big},
                "prometheus": {"host": "127.0.0.1", "port": 0},
            },
        }
    )
    log = logging.getLogger("bench.backends")
    return _ops(log, trace.get_tracer("bench.b"), metrics.get_meter("bench.b").create_counter("ops_b"))


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
    parser.add_argument("--single", nargs=2, metavar=("SETUP", "OP"), help=argparse.SUPPRESS)
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the thread's CPU time")
    parser.add_argument(
        "--backends", action="store_true", help="measure with the Elasticsearch, Sentry and Prometheus exporters"
    )
    args = parser.parse_args()
    global CPU_TIME
    CPU_TIME = not args.wall
    if args.single:
        # For benchmarks/instructions.py: one setup, one operation, n calls, then leave at once.
        import os

        setup, op = args.single
        ops = {"sdk": bare_sdk, "bridge": bridge}[setup]()
        call = ops[op]
        if os.environ.get("HOT_PATH_NO_GC"):
            import gc

            gc.disable()
        for _ in range(args.n):
            call()
        os._exit(0)
    setups = {"bare SDK": bare_sdk(), "otel-bridge": bridge()}
    if args.backends:
        # configure_otel() replaces the previous bridge: the null setup above stops being measured.
        setups = {"SDK+OTLP": bare_sdk_otlp(), "bridge+backends": bridge_backends()}
    clock = "wall-clock" if args.wall else "calling-thread CPU"
    print(f"median {clock} ns/op over {args.repeat} runs of {args.n}")
    print(f"{'operation':<18}" + "".join(f"{name:>16}" for name in setups))
    for op in next(iter(setups.values())):
        # Alternate the setups run by run so machine noise hits both alike.
        samples: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(args.repeat):
            for name, ops in setups.items():
                samples[name].append(measure(ops[op], args.n, 1))
        row = {name: statistics.median(values) for name, values in samples.items()}
        print(f"{op:<18}" + "".join(f"{row[name]:>16.0f}" for name in setups))


if __name__ == "__main__":
    main()
