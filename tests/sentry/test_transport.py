"""The real sentry-sdk transport posting to a loopback receiver; every payload must pass Relay."""

from __future__ import annotations

from typing import Any

import pytest
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


def test_envelopes_left_when_the_shutdown_flush_times_out_are_counted() -> None:
    """A backend that accepts connections but never answers: shutdown gives up after its bound, and
    every envelope still queued is counted (``shutdown``), never sent later behind the app's back."""
    import socket

    from otel_bridge._internal.stats import ExporterStats
    from otel_bridge.exporters.sentry import envelope as env
    from otel_bridge.exporters.sentry.client import SentryHttpSink
    from otel_bridge.exporters.sentry.options import SentryOptions

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)  # never accepted: requests hang until the client's timeout
        dsn = f"http://key@127.0.0.1:{hole.getsockname()[1]}/42"
        sink = SentryHttpSink(dsn, SentryOptions(dsn=dsn, timeout_s=2))  # type: ignore[arg-type]
        stats = ExporterStats("sentry", "sentry")
        for i in range(5):
            sink.send(env.event_envelope("event", {"event_id": f"{i:032x}", "message": "m"}, None), stats)
        assert not sink.flush(0.3)  # the first request hangs
        sink.close(0.2)
        assert stats.dropped() == {"shutdown": 4}  # the one being sent ends as network_error later
        assert sink.in_flight() <= 1


def _attempts_in_one_span(bridge: Any) -> None:
    tracer = bridge.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("job") as job:
        for attempt in range(3):
            try:
                _fail_order(1)
            except ValueError as exc:
                bridge.logger.exception("attempt %s failed", attempt)
                job.record_exception(exc)


def _items_in_child_spans(bridge: Any) -> None:
    tracer = bridge.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("batch"):
        for item in range(3):
            with tracer.start_as_current_span("item"):
                try:
                    _fail_order(1)
                except ValueError:
                    bridge.logger.exception("item %s failed", item)


def _attempts_escaping_child_spans(bridge: Any) -> None:
    tracer = bridge.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("request"):
        for attempt in range(3):
            try:
                with tracer.start_as_current_span("attempt"), tracer.start_as_current_span("call"):
                    _fail_order(1)
            except ValueError:
                bridge.logger.exception("attempt %s failed", attempt)


@pytest.mark.parametrize(
    "scenario", [_attempts_in_one_span, _items_in_child_spans, _attempts_escaping_child_spans], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("logs_first", [True, False])
def test_distinct_exceptions_at_one_line_of_one_trace_are_all_sent(
    receiver: SentryReceiver, make_bridge: Any, scenario: Any, logs_first: bool
) -> None:
    """Three failures raised at the same line in one trace are three events, whichever copies (log
    record, the span events of each span they escaped) are exported first; the copies are not."""
    bridge = make_bridge({"dsn": receiver.dsn()})
    scenario(bridge)
    providers = [bridge.logger_provider, bridge.tracer_provider]
    for provider in providers if logs_first else providers[::-1]:
        assert provider.force_flush(5000)
    assert receiver.wait_for(lambda r: len(r.items("transaction")) == 1)
    events = receiver.payloads("event")
    assert len(events) == 3, [(e.get("logentry"), e["contexts"]["trace"]["span_id"]) for e in events]


def test_error_in_an_unsampled_trace_says_so_in_its_trace_header(receiver: SentryReceiver, make_bridge: Any) -> None:
    """The sampler is the single source of truth: an error logged in a trace the sampler dropped is
    still sent, linked, but its envelope must not claim the trace was sampled."""
    from opentelemetry.context import attach, detach
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    bridge = make_bridge({"dsn": receiver.dsn()})
    dropped = SpanContext(0xAB, 0xCD, is_remote=False, trace_flags=TraceFlags(TraceFlags.DEFAULT))
    token = attach(set_span_in_context(NonRecordingSpan(dropped)))
    try:
        bridge.logger.error("in a dropped trace")
    finally:
        detach(token)
    tracer = bridge.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("sampled"):
        bridge.logger.error("in a sampled trace")
    bridge.flush()
    assert receiver.wait_for(lambda r: len(r.items("event")) == 2)
    headers = {
        e.items[0].payload["logentry"]["formatted"]: e.headers["trace"]
        for e in receiver.envelopes
        if e.items[0].type == "event"
    }
    assert headers["in a dropped trace"]["sampled"] == "false"
    assert headers["in a sampled trace"]["sampled"] == "true"


def test_shutdown_honours_the_time_the_batch_processor_has_left(make_bridge: Any) -> None:
    """The SDK's batch processor passes what is left of its own bound to ``exporter.shutdown``."""
    import socket
    import time

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        bridge = make_bridge({"dsn": f"http://key@127.0.0.1:{hole.getsockname()[1]}/42", "timeout_s": 5})
        for i in range(3):
            bridge.logger.error("stuck %s", i)
        bridge.logger_provider.force_flush(300)
        started = time.monotonic()
        bridge.span_exporter.shutdown(timeout_millis=100)
        bridge.log_processor._exporter.shutdown(timeout_millis=100)
        assert time.monotonic() - started < 1.5
        assert bridge.stats.dropped().get("shutdown", 0) >= 2


def test_huge_transaction_and_error_are_shrunk_under_relays_size_limit(tmp_path: Any) -> None:
    """Relay drops an item over 1 MiB whole: a batch job with a thousand 4 KB statements must still
    arrive, shortened, with every cut counted."""
    from sentry_sdk.envelope import Envelope

    from otel_bridge._internal.stats import ExporterStats
    from otel_bridge.exporters.base import BuildContext
    from otel_bridge.exporters.sentry import envelope_file
    from otel_bridge.exporters.sentry.size import MAX_EVENT_BYTES, payload_size
    from tests.sentry import samples
    from tests.sentry.conftest import RESOURCE

    opts = envelope_file.SPEC.options.model_validate({"type": "envelope_file", "directory": str(tmp_path)})
    stats = ExporterStats("files", "envelope_file")
    shared: dict[Any, Any] = {}
    spans = envelope_file.SPEC.build(BuildContext("files", "traces", opts, RESOURCE, stats, shared)).exporter
    statement = "INSERT INTO t VALUES " + "(1, 'x')," * 500
    children = [
        samples.span(
            "insert",
            0x10000 + i,
            samples.ROOT_ID,
            1,
            2,
            SpanKind.CLIENT,
            {"db.system.name": "postgresql", "db.query.text": statement},
        )
        for i in range(1000)
    ]
    big = {f"k{i}": "v" * 8000 for i in range(128)}
    failing = samples.span(
        "fail",
        0x2,
        samples.ROOT_ID,
        3,
        4,
        events=(samples.Event("exception", {"exception.type": "E", **big}, timestamp=samples.T0 + 3 * samples.MS),),
    )
    root = samples.span("batch job", samples.ROOT_ID, None, 0, 5, attributes=big)
    spans.export([*children, failing])
    spans.export([root])
    spans.shutdown()
    payloads = {
        str(item.type): item.payload.json
        for path in tmp_path.glob("*.envelope")
        for item in Envelope.deserialize(path.read_bytes()).items
    }
    tx, event = payloads["transaction"], payloads["event"]
    assert payload_size(tx) <= MAX_EVENT_BYTES and payload_size(event) <= MAX_EVENT_BYTES
    assert_relay_accepts(tx)
    assert_relay_accepts(event)
    dropped = stats.dropped()
    assert len(tx["spans"]) + dropped.get("too_large", 0) + dropped.get("span_limit", 0) == 1001
    assert len(event["extra"]) == 32  # cut down, not lost
    assert stats.count("sent") == 2


def test_full_worker_queue_and_server_errors_are_counted(receiver: SentryReceiver, make_bridge: Any) -> None:
    import socket

    from otel_bridge._internal.stats import ExporterStats
    from otel_bridge.exporters.sentry import envelope as env
    from otel_bridge.exporters.sentry.client import SentryHttpSink
    from otel_bridge.exporters.sentry.options import SentryOptions

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        dsn = f"http://key@127.0.0.1:{hole.getsockname()[1]}/42"
        sink = SentryHttpSink(dsn, SentryOptions(dsn=dsn, timeout_s=2, queue_size=2))  # type: ignore[arg-type]
        stats = ExporterStats("sentry", "sentry")
        for i in range(10):
            sink.send(env.event_envelope("event", {"event_id": f"{i:032x}", "message": "m"}, None), stats)
        full = stats.dropped().get("queue_full", 0)
        assert full >= 7 and full + sink.in_flight() == 10
        sink.close(0.1)
        assert sum(stats.dropped().values()) >= 9  # queue_full + shutdown; one may still be in the air

    bridge = make_bridge({"dsn": receiver.dsn()})
    receiver.fail_for(60, status=503)
    bridge.logger.error("server trouble")
    bridge.flush()
    assert bridge.stats.count("failed") == 1 and bridge.stats.state == "http_503"
