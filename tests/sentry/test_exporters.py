"""Exporter behaviour: severity floors, Sentry logs, entry points, envelope files, bounded shutdown."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.trace.export import SpanExportResult
from sentry_sdk.envelope import Envelope

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.base import BuildContext
from otel_bridge.exporters.sentry import envelope_file
from otel_bridge.exporters.sentry.exporter import _STANDALONE, SentryLogExporter, SentrySpanExporter
from tests.sentry import samples
from tests.sentry.conftest import RESOURCE
from tests.sentry.helpers import assert_relay_accepts
from tests.servers.sentry_receiver import SentryReceiver


def test_low_severity_records_never_enter_the_queue(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn()})
    exported: list[int] = []
    exporter = bridge.log_processor._exporter
    original = exporter.export

    def counting_export(batch: Any) -> Any:
        exported.append(len(batch))
        return original(batch)

    exporter.export = counting_export
    for i in range(50):
        bridge.logger.info("noise %s", i)
        bridge.logger.warning("warn %s", i)
    bridge.logger.error("the one")
    bridge.flush()
    assert sum(exported) == 1
    assert receiver.wait_for(lambda r: len(r.items("event")) == 1)


def test_sentry_logs_when_enabled(receiver: SentryReceiver, make_bridge: Any) -> None:
    bridge = make_bridge({"dsn": receiver.dsn(), "logs": {"enabled": True, "level": "INFO"}})
    bridge.logger.debug("not sent")
    bridge.logger.info("order %s placed", 7, extra={"order_id": 7, "tags": ["a", "b"]})
    bridge.logger.error("broken")
    bridge.flush()
    assert receiver.wait_for(lambda r: len(r.items("log")) >= 1 and len(r.items("event")) == 1)
    [item] = receiver.items("log")
    assert item.headers["item_count"] == 2
    assert item.headers["content_type"] == "application/vnd.sentry.items.log+json"
    logs = item.payload["items"]
    assert [(entry["level"], entry["body"]) for entry in logs] == [("info", "order 7 placed"), ("error", "broken")]
    assert logs[0]["attributes"]["order_id"] == {"value": 7, "type": "integer"}
    assert logs[0]["attributes"]["sentry.release"] == {"value": "2.3.1", "type": "string"}
    assert bridge.stats.count("sent") == 3  # two log items and one error event


def test_entry_point_classes_read_the_environment(receiver: SentryReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN", receiver.dsn())
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "qa")
    monkeypatch.setenv("SENTRY_RELEASE", "shop@9")
    spans = SentrySpanExporter()
    logs = SentryLogExporter()
    try:
        assert spans.pipeline is not None and logs.pipeline is not None
        assert spans.pipeline.state is logs.pipeline.state  # one transport per DSN
        *children, root = samples.request_spans()
        assert spans.export(children) is SpanExportResult.SUCCESS
        assert spans.export([root]) is SpanExportResult.SUCCESS
        record = samples.log_record("failed", samples.SeverityNumber.ERROR)
        assert logs.export([record]) is LogRecordExportResult.SUCCESS
        assert spans.force_flush(5000) and logs.force_flush(5000)
        assert receiver.wait_for(lambda r: len(r.items("transaction")) == 1 and len(r.items("event")) == 2)
        [tx] = receiver.payloads("transaction")
        assert (tx["environment"], tx["release"]) == ("qa", "shop@9")
    finally:
        spans.shutdown()
        logs.shutdown()
    assert spans.export([]) is SpanExportResult.FAILURE  # after shutdown
    spans.shutdown()  # idempotent
    again = SentrySpanExporter()  # a new instance gets a new transport, not the closed one
    try:
        assert again.export([root]) is SpanExportResult.SUCCESS
        assert again.force_flush(5000)
        assert receiver.wait_for(lambda r: len(r.items("transaction")) == 2)
    finally:
        again.shutdown()
        _STANDALONE.clear()


@pytest.mark.parametrize("dsn", [None, "not a dsn", "https://secretkey@host/not-a-project"])
def test_entry_point_without_usable_dsn_is_a_noop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, dsn: str | None
) -> None:
    if dsn is None:
        monkeypatch.delenv("SENTRY_DSN", raising=False)
    else:
        monkeypatch.setenv("SENTRY_DSN", dsn)
    exporter = SentrySpanExporter()
    assert exporter.pipeline is None
    assert exporter.export(samples.request_spans()) is SpanExportResult.SUCCESS
    assert exporter.force_flush()
    exporter.shutdown()
    assert "secretkey" not in caplog.text


def test_envelope_file_writes_envelopes_sentry_can_read(tmp_path: Path) -> None:
    options = envelope_file.SPEC.options.model_validate({"type": "envelope_file", "directory": "envelopes"})
    stats = ExporterStats("sentry_files", "envelope_file")
    shared: dict[Any, Any] = {}

    def ctx(signal: Any) -> BuildContext:
        return BuildContext("sentry_files", signal, options, RESOURCE, stats, shared, config_dir=tmp_path)

    span_processor = envelope_file.SPEC.build(ctx("traces"))
    log_processor = envelope_file.SPEC.build(ctx("logs"))
    exporter = span_processor.exporter
    *children, root = samples.request_spans()
    exporter.export(children)
    exporter.export([root])
    log_processor._exporter.export([samples.log_record("failed", samples.SeverityNumber.ERROR)])
    span_processor.shutdown()
    log_processor.shutdown()
    files = sorted((tmp_path / "envelopes").glob("*.envelope"))
    kinds = []
    for path in files:
        envelope = Envelope.deserialize(path.read_bytes())
        for item in envelope.items:
            kinds.append(str(item.type))
            assert isinstance(item.payload.json, dict)
            assert_relay_accepts(item.payload.json)
    assert sorted(kinds) == ["event", "event", "transaction"]  # span exception event, log error, transaction
    assert stats.count("sent") == 3


def test_shutdown_is_bounded_when_sentry_is_unreachable(make_bridge: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bridge = make_bridge({"dsn": f"http://key@127.0.0.1:{port}/42", "timeout_s": 1})
    for i in range(20):
        bridge.logger.error("nobody hears %s", i)
    bridge.logger_provider.force_flush(2000)
    started = time.monotonic()
    bridge.shutdown()
    assert time.monotonic() - started < 8
    assert bridge.stats.dropped().get("network_error", 0) >= 1
    assert bridge.stats.count("sent") == 0


def _file_pipeline(tmp_path: Path, **options: Any) -> tuple[Any, Any, ExporterStats]:
    opts = envelope_file.SPEC.options.model_validate({"type": "envelope_file", "directory": str(tmp_path), **options})
    stats = ExporterStats("files", "envelope_file")
    shared: dict[Any, Any] = {}
    spans = envelope_file.SPEC.build(BuildContext("files", "traces", opts, RESOURCE, stats, shared))
    logs = envelope_file.SPEC.build(BuildContext("files", "logs", opts, RESOURCE, stats, shared))
    return spans.exporter, logs._exporter, stats


def _kinds(tmp_path: Path) -> list[str]:
    return sorted(str(item.type) for p in tmp_path.glob("*.envelope") for item in Envelope.deserialize(p.read_bytes()))


def test_include_spans_false_sends_errors_only(tmp_path: Path) -> None:
    spans, logs, _stats = _file_pipeline(tmp_path, include_spans=False)
    spans.export(samples.request_spans())
    assert _kinds(tmp_path) == ["event"]  # the exception span event, no transaction
    assert spans.pipeline.assembler.pending == 0
    spans.shutdown()
    logs.shutdown()


def test_error_sample_rate_and_min_log_level(tmp_path: Path) -> None:
    spans, logs, stats = _file_pipeline(tmp_path, sample_rate=0.0, min_log_level="WARNING")
    logs.export([samples.log_record("careful", samples.SeverityNumber.WARN, span_id=None)])
    logs.export([samples.log_record("just info", samples.SeverityNumber.INFO, span_id=None)])
    assert stats.dropped() == {"sampled": 1}  # the warning qualified, then was sampled out
    assert _kinds(tmp_path) == []
    spans.shutdown()
    logs.shutdown()


def test_entry_point_exporter_behind_the_sdks_own_batch_processor_delivers_on_force_flush(
    receiver: SentryReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``OTEL_TRACES_EXPORTER=sentry`` the SDK wraps the exporter in its plain
    ``BatchSpanProcessor``, whose ``force_flush`` never calls the exporter's: once it returns, what
    was exported must have reached Sentry (a serverless app is frozen right after)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    monkeypatch.setenv("SENTRY_DSN", receiver.dsn())
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(BatchSpanProcessor(SentrySpanExporter()))
    try:
        with provider.get_tracer("t").start_as_current_span("job") as span:
            span.record_exception(ValueError("boom"))
        assert provider.force_flush(5000)
        assert len(receiver.items("transaction")) == 1 and len(receiver.items("event")) == 1
    finally:
        provider.shutdown()
        _STANDALONE.clear()


def test_envelope_wire_format_counts_item_length_in_bytes() -> None:
    import json

    from otel_bridge.exporters.sentry import envelope as env

    event = {"event_id": "a" * 32, "message": "日本語 🚀 line\nbreak \u2028"}
    raw = env.serialize(env.event_envelope("event", event, {"trace_id": "b" * 32}))
    header, rest = raw.split(b"\n", 1)
    assert json.loads(header)["event_id"] == "a" * 32
    item_header, rest = rest.split(b"\n", 1)
    length = json.loads(item_header)["length"]
    assert json.loads(rest[:length]) == event and rest[length:] == b"\n"
    [item] = Envelope.deserialize(raw).items
    assert item.type == "event" and item.payload.json == event
