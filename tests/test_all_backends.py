"""All three backends in one process, as a production configuration runs them.

Each backend has its own suite; this one checks what only shows when they run together: no
exporter's own traffic (HTTP spans, client log records) reaches another exporter, and the
self-metrics on the Prometheus endpoint agree with what the backends received.
"""

from __future__ import annotations

import logging
import re
import urllib.request

from opentelemetry import metrics, trace

from otel_bridge import configure_otel
from tests.servers.es_standin import ESStandIn
from tests.servers.sentry_receiver import running_receiver


def test_sentry_elasticsearch_and_prometheus_together_without_crosstalk() -> None:
    with ESStandIn() as es, running_receiver() as sentry:
        bridge = configure_otel(
            {
                "service": {"name": "shop", "version": "2.3.1", "environment": "test"},
                "traces": {"exporters": ["sentry"]},
                # DEBUG: every client log record (urllib3, elastic_transport, sentry_sdk) reaches the
                # root logger, so a leak through the feedback-loop guard would show up below.
                "logs": {"level": "DEBUG", "exporters": ["elasticsearch", "sentry"]},
                "metrics": {"exporters": ["prometheus"]},
                "exporters": {
                    "sentry": {"dsn": sentry.dsn()},
                    "elasticsearch": {"hosts": [es.url], "index": "logs-shop-default"},
                    "prometheus": {"host": "127.0.0.1", "port": 0},
                },
            }
        )
        tracer = trace.get_tracer("shop")
        orders = metrics.get_meter("shop").create_counter("shop.orders")
        log = logging.getLogger("shop.checkout")
        for i in range(3):
            with tracer.start_as_current_span("POST /checkout") as span:
                span.set_attribute("http.request.method", "POST")
                with tracer.start_as_current_span("SELECT items"):
                    log.info("order %d placed", i)
                orders.add(1)
        with tracer.start_as_current_span("POST /pay"):
            try:
                raise RuntimeError("card declined")
            except RuntimeError:
                log.exception("payment failed")
        # Two rounds: the second would carry whatever the first round's sends produced.
        assert bridge.force_flush(10)
        assert bridge.force_flush(10)
        assert es.wait_for_docs(4, timeout=10)
        assert sentry.wait_for(lambda r: len(r.items("transaction")) >= 4 and r.items("event"), timeout=10)
        status = bridge.status()["exporters"]
        endpoint = status["prometheus"]["endpoint"]
        with urllib.request.urlopen(endpoint, timeout=5) as response:
            scrape = response.read().decode()
        loggers = sorted({d["log"]["logger"] for d in es.seen.docs.values()})
        transactions = sentry.payloads("transaction")
        events = sentry.payloads("event")
        bridge.shutdown(timeout_s=5)

    # Elasticsearch got the app's records only: none from urllib3, elastic_transport or sentry_sdk.
    assert loggers == ["shop.checkout"]
    assert len(es.seen.docs) == 4
    # Sentry got the app's transactions only: no span for the Elasticsearch client's own requests.
    assert sorted(t["transaction"] for t in transactions) == ["POST /checkout"] * 3 + ["POST /pay"]
    assert all(len(t["spans"]) <= 1 for t in transactions)
    (event,) = events
    pay = next(t for t in transactions if t["transaction"] == "POST /pay")
    assert event["contexts"]["trace"]["trace_id"] == pay["contexts"]["trace"]["trace_id"]
    # The self-metrics on the endpoint agree with what the backends received.
    sent = dict(re.findall(r'otel_bridge_exporter_sent_total\{[^}]*exporter="(\w+)"[^}]*\} ([0-9.]+)', scrape))
    assert float(sent["elasticsearch"]) == 4
    assert status["elasticsearch"]["sent"] == 4 and status["elasticsearch"]["dropped"] == 0
    assert re.search(r"^shop_orders_total\{[^}]*\} 3\.0$", scrape, re.MULTILINE)
