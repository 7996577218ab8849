"""Delivery through sentry-sdk's own HTTP transport, without ``sentry_sdk.init()``.

We build a transport from a private options dict bound to our DSN: DSN parsing, the
``X-Sentry-Auth`` header, compression, ``Retry-After`` / ``X-Sentry-Rate-Limits`` and the background
worker are the SDK's. No client, hub or scope is created, so an app's own Sentry setup is untouched.
Every outcome is counted in the :class:`ExporterStats` of the exporter whose items they were.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol
from urllib.parse import urlsplit

from otel_bridge._internal import guard
from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.sentry import envelope as env

logger = logging.getLogger("otel_bridge.sentry")

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class Sink(Protocol):
    """Where finished envelopes go: the Sentry HTTP transport or a directory."""

    def send(self, envelope: env.Envelope, stats: ExporterStats) -> None:
        """Queues ``envelope``; never raises, never blocks on the network."""

    def flush(self, timeout_s: float) -> bool:
        """Waits up to ``timeout_s`` for queued envelopes; True when none is left."""

    def close(self, timeout_s: float) -> None:
        """Flushes, then stops; idempotent."""


def _items_quantity(items: Any) -> dict[ExporterStats, int]:
    """Quantity per stats owner of SDK envelope items we tagged on the way in."""
    out: dict[ExporterStats, int] = {}
    for item in items:
        stats = getattr(item, "_otel_bridge_stats", None)
        if stats is None:
            continue
        count = item.headers.get("item_count")
        out[stats] = out.get(stats, 0) + (count if isinstance(count, int) and count > 0 else 1)
    return out


def _make_transport_class() -> type:
    from sentry_sdk.transport import HttpTransport

    class BridgeTransport(HttpTransport):  # type: ignore[misc, valid-type]
        """The SDK's HTTP transport, counting every outcome into our stats and sending suppressed."""

        def __init__(self, options: dict[str, Any], timeout_s: float) -> None:
            self.TIMEOUT = timeout_s  # type: ignore[assignment]
            self._ob_lock = threading.Lock()
            self._ob_in_flight = 0
            self._ob_local = threading.local()
            # Envelopes queued on the worker and not picked up yet (id → envelope), see abandon().
            self._ob_queued: dict[int, Any] = {}
            self._ob_abandoned = False
            super().__init__(options)

        def _send_envelope(self, envelope: Any) -> None:
            with self._ob_lock:
                if self._ob_queued.pop(id(envelope), None) is None and self._ob_abandoned:
                    return  # counted as lost at shutdown: never sent after it
            try:
                with guard.suppressed():
                    super()._send_envelope(envelope)
            finally:
                with self._ob_lock:
                    self._ob_in_flight -= 1

        def abandon(self) -> dict[ExporterStats, int]:
            """Gives up every envelope not picked up by the worker yet; their quantities per owner."""
            with self._ob_lock:
                self._ob_abandoned = True
                left = list(self._ob_queued.values())
                self._ob_queued.clear()
                self._ob_in_flight -= len(left)
            out: dict[ExporterStats, int] = {}
            for envelope in left:
                for stats, n in _items_quantity(envelope.items).items():
                    out[stats] = out.get(stats, 0) + n
            return out

        def _handle_response(self, response: Any, envelope: Any) -> None:
            status = response.status
            for stats, n in _items_quantity(envelope.items if envelope is not None else ()).items():
                if 200 <= status < 300:
                    stats.add("sent", n)
                    stats.state = "ok"
                elif status == 429:
                    stats.drop("rate_limited", n)
                    stats.state = "rate_limited"
                else:
                    stats.add("failed", n)
                    stats.state = f"http_{status}"
            # Losses the SDK records while handling this response were counted just above.
            self._ob_local.in_response = True
            try:
                super()._handle_response(response, envelope)
            finally:
                self._ob_local.in_response = False

        def record_lost_event(
            self, reason: str, data_category: Any = None, item: Any = None, *, quantity: int = 1
        ) -> None:
            stats = getattr(item, "_otel_bridge_stats", None) if item is not None else None
            if stats is not None and not getattr(self._ob_local, "in_response", False):
                count = item.headers.get("item_count")
                n = count if isinstance(count, int) and count > 0 else 1
                if reason == "ratelimit_backoff":
                    stats.drop("rate_limited", n)
                    stats.state = "rate_limited"
                elif reason == "queue_overflow":
                    stats.drop("queue_full", n)
                else:
                    stats.drop(reason, n)
                    stats.state = "unreachable" if reason == "network_error" else stats.state
            super().record_lost_event(reason, data_category, item, quantity=quantity)

        def capture_envelope(self, envelope: Any) -> None:
            self._ob_local.rejected = False
            with self._ob_lock:
                self._ob_in_flight += 1
                self._ob_queued[id(envelope)] = envelope
            super().capture_envelope(envelope)
            # A full worker queue drops the envelope at once (counted in record_lost_event).
            if getattr(self._ob_local, "rejected", False):
                with self._ob_lock:
                    if self._ob_queued.pop(id(envelope), None) is not None:
                        self._ob_in_flight -= 1

        def on_dropped_event(self, reason: str) -> None:
            if reason == "full_queue":
                self._ob_local.rejected = True

        @property
        def in_flight(self) -> int:
            return max(self._ob_in_flight, 0)

    return BridgeTransport


def transport_options(dsn: str, options: Any) -> dict[str, Any]:
    """A private copy of the SDK's default options, bound to ``dsn`` (never the app's options)."""
    from sentry_sdk.consts import DEFAULT_OPTIONS

    opts = dict(DEFAULT_OPTIONS)
    host = urlsplit(dsn).hostname or ""
    proxy_off = "" if host in _LOOPBACK else None
    opts.update(
        {
            "dsn": dsn,
            "transport": None,
            "integrations": [],
            "default_integrations": False,
            "send_client_reports": True,
            "transport_queue_size": options.queue_size,
            "http_proxy": options.http_proxy if options.http_proxy is not None else proxy_off,
            "https_proxy": options.https_proxy if options.https_proxy is not None else proxy_off,
            "ca_certs": options.ca_certs,
            "_experiments": {},
        }
    )
    return opts


class SentryHttpSink:
    """One HTTP transport per DSN, shared by the span and log exporters."""

    def __init__(self, dsn: str, options: Any) -> None:
        transport_cls = _make_transport_class()
        self._transport = transport_cls(transport_options(dsn, options), options.timeout_s)
        self.public_key = urlsplit(dsn).username or ""
        self._closed = False
        self._lock = threading.Lock()

    def send(self, envelope: env.Envelope, stats: ExporterStats) -> None:
        """Queues ``envelope`` on the SDK's worker; losses are counted as they happen."""
        from sentry_sdk.envelope import Envelope, Item, PayloadRef

        if self._closed:
            stats.drop("shutdown", sum(i.quantity for i in envelope.items))
            return
        items = []
        for our in envelope.items:
            item = Item(PayloadRef(json=our.payload), type=our.type, headers=dict(our.headers))
            item._otel_bridge_stats = stats  # type: ignore[attr-defined]
            items.append(item)
        self._transport.capture_envelope(Envelope(headers=envelope.headers, items=items))

    def in_flight(self) -> int:
        """Envelopes queued or being sent."""
        return int(self._transport.in_flight)

    def flush(self, timeout_s: float) -> bool:
        """Waits for the worker's queue to drain."""
        if self._closed:
            return True
        with guard.suppressed():
            self._transport.flush(max(timeout_s, 0.0))
        return self.in_flight() == 0

    def close(self, timeout_s: float) -> None:
        """Flushes within ``timeout_s`` and stops the worker; what is still queued then is counted as
        dropped (``shutdown``) and never sent; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            with guard.suppressed():
                self._transport.flush(max(timeout_s, 0.0))
        finally:
            for stats, n in self._transport.abandon().items():
                stats.drop("shutdown", n)
            self._transport.kill()
