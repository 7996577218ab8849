"""The real sentry-sdk transport posting to a loopback receiver; every payload must pass Relay."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from tests.sentry.helpers import assert_relay_accepts
from tests.servers.sentry_receiver import SentryReceiver


def _fail_order(order_id: int) -> None:
    raise ValueError(f"order {order_id} has no items")


def _run_request(bridge: Any) -> None:
    tracer = bridge.tracer_provider.get_tracer("shop.web")
    log = bridge.logger
    with tracer.start_as_current_span(
        "GET /orders/{id}",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "http.route": "/orders/{id}",
            "url.path": "/orders/7",
            "url.scheme": "https",
            "server.address": "shop.example",
            "http.response.status_code": 500,
            "enduser.id": "customer-7",
            "client.address": "203.0.113.9",
            "http.request.header.authorization": "Bearer s3cr3t",
            "note": "ünïcødé ✓ 日本語 🚀",
            "huge": "x" * 200_000,
        },
    ):
        log.info("loading order %s", 7)
        with tracer.start_as_current_span(
            "SELECT shop.orders",
            kind=SpanKind.CLIENT,
            attributes={"db.system.name": "postgresql", "db.query.text": "SELECT * FROM orders WHERE id = $1"},
        ):
            pass
        with tracer.start_as_current_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "GET",
                "url.full": "https://user:pw@payments.example/v1/charges?token=abc",
                "http.response.status_code": 503,
            },
        ) as client_span:
            client_span.set_status(Status(StatusCode.ERROR))
        log.warning("payment service unavailable")
        with tracer.start_as_current_span("validate") as validate:
            validate.set_status(Status(StatusCode.ERROR, "validation failed"))
            validate.add_event("checked inventory", {"sku": "A-1"})
            try:
                _fail_order(7)
            except ValueError as exc:
                validate.record_exception(exc)
        try:
            _fail_order(8)
        except ValueError:
            log.error("could not process order %s", 8, exc_info=True)
        log.critical("disk almost full")


def test_everything_arrives_and_passes_relay(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn(), "tags": {"team": "payments"}})
    _run_request(bridge)
    bridge.flush()
    assert receiver.wait_for(lambda r: len(r.items("transaction")) == 1 and len(r.items("event")) == 3)

    [envelope] = [e for e in receiver.envelopes if e.items[0].type == "transaction"]
    assert envelope.project == "42"
    assert "sentry_key=key" in envelope.auth
    assert envelope.encoding in ("gzip", "br")

    [tx] = receiver.payloads("transaction")
    assert_relay_accepts(tx)
    assert tx["transaction"] == "GET /orders/{id}"
    assert tx["transaction_info"] == {"source": "route"}
    assert tx["release"] == "2.3.1" and tx["environment"] == "production"
    assert tx["user"] == {"id": "customer-7"}  # no IP without send_default_pii
    assert tx["tags"] == {"team": "payments"}
    trace = tx["contexts"]["trace"]
    assert trace["op"] == "http.server" and trace["status"] == "internal_error"
    assert trace["data"]["http.request.header.authorization"] == "[Filtered]"
    assert trace["data"]["note"] == "ünïcødé ✓ 日本語 🚀"
    assert len(trace["data"]["huge"]) == 8192
    assert "client.address" not in trace["data"]
    assert tx["contexts"]["otel"]["resource"]["service.name"] == "shop"
    by_op = {span["op"]: span for span in tx["spans"]}
    assert set(by_op) == {"db", "http.client", "validate"}
    assert by_op["db"]["description"] == "SELECT * FROM orders WHERE id = $1"
    assert by_op["http.client"]["description"] == "GET https://payments.example/v1/charges"
    assert by_op["http.client"]["status"] == "unavailable"
    assert by_op["validate"]["status"] == "internal_error"
    assert all(span["parent_span_id"] == trace["span_id"] for span in tx["spans"])
    assert all(isinstance(span["start_timestamp"], float) for span in tx["spans"])

    events = {e["level"] + ":" + e.get("logger", "span"): e for e in receiver.payloads("event")}
    assert set(events) == {"error:span", "error:shop.orders", "fatal:shop.orders"}
    for event in events.values():
        assert_relay_accepts(event)
        # Trace linking: every error event points at the transaction's trace.
        assert event["contexts"]["trace"]["trace_id"] == trace["trace_id"]

    span_error = events["error:span"]
    [value] = span_error["exception"]["values"]
    assert value["type"] == "ValueError" and value["value"] == "order 7 has no items"
    assert value["stacktrace"]["frames"][-1]["function"] == "_fail_order"
    assert span_error["contexts"]["trace"]["span_id"] == by_op["validate"]["span_id"]
    crumbs = [c["message"] for c in span_error["breadcrumbs"]["values"]]
    assert crumbs[:2] == ["loading order 7", "payment service unavailable"]

    log_error = events["error:shop.orders"]
    assert log_error["logentry"]["formatted"] == "could not process order 8"
    [value] = log_error["exception"]["values"]
    top = value["stacktrace"]["frames"][-1]
    # Frames from the live exception: module and source line are there (text parsing has no module).
    assert top["function"] == "_fail_order" and top["module"] == __name__
    assert top["context_line"] == 'raise ValueError(f"order {order_id} has no items")'
    assert value["mechanism"] == {"type": "logging", "handled": True}
    log_crumbs = [c["message"] for c in log_error["breadcrumbs"]["values"]]
    assert log_crumbs[:2] == ["loading order 7", "payment service unavailable"]
    assert "could not process order 8" not in log_crumbs

    fatal = events["fatal:shop.orders"]
    assert "exception" not in fatal and fatal["logentry"]["formatted"] == "disk almost full"

    assert bridge.stats.count("sent") == 4
    assert bridge.stats.dropped() == {}


def test_transaction_split_across_three_batches(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn()})
    tracer = bridge.tracer_provider.get_tracer("t")
    pipeline = bridge.span_exporter.pipeline
    with tracer.start_as_current_span("job"):
        with tracer.start_as_current_span("step-1"), tracer.start_as_current_span("step-1a"):
            pass
        bridge.flush()  # batch 1: step-1a, step-1
        with tracer.start_as_current_span("step-2"):
            pass
        bridge.flush()  # batch 2
        with tracer.start_as_current_span("step-3"):
            pass
        bridge.flush()  # batch 3
        assert pipeline.assembler.pending == 4
        assert receiver.items() == []
    bridge.flush()  # the root
    assert receiver.wait_for(lambda r: len(r.items("transaction")) == 1)
    [tx] = receiver.payloads("transaction")
    assert tx["transaction"] == "job"
    assert sorted(span["description"] for span in tx["spans"]) == ["step-1", "step-1a", "step-2", "step-3"]
    assert pipeline.assembler.pending == 0


def test_rate_limited_window_sends_nothing_and_counts(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn()})
    receiver.rate_limit(60)
    bridge.logger.error("first")
    bridge.flush()
    assert receiver.wait_for(lambda r: r.rejected == 1)
    for i in range(5):
        bridge.logger.error("during the window %s", i)
    bridge.flush()
    assert receiver.rejected == 1  # nothing else reached the server during the window
    assert receiver.items() == []
    assert bridge.stats.dropped() == {"rate_limited": 6}
    assert bridge.stats.state == "rate_limited"


def test_category_rate_limit_keeps_other_categories(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn()})
    receiver.rate_limit(60, rate_limits_header="60:transaction:organization")
    tracer = bridge.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("first"):
        pass
    bridge.flush()
    assert receiver.wait_for(lambda r: r.rejected == 1)
    receiver.rate_limit(0)  # the server would accept again; the client must still hold back
    with tracer.start_as_current_span("second"):
        pass
    bridge.logger.error("errors still flow")
    bridge.flush()
    assert receiver.wait_for(lambda r: len(r.items("event")) == 1)
    assert receiver.items("transaction") == []
    assert bridge.stats.dropped() == {"rate_limited": 2}


def test_exception_logged_and_recorded_on_span_is_sent_once(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn()})
    tracer = bridge.tracer_provider.get_tracer("t")
    try:
        with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner"):
            try:
                _fail_order(1)
            except ValueError:
                bridge.logger.exception("failed")
                raise
    except ValueError:
        pass
    assert bridge.logger_provider.force_flush(5000)  # the log record is exported first here
    bridge.flush()
    assert receiver.wait_for(lambda r: len(r.items("transaction")) == 1)
    events = receiver.payloads("event")
    assert len(events) == 1, [e.get("logentry") for e in events]
    assert events[0]["logentry"]["formatted"] == "failed"  # the log record came first and won
    assert bridge.span_exporter.pipeline.deduplicated == 2  # inner and outer span events


def test_never_ending_root_stays_bounded(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn(), "orphans": {"max_spans": 50, "timeout_s": 3600}})
    tracer = bridge.tracer_provider.get_tracer("t")
    root = tracer.start_span("consumer-loop")  # never ends
    pipeline = bridge.span_exporter.pipeline
    high_water = 0

    ctx = set_span_in_context(root)
    for i in range(500):
        with tracer.start_as_current_span(f"message-{i}", context=ctx):
            pass
        if i % 10 == 9:
            bridge.flush()
            high_water = max(high_water, pipeline.assembler.pending)
    assert 40 <= high_water <= 50
    assert pipeline.assembler.released >= 450
    bridge.flush()
    assert bridge.stats.snapshot()["orphan_spans_released"] == pipeline.assembler.released
    assert receiver.wait_for(lambda r: len(r.items("transaction")) >= 9)
    orphan = receiver.payloads("transaction")[0]
    assert orphan["contexts"]["trace"]["data"]["otel_bridge.orphan"] is True
    assert orphan["contexts"]["trace"]["parent_span_id"] == format(root.get_span_context().span_id, "016x")


def test_orphans_are_released_by_time_without_new_spans(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn(), "orphans": {"timeout_s": 0.2}})
    tracer = bridge.tracer_provider.get_tracer("t")
    root = tracer.start_span("stuck")  # never ends
    with tracer.start_as_current_span("child", context=set_span_in_context(root)):
        pass
    bridge.flush()
    # No further export or flush: the sweeper alone must release the child.
    assert receiver.wait_for(lambda r: len(r.items("transaction")) == 1, timeout=10)
    [tx] = receiver.payloads("transaction")
    assert tx["transaction"] == "child" and tx["contexts"]["trace"]["data"]["otel_bridge.orphan"] is True
    assert bridge.stats.snapshot()["orphan_spans_released"] == 1
