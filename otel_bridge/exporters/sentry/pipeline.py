"""What the Sentry span and log exporters do between the SDK's batches and the sink.

One :class:`Pipeline` per configured exporter; one :class:`SharedState` (sink, breadcrumbs,
de-duplication) per DSN or directory, shared by the span and log sides through
``BuildContext.shared`` so an exception seen both as a log record and a span event is sent once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import format_trace_id

from otel_bridge._internal import guard
from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.sentry import convert, events, frames, size
from otel_bridge.exporters.sentry import envelope as env
from otel_bridge.exporters.sentry.assemble import BreadcrumbStore, Deduper, Group, Sighting, TransactionAssembler
from otel_bridge.exporters.sentry.client import Sink

logger = logging.getLogger("otel_bridge.sentry")

SEVERITY_FLOOR = {
    "TRACE": 1,
    "DEBUG": 5,
    "INFO": 9,
    "WARN": 13,
    "WARNING": 13,
    "ERROR": 17,
    "CRITICAL": 21,
    "FATAL": 21,
}
MAX_SPANS_PER_TRANSACTION = 1000


@dataclass
class SharedState:
    """Per-DSN state shared by every exporter component sending there."""

    sink: Sink
    breadcrumbs: BreadcrumbStore
    deduper: Deduper = field(default_factory=Deduper)
    public_key: str = ""
    users: int = 0
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self) -> SharedState:
        """Registers one more user of the sink."""
        with self.lock:
            self.users += 1
        return self

    def release(self, timeout_s: float) -> None:
        """One user is done; the last one closes the sink."""
        with self.lock:
            self.users -= 1
            last = self.users <= 0 and not self.closed
            if last:
                self.closed = True
        if last:
            self.sink.close(timeout_s)


def shared_state(shared: dict[Any, Any], key: Any, make: Callable[[], SharedState]) -> SharedState:
    """The state under ``key`` in the configuration's shared dict, made on first use."""
    state = shared.get(key)
    if not isinstance(state, SharedState) or state.closed:
        state = shared[key] = make()
    return state.acquire()


def _python_level(severity: int) -> int:
    for floor, level in ((21, 50), (17, 40), (13, 30), (9, 20), (1, 10)):
        if severity >= floor:
            return level
    return 0


def app_sdk_captures(logger_name: str, severity: int) -> bool:
    """True when the app's own ``sentry_sdk`` client turns this record into an event by itself."""
    try:
        import sentry_sdk
        from sentry_sdk.integrations.logging import _IGNORED_LOGGERS, LoggingIntegration
    except ImportError:
        return False
    client = sentry_sdk.get_client()
    if not client.is_active():
        return False
    integration = client.get_integration(LoggingIntegration)
    handler = getattr(integration, "_handler", None)
    if handler is None:
        return False
    if any(fnmatch(logger_name.strip(), pattern) for pattern in _IGNORED_LOGGERS):
        return False
    return _python_level(severity) >= handler.level


def _short_type(values: list[dict[str, Any]]) -> tuple[str, str]:
    if not values:
        return "", ""
    last = values[-1]
    return str(last.get("type", "")).rsplit(".", 1)[-1], str(last.get("value", ""))


class Pipeline:
    """Converts, groups, de-duplicates and hands envelopes to the sink; counts everything."""

    def __init__(
        self,
        options: Any,
        state: SharedState,
        stats: ExporterStats,
        settings: convert.Settings,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.options = options
        self.state = state
        self.stats = stats
        self.settings = settings
        self._rng = rng
        self.error_floor = SEVERITY_FLOOR[options.min_log_level]
        self.crumb_floor = SEVERITY_FLOOR[options.breadcrumb_level]
        self.logs_floor = SEVERITY_FLOOR[options.logs.level] if options.logs.enabled else None
        self.assembler = TransactionAssembler(options.orphans.timeout_s, options.orphans.max_spans, clock)
        self.deferred = 0
        self.deduplicated = 0
        stats.add_queue_probe(lambda: self.assembler.pending)
        stats.extra["pending_spans"] = lambda: self.assembler.pending
        stats.extra["orphan_spans_released"] = lambda: self.assembler.released
        stats.extra["deferred_to_app_sdk"] = lambda: self.deferred
        stats.extra["deduplicated"] = lambda: self.deduplicated
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._sweeper_lock = threading.Lock()

    @property
    def queue_floor(self) -> int:
        """The lowest severity the log side needs to see in export()."""
        return self.error_floor if self.logs_floor is None else min(self.error_floor, self.logs_floor)

    # -- spans -----------------------------------------------------------------------------------------

    def export_spans(self, spans: Sequence[ReadableSpan]) -> None:
        """Error events for exception span events, then the transactions now complete."""
        exceptions = []
        parents = {s.context.span_id: s.parent.span_id for s in spans if s.context is not None and s.parent is not None}
        for span in spans:
            trace_id = convert.trace_id_hex(span)
            for event in span.events:
                if event.name == "exception":
                    exceptions.append((span, event))
                else:
                    self.state.breadcrumbs.add(trace_id, events.span_event_breadcrumb(span, event, self.settings))
        for span, event in exceptions:
            self._span_error(span, event, parents)
        if self.options.include_spans:
            self._send_groups(self.assembler.add(spans))
            if self.assembler.pending:
                self._ensure_sweeper()

    def sweep(self) -> None:
        """Releases spans held past the orphan timeout."""
        if self.options.include_spans:
            self._send_groups(self.assembler.sweep())

    def drain(self) -> None:
        """Stops the sweeper and releases every held span (shutdown)."""
        self._stop.set()
        self._send_groups(self.assembler.drain())

    def _ensure_sweeper(self) -> None:
        """Starts the thread that releases timed-out spans even when no new span arrives."""
        if self._sweeper is not None or self._stop.is_set():
            return
        with self._sweeper_lock:
            if self._sweeper is None:
                interval = max(0.05, min(self.options.orphans.timeout_s / 4, 30.0))
                self._sweeper = guard.start_thread("sentry-orphans", lambda: self._sweep_loop(interval))

    def _sweep_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:
                logger.exception("releasing held spans failed")

    def _span_error(self, span: ReadableSpan, event: Any, parents: dict[int, int]) -> None:
        trace_id = convert.trace_id_hex(span)
        attrs = event.attributes or {}
        mechanism = {"type": "otel.span_event", "handled": True}
        values = events.exception_values_from_attrs(attrs, mechanism, self.settings)
        ancestors: list[int] = []
        parent = span.parent.span_id if span.parent is not None else None
        while parent is not None and parent not in ancestors and len(ancestors) < 64:
            ancestors.append(parent)
            parent = parents.get(parent)
        escaped = str(attrs.get("exception.escaped", "")).lower() == "true"
        span_id = span.context.span_id if span.context is not None else 0
        where = Sighting("escaped" if escaped else "event", span_id, tuple(ancestors))
        if not self._admit(trace_id, values, where):
            return
        timestamp = convert.ns_to_s(event.timestamp)
        crumbs = self.state.breadcrumbs.before(trace_id, timestamp)
        payload = events.span_exception_event(span, event, self.settings, env.new_event_id(), crumbs)
        self._send_event("event", payload, trace_id)

    def _send_groups(self, groups: list[Group]) -> None:
        for group in groups:
            n = 1 + len(group.children)
            if group.orphan and self.options.orphans.on_release == "drop":
                self.stats.drop("orphan", n)
                continue
            children = group.children
            if len(children) > MAX_SPANS_PER_TRANSACTION:
                self.stats.drop("span_limit", len(children) - MAX_SPANS_PER_TRANSACTION)
                children = sorted(children, key=lambda s: s.start_time or 0)[:MAX_SPANS_PER_TRANSACTION]
            payload = convert.transaction_event(group.root, children, self.settings, env.new_event_id())
            if group.orphan:
                payload["contexts"]["trace"]["data"]["otel_bridge.orphan"] = True
            self._send_event("transaction", payload, convert.trace_id_hex(group.root))

    # -- logs ------------------------------------------------------------------------------------------

    def export_logs(self, records: Sequence[ReadableLogRecord], add_crumbs: bool) -> None:
        """Error events for records at or above the floor; Sentry log items when enabled."""
        log_items: list[dict[str, Any]] = []
        for record in records:
            log = record.log_record
            severity = log.severity_number.value if log.severity_number is not None else 0
            trace_id = format_trace_id(log.trace_id) if log.trace_id else ""
            if severity >= self.error_floor:
                self._log_error(record, severity, trace_id)
            if self.logs_floor is not None and severity >= self.logs_floor:
                log_items.append(events.log_item(record, self.settings))
            if add_crumbs and severity >= self.crumb_floor:
                self.state.breadcrumbs.add(trace_id, events.record_breadcrumb(record, self.settings))
        size = self.options.logs.max_batch
        for start in range(0, len(log_items), size):
            sdk = {"name": self.settings.sdk_name, "version": self.settings.sdk_version}
            self.state.sink.send(env.logs_envelope(log_items[start : start + size], sdk), self.stats)

    def add_breadcrumb(self, record: ReadableLogRecord) -> None:
        """Keeps a record for later errors of its trace (called at emit time by the processor)."""
        log = record.log_record
        severity = log.severity_number.value if log.severity_number is not None else 0
        if log.trace_id and severity >= self.crumb_floor:
            self.state.breadcrumbs.add(format_trace_id(log.trace_id), events.record_breadcrumb(record, self.settings))

    def _log_error(self, record: ReadableLogRecord, severity: int, trace_id: str) -> None:
        scope = record.instrumentation_scope.name if record.instrumentation_scope else ""
        if self.options.app_sdk == "defer" and app_sdk_captures(scope, severity):
            self.deferred += 1
            return
        values = events.record_exception_values(record, self.settings)
        log = record.log_record
        if not self._admit(trace_id, values, Sighting("log", log.span_id or 0)):
            return
        timestamp = convert.ns_to_s(log.timestamp or log.observed_timestamp)
        crumbs = self.state.breadcrumbs.before(trace_id, timestamp)
        payload = events.log_error_event(record, self.settings, env.new_event_id(), crumbs, values)
        sampled = log.trace_flags is None or log.trace_flags.sampled
        self._send_event("event", payload, trace_id, sampled=sampled)

    # -- shared ----------------------------------------------------------------------------------------

    def _admit(self, trace_id: str, values: list[dict[str, Any]], where: Sighting) -> bool:
        """De-duplication within a trace, then the error sample rate."""
        if trace_id and values:
            type_name, message = _short_type(values)
            key = (trace_id, type_name, message, frames.raise_site(values))
            if not self.state.deduper.first_time(key, where):
                self.deduplicated += 1
                return False
        if self.options.sample_rate < 1.0 and self._rng() >= self.options.sample_rate:
            self.stats.drop("sampled")
            return False
        return True

    def _send_event(self, kind: str, payload: dict[str, Any], trace_id: str, sampled: bool = True) -> None:
        too_large = size.fit(payload)
        if too_large:
            self.stats.drop("too_large", too_large)
        trace_header: dict[str, Any] | None = None
        if trace_id:
            # Only spans the sampler kept reach the span side; a record tells its trace's decision.
            trace_header = {"trace_id": trace_id, "sampled": "true" if sampled else "false"}
            if self.state.public_key:
                trace_header["public_key"] = self.state.public_key
            for key in ("release", "environment"):
                if payload.get(key):
                    trace_header[key] = payload[key]
            if kind == "transaction":
                trace_header["transaction"] = payload["transaction"]
        self.state.sink.send(env.event_envelope(kind, payload, trace_header), self.stats)
