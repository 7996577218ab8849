"""Records produced while exporting never come back as exported records."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_bridge import configure_otel
from otel_bridge._internal import guard
from otel_bridge.exporters import registry
from otel_bridge.exporters.base import BuildContext, ExporterOptions, ExporterSpec

EXPORTED: list[str] = []


class ChattyExporter(LogRecordExporter):
    """Logs like an HTTP client does, from inside export() — the classic feedback loop."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        for record in batch:
            EXPORTED.append(str(record.log_record.body))
        logging.getLogger("urllib3.connectionpool").warning("POST /_bulk HTTP/1.1 200")
        logging.getLogger("otel_bridge.exporters.chatty").warning("exported %d", len(batch))
        logging.getLogger("app.unrelated").warning("an app logger, called from the export thread")
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _build(ctx: BuildContext) -> Any:
    return ChattyExporter()


SPEC = ExporterSpec("chatty", frozenset({"logs"}), ExporterOptions, build=_build)


def test_exporter_logging_while_exporting_is_not_exported_again() -> None:
    registry.register(SPEC)
    EXPORTED.clear()
    bridge = configure_otel({"logs": {"level": "DEBUG", "exporters": ["chatty"]}, "exporters": {"chatty": {}}})
    logging.getLogger("app").warning("one")
    for _ in range(3):  # each flush would export the previous flush's chatter if the guard failed
        assert bridge.force_flush(5)
    logging.getLogger("app").warning("two")
    bridge.force_flush(5)
    assert EXPORTED == ["one", "two"]


def _exported_by_handler(record: logging.LogRecord) -> bool:
    """Whether the bridge's root handler passes ``record`` on to the log pipeline."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    from otel_bridge._internal.handler import BridgeLoggingHandler

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    BridgeLoggingHandler(logger_provider=provider).handle(record)
    return len(exporter.get_finished_logs()) == 1


def test_own_loggers_threads_and_suppressed_code_are_dropped_by_the_handler() -> None:
    def record(name: str, thread: str = "MainThread") -> logging.LogRecord:
        rec = logging.LogRecord(name, logging.ERROR, __file__, 1, "m", None, None)
        rec.threadName = thread
        return rec

    for own in ("otel_bridge.sentry", "elastic_transport.transport", "sentry_sdk.errors", "opentelemetry.sdk.x"):
        assert not _exported_by_handler(record(own)), own
    assert not _exported_by_handler(record("urllib3.connectionpool", thread="otel-bridge-es-sender"))
    assert not _exported_by_handler(record("app", thread="OtelBatchLogRecordProcessor"))
    assert _exported_by_handler(record("urllib3.connectionpool"))
    assert _exported_by_handler(record("app"))
    assert _exported_by_handler(record("otel_bridgework"))
    with guard.suppressed():
        assert not _exported_by_handler(record("app"))


def test_worker_threads_started_by_the_guard_are_suppressed() -> None:
    seen: list[bool] = []
    done = threading.Event()

    def work() -> None:
        seen.append(_exported_by_handler(logging.LogRecord("app", 40, "", 1, "m", None, None)))
        done.set()

    guard.start_thread("probe", work)
    assert done.wait(5)
    assert seen == [False]


def test_client_loggers_drop_what_our_threads_log_for_any_handler() -> None:
    """Standalone mode: the SDK's own handler has no filter, so the client loggers filter at the source."""
    seen: list[tuple[str, str]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("probe:"):  # other tests' leftover threads may log too
                seen.append((record.name, record.threadName or ""))

    capture = Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        guard.quiet_client_loggers()
        guard.quiet_client_loggers()  # idempotent
        assert logging.getLogger("urllib3.connectionpool").filters.count(guard._CLIENT_FILTER) == 1
        done = threading.Event()

        def from_our_thread() -> None:
            logging.getLogger("urllib3.connectionpool").warning("probe: POST /_bulk")
            logging.getLogger("elastic_transport.transport").warning("probe: POST /_bulk [status:200]")
            done.set()

        threading.Thread(target=from_our_thread, name="OtelBatchLogRecordProcessor").start()
        assert done.wait(5)
        logging.getLogger("urllib3.connectionpool").warning("probe: the app's own request")
    finally:
        root.removeHandler(capture)
    assert seen == [("urllib3.connectionpool", "MainThread")]


def test_the_root_handler_drops_own_loggers_threads_and_suppressed_code() -> None:
    from tests.memory_exporter import INSTANCES, memory_config

    bridge = configure_otel(memory_config())
    logging.getLogger("otel_bridge.sentry").warning("own logger")
    logging.getLogger("elastic_transport.transport").warning("client logger")
    with guard.suppressed():
        logging.getLogger("app").warning("inside export code")
    done = threading.Event()

    def worker() -> None:
        logging.getLogger("app").warning("on a bridge thread")
        done.set()

    threading.Thread(target=worker, name="otel-bridge-probe").start()
    assert done.wait(5)
    logging.getLogger("app").warning("the app's own")
    bridge.force_flush(5)
    assert [r.log_record.body for r in INSTANCES["mem"]["logs"].get_finished_logs()] == ["the app's own"]
