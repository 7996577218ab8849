"""The exporters on their own, as standard OTel components: OTEL_*_EXPORTER names through the SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.servers.es_standin import ESStandIn
from tests.servers.sentry_receiver import running_receiver

APP = textwrap.dedent(
    """
    import logging
    from opentelemetry import trace, _logs
    from opentelemetry.sdk._configuration import _OTelSDKConfigurator

    # What opentelemetry-distro's configurator does: exporters looked up by entry-point name.
    _OTelSDKConfigurator().configure()
    # INFO on the root: the HTTP clients' own INFO records reach the SDK's handler unless filtered.
    logging.getLogger().setLevel(logging.INFO)
    tracer = trace.get_tracer("standalone")
    with tracer.start_as_current_span("GET /orders", attributes={"http.request.method": "GET"}) as span:
        try:
            raise KeyError("order 7")
        except KeyError:
            logging.getLogger("shop").exception("lookup failed")
        logging.getLogger("shop").warning("slow")
    trace.get_tracer_provider().force_flush()
    _logs.get_logger_provider().force_flush()
    logging.getLogger("shop").warning("after a round of sends")
    trace.get_tracer_provider().shutdown()
    _logs.get_logger_provider().shutdown()
    print("DONE", flush=True)
    """
)


def run_app(tmp_path: Path, settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs APP with only ``settings`` among the OTEL_/SENTRY_/ELASTICSEARCH_ variables."""
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SENTRY_", "ELASTICSEARCH_"))}
    env.update(
        {
            "OTEL_SERVICE_NAME": "standalone",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
            **settings,
        }
    )
    # Without the client-logger guard the app loops on its exporters' own log records and never ends.
    command = [sys.executable, "-W", "ignore::DeprecationWarning", str(app)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "DONE" in result.stdout
    return result


def test_otel_exporter_env_vars_reach_our_exporters_without_our_yaml(tmp_path: Path) -> None:
    with ESStandIn() as es, running_receiver() as sentry:
        run_app(
            tmp_path,
            {
                "OTEL_TRACES_EXPORTER": "sentry",
                "OTEL_LOGS_EXPORTER": "elasticsearch,sentry",
                "SENTRY_DSN": sentry.dsn(),
                "ELASTICSEARCH_URL": es.url,
                "OTEL_BRIDGE_ES_INDEX": "logs-standalone-default",
            },
        )
        assert es.wait_for_docs(3, timeout=10)
        assert sentry.wait_for(lambda r: r.items("transaction") and r.items("event"), timeout=10)
        docs = {d["message"]: d for d in es.seen.docs.values()}
        indices = set(es.seen.index_of.values())
        events = sentry.payloads("event")
        transactions = sentry.payloads("transaction")
    assert [t["transaction"] for t in transactions] == ["GET /orders"]
    (event,) = events
    assert event["exception"]["values"][-1]["type"] == "KeyError"
    assert event["contexts"]["trace"]["trace_id"] == transactions[0]["contexts"]["trace"]["trace_id"]
    # Only the app's records: none of the clients' own "POST /_bulk" / envelope records came back.
    assert set(docs) == {"lookup failed", "slow", "after a round of sends"}
    assert docs["lookup failed"]["error"]["type"] == "KeyError"
    assert docs["slow"]["service"]["name"] == "standalone"
    assert indices == {"logs-standalone-default"}


def test_elasticsearch_alone_behind_the_sdk_handler_does_not_loop(tmp_path: Path) -> None:
    with ESStandIn() as es:
        run_app(
            tmp_path,
            {"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "elasticsearch", "ELASTICSEARCH_URL": es.url},
        )
        assert es.wait_for_docs(3, timeout=10)
        messages = sorted(d["message"] for d in es.seen.docs.values())
    assert messages == ["after a round of sends", "lookup failed", "slow"]
