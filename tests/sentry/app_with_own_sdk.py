"""Run as a subprocess: an app that calls ``sentry_sdk.init()`` itself AND configures otel-bridge.

argv: bridge DSN, app DSN, order ("app-first" or "bridge-first"). Prints one JSON line of facts.
"""

from __future__ import annotations

import json
import logging
import sys

import sentry_sdk
from opentelemetry import trace

from otel_bridge import configure_otel


def main() -> None:
    bridge_dsn, app_dsn, order = sys.argv[1:4]
    config = {
        "service": {"name": "app", "version": "1.0.0"},
        "traces": {"exporters": ["sentry"]},
        "logs": {"level": "INFO", "exporters": ["sentry"]},
        "metrics": {"exporters": []},
        "exporters": {"sentry": {"dsn": bridge_dsn}},
    }
    if order == "app-first":
        sentry_sdk.init(dsn=app_dsn, traces_sample_rate=None)
        app_client = sentry_sdk.get_client()
        bridge = configure_otel(config)
    else:
        bridge = configure_otel(config)
        sentry_sdk.init(dsn=app_dsn, traces_sample_rate=None)
        app_client = sentry_sdk.get_client()

    tracer = trace.get_tracer("app")
    log = logging.getLogger("app.orders")
    with tracer.start_as_current_span("checkout"):
        log.info("step one")
        log.error("payment declined")  # the app's own logging integration reports this one
        sentry_sdk.capture_message("direct from the app")
    flushed = bridge.force_flush(5)
    same_client = sentry_sdk.get_client() is app_client
    app_dsn_seen = str(sentry_sdk.get_client().dsn)
    sentry_sdk.flush(5)
    status = bridge.status()["exporters"]["sentry"]
    bridge.shutdown(5)
    print(json.dumps({"flushed": flushed, "same_client": same_client, "app_dsn": app_dsn_seen, "status": status}))


if __name__ == "__main__":
    main()
