"""The ``sentry`` exporter configured from YAML through ``configure_otel``, and next to an app that
also uses ``sentry_sdk`` directly."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import trace

from otel_bridge import configure_otel
from tests.servers.sentry_receiver import SentryReceiver

REPO = Path(__file__).resolve().parents[2]


def test_configure_otel_routes_spans_and_errors(receiver: SentryReceiver) -> None:
    bridge = configure_otel(
        {
            "service": {"name": "shop", "version": "2.3.1", "environment": "staging"},
            "traces": {"sampler": {"type": "always_on"}, "exporters": ["sentry"]},
            "logs": {"level": "INFO", "exporters": ["sentry"]},
            "metrics": {"exporters": []},
            "exporters": {"sentry": {"dsn": receiver.dsn(), "tags": {"team": "payments"}}},
        }
    )
    tracer = trace.get_tracer("shop")
    with tracer.start_as_current_span("checkout"):
        logging.getLogger("shop.cart").info("cart loaded")
        logging.getLogger("shop.cart").error("cart total mismatch")
    assert bridge.force_flush(5)
    assert receiver.wait_for(lambda r: len(r.items("transaction")) == 1 and len(r.items("event")) == 1)
    [tx] = receiver.payloads("transaction")
    [event] = receiver.payloads("event")
    assert tx["release"] == "2.3.1" and tx["environment"] == "staging"
    assert event["contexts"]["trace"]["trace_id"] == tx["contexts"]["trace"]["trace_id"]
    assert [c["message"] for c in event["breadcrumbs"]["values"]] == ["cart loaded"]
    status = bridge.status()["exporters"]["sentry"]
    assert status["sent"] == 2 and status["dropped"] == 0
    assert "key@" not in json.dumps(bridge.status())  # the DSN's key never shows
    bridge.shutdown(5)  # while the receiver still runs


def test_transport_errors_are_not_exported_again(receiver: SentryReceiver) -> None:
    """sentry-sdk logs HTTP failures on ``sentry_sdk.errors`` (ERROR); with the bridge's handler on the
    root logger those records must not become events themselves (a feedback loop)."""
    bridge = configure_otel(
        {
            "service": {"name": "shop"},
            "logs": {"level": "DEBUG", "exporters": ["sentry"]},
            "traces": {"exporters": []},
            "metrics": {"exporters": []},
            "exporters": {"sentry": {"dsn": receiver.dsn(), "logs": {"enabled": True, "level": "DEBUG"}}},
        }
    )
    receiver.fail_for(60, status=500)
    logging.getLogger("shop").error("first, refused")
    assert bridge.force_flush(5)
    assert receiver.rejected >= 2  # the event and the log item (then a client report about them)
    receiver.fail_for(0)
    logging.getLogger("shop").error("second, accepted")
    assert bridge.force_flush(5)
    assert bridge.force_flush(5)  # anything the transport logged would be exported by now
    events = receiver.payloads("event")
    assert [e["logentry"]["formatted"] for e in events] == ["second, accepted"]
    bodies = [entry["body"] for payload in receiver.payloads("log") for entry in payload["items"]]
    assert bodies == ["second, accepted"]
    status = bridge.status()["exporters"]["sentry"]
    assert status["failed"] == 2 and status["sent"] == 2  # one event + one log item each time
    bridge.shutdown(5)  # while the receiver still runs


@pytest.mark.parametrize("order", ["app-first", "bridge-first"])
def test_app_with_its_own_sentry_sdk(receiver: SentryReceiver, order: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "OTEL_"))}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("app_with_own_sdk.py")),
            receiver.dsn(42),
            receiver.dsn(43),
            order,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts["flushed"] and facts["same_client"]
    assert facts["app_dsn"].endswith("/43")  # the app's own client is untouched

    # The app's SDK got its message and its logging-integration error, each once, in its project.
    app_events = receiver.payloads("event", project="43")
    messages = sorted((e.get("message") or e.get("logentry", {}).get("message", "")) for e in app_events)
    assert messages == ["direct from the app", "payment declined"]
    # The bridge sent the transaction, and left the error to the app's SDK (not sent twice).
    assert receiver.payloads("event", project="42") == []
    [tx] = receiver.payloads("transaction", project="42")
    assert tx["transaction"] == "checkout"
    assert receiver.payloads("transaction", project="43") == []
    assert facts["status"]["deferred_to_app_sdk"] == 1
