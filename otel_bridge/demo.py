"""``otel-bridge demo``: the main job on the built-in default, with no backend to run.

A small shop workload (HTTP server spans with DB children, logs at every level including an
exception, counters and a latency histogram) runs through the default configuration: logs become
Elasticsearch bulk NDJSON, spans and errors become Sentry envelopes in a directory, metrics are
served on a local Prometheus endpoint. At the end it prints where everything went.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import urllib.request
from pathlib import Path
from typing import TextIO

DEFAULT_PORT = 9464


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    return preferred


def _workload(seconds: float) -> int:
    from opentelemetry import metrics, trace

    tracer = trace.get_tracer("otel_bridge.demo.shop")
    meter = metrics.get_meter("otel_bridge.demo.shop")
    orders = meter.create_counter("shop.orders", unit="{order}", description="Orders placed")
    duration = meter.create_histogram("http.server.request.duration", unit="s", description="Request latency")
    in_flight = meter.create_up_down_counter("http.server.active_requests", unit="{request}")
    log = logging.getLogger("shop.checkout")
    rng = random.Random(7)
    deadline = time.monotonic() + seconds
    count = 0
    while count < 5 or time.monotonic() < deadline:
        count += 1
        route = rng.choice(["/checkout", "/cart", "/search"])
        started = time.perf_counter()
        in_flight.add(1, {"http.route": route})
        with tracer.start_as_current_span(
            f"POST {route}",
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": "POST", "http.route": route, "url.path": route},
        ) as span:
            span.set_attribute("enduser.id", f"user-{rng.randint(1, 50)}")
            with tracer.start_as_current_span(
                "SELECT shop.items",
                kind=trace.SpanKind.CLIENT,
                attributes={"db.system.name": "postgresql", "db.query.text": "SELECT * FROM items WHERE id = $1"},
            ):
                time.sleep(rng.uniform(0.001, 0.01))
            log.info("order %d placed", count, extra={"order.id": count, "http.route": route})
            status = 200
            if count % 7 == 0:
                log.warning("payment provider slow", extra={"order.id": count})
            if count % 11 == 0:
                try:
                    raise ValueError(f"card declined for order {count}")
                except ValueError:
                    log.exception("payment failed", extra={"order.id": count})
                    status = 402
            span.set_attribute("http.response.status_code", status)
            orders.add(1, {"http.route": route, "status": str(status)})
        in_flight.add(-1, {"http.route": route})
        duration.record(time.perf_counter() - started, {"http.route": route})
    return count


def run_demo(out: TextIO, seconds: float = 3.0, out_dir: str | None = None) -> int:
    """Runs the workload on the built-in default and reports where each signal went."""
    from otel_bridge import configure_otel

    target = Path(out_dir or os.environ.get("OTEL_BRIDGE_OUT", "./otel-bridge-out")).resolve()
    os.environ["OTEL_BRIDGE_OUT"] = str(target)
    port = _free_port(int(os.environ.get("OTEL_BRIDGE_PROMETHEUS_PORT", DEFAULT_PORT)))
    os.environ["OTEL_BRIDGE_PROMETHEUS_PORT"] = str(port)
    os.environ.setdefault("OTEL_SERVICE_NAME", "otel-bridge-demo")
    os.environ.pop("OTEL_BRIDGE_CONFIG", None)

    bridge = configure_otel(None if not Path("otel-bridge.yaml").is_file() else "otel-bridge.yaml")
    print(f"otel-bridge demo: configuration {bridge.source}", file=out)
    print(f"running a small shop workload for {seconds:.0f}s ...", file=out)
    requests = _workload(seconds)
    bridge.force_flush(10)

    scrape = ""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            scrape = response.read().decode("utf-8", "replace")
    except OSError as exc:
        scrape = f"(scrape failed: {exc})"
    status = bridge.status()
    bridge.shutdown(timeout_s=5)

    print(f"\n{requests} requests handled. Where everything went:", file=out)
    for name, info in status["exporters"].items():
        dropped = f", dropped {info['dropped']}" if info["dropped"] else ""
        print(f"  {name:<14} {info['type']:<14} sent {info['sent']}{dropped}  -> {info['target']}", file=out)
    logs_file = target / "logs.ndjson"
    if logs_file.is_file():
        lines = logs_file.read_text(encoding="utf-8").count("\n")
        print(f"\nlogs (Elasticsearch bulk NDJSON, {lines // 2} documents): {logs_file}", file=out)
        print(
            f"  load into Elasticsearch: curl -H 'Content-Type: application/x-ndjson' "
            f"--data-binary @{logs_file} http://localhost:9200/_bulk",
            file=out,
        )
    sentry_dir = target / "sentry"
    if sentry_dir.is_dir():
        envelopes = sorted(sentry_dir.glob("*.envelope"))
        print(f"\nSentry envelopes ({len(envelopes)} files): {sentry_dir}", file=out)
    print(f"\nmetrics were served at http://127.0.0.1:{port}/metrics; a few lines of the last scrape:", file=out)
    shown = [line for line in scrape.splitlines() if line.startswith(("shop_orders", "http_server", "otel_bridge"))]
    for line in shown[:8]:
        print(f"  {line}", file=out)
    return 0
