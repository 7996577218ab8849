"""Sending documents with ``_bulk`` through the official client: the single retry layer.

The client is built with its own retries off (``max_retries=0``): the transport would retry
429/502/503/504 immediately with no backoff and no deadline, and a retried request must go through
our per-item bookkeeping anyway (only the items that failed are sent again).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.elasticsearch.dead_letter import DeadLetter
from otel_bridge.exporters.elasticsearch.documents import Document
from otel_bridge.exporters.elasticsearch.options import ElasticsearchOptions, RetryOptions

_log = logging.getLogger("otel_bridge.elasticsearch.bulk")

# Whole-request statuses retried with backoff; per item, 429 and any 5xx are retried.
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
# Per-item 400s that mean "does not fit the index mapping": re-sent once in the folded shape.
MAPPING_ERRORS = frozenset({"document_parsing_exception", "mapper_parsing_exception"})


def make_client(options: ElasticsearchOptions) -> Any:
    """An ``elasticsearch.Elasticsearch`` client for ``options`` with transport retries and tracing off."""
    from elasticsearch import Elasticsearch

    kwargs: dict[str, Any] = {
        "request_timeout": options.request_timeout,
        "max_retries": 0,
        "retry_on_status": (),
        "retry_on_timeout": False,
        "verify_certs": options.verify_certs,
        "http_compress": options.compress,
    }
    if options.headers:
        kwargs["headers"] = dict(options.headers)
    if options.ca_certs is not None:
        kwargs["ca_certs"] = str(options.ca_certs)
    if options.api_key is not None:
        kwargs["api_key"] = options.api_key.get_secret_value()
    if options.username is not None and options.password is not None:
        kwargs["basic_auth"] = (options.username, options.password.get_secret_value())
    if options.cloud_id:
        client = Elasticsearch(cloud_id=options.cloud_id, **kwargs)
    else:
        client = Elasticsearch(list(options.hosts), **kwargs)
    return quiet(client)


def quiet(client: Any) -> Any:
    """Turns off the client's built-in OTel spans: every ``_bulk`` would otherwise become a span in the
    app's own traces (and go to Sentry) — a feedback loop, since the SDK tracer ignores suppression."""
    try:
        from elasticsearch._otel import OpenTelemetry

        client._otel = OpenTelemetry(enabled=False)
    except Exception:  # a future client without this hook has nothing to turn off
        pass
    return client


@dataclass
class SendResult:
    """What ``send`` could not deliver, and why (``""`` when everything was resolved)."""

    left: list[Document] = field(default_factory=list)
    reason: str = ""


class Backoff:
    """Exponential backoff with "equal jitter": each wait is uniform in [d/2, d], d doubling to a cap."""

    def __init__(self, retry: RetryOptions, rand: Callable[[], float] = random.random) -> None:
        self._retry = retry
        self._rand = rand

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry number ``attempt`` (0-based), at least ``Retry-After`` when given."""
        base = min(self._retry.max_backoff, self._retry.initial_backoff * (2 ** min(attempt, 30)))
        wait = base * (0.5 + self._rand() / 2)
        if retry_after is not None:
            wait = max(wait, retry_after)  # the server knows best; the deadline still bounds it
        return wait


class BulkSender:
    """Sends documents until each is delivered, dead-lettered, or the deadline/stop ends the attempt."""

    def __init__(
        self,
        client: Any,
        retry: RetryOptions,
        stats: ExporterStats,
        dead_letter: DeadLetter,
        stop: threading.Event | None = None,
        *,
        request_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], bool] | None = None,
        rescue: Callable[[Document], Document | None] | None = None,
    ) -> None:
        self.client = client
        self.rescue = rescue
        self.retry = retry
        self.stats = stats
        self.dead_letter = dead_letter
        self.stop = stop or threading.Event()
        self.request_timeout = request_timeout
        self.clock = clock
        self.backoff = Backoff(retry, rand)
        # Waits ``seconds`` unless shut down first (returns True then); injectable for tests.
        self.sleep = sleep or self.stop.wait
        self.failure_store_used = 0
        self.already_delivered = 0  # 409 on create: landed in an earlier attempt (also counted in "sent")
        self.dead_lettered = 0
        self.rescued = 0
        self._rescue_logged = False
        self._statuses_logged: set[int] = set()

    def send(
        self, docs: list[Document], deadline: float | None = None, give_up: Callable[[], bool] | None = None
    ) -> SendResult:
        """Delivers ``docs`` with retries; never raises. ``deadline`` is on ``clock`` (monotonic).

        ``give_up()`` is asked before each wait; True ends the retries (reason ``queue_pressure``).
        """
        if deadline is None:
            deadline = self.clock() + self.retry.max_elapsed
        pending = list(docs)
        attempt = 0
        reason = ""
        while pending:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return SendResult(pending, reason or "retry_exhausted")
            retry_after: float | None = None
            try:
                pending, retry_after, reason = self._attempt(pending, remaining)
            except _Permanent as exc:
                return SendResult(pending, exc.reason)
            if not pending:
                return SendResult()
            if self.stop.is_set():
                return SendResult(pending, "shutdown")
            if give_up is not None and give_up():
                return SendResult(pending, "queue_pressure")
            wait = self.backoff.delay(attempt, retry_after)
            attempt += 1
            self.stats.state = "retrying"
            if self.clock() + wait >= deadline:
                return SendResult(pending, "retry_exhausted")
            if self.sleep(wait) or self.stop.is_set():
                return SendResult(pending, "shutdown")
            self.stats.add("retried", len(pending))
        return SendResult()

    def _attempt(self, docs: list[Document], remaining: float) -> tuple[list[Document], float | None, str]:
        """One ``_bulk`` call: (documents to retry, Retry-After seconds, reason)."""
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import ConnectionTimeout, SerializationError
        from elasticsearch import ApiError, UnsupportedProductError

        body: list[bytes] = []
        for doc in docs:
            body.append(doc.action())
            body.append(doc.source)
        started = time.monotonic()
        try:
            client = quiet(self.client.options(request_timeout=max(0.05, min(self.request_timeout, remaining))))
            response = client.bulk(operations=body)
        except UnsupportedProductError as exc:
            _log.warning("the server at the configured hosts is not Elasticsearch: %s", exc.message)
            raise _Permanent("not_elasticsearch") from None
        except ApiError as exc:
            status = exc.meta.status if exc.meta is not None else 0
            if status in RETRYABLE_STATUS:
                return docs, _retry_after(exc), f"http_{status}"
            if status == 413 and len(docs) > 1:
                half = len(docs) // 2
                left = self.send(docs[:half], self.clock() + remaining).left
                left += self.send(docs[half:], self.clock() + max(0.0, remaining)).left
                return left, None, "http_413"
            if status in (401, 403):
                _log.warning("elasticsearch refused the credentials (%s)", status)
                raise _Permanent("auth") from None
            if status >= 500:  # the server failed, not the documents: keep them (spool), no dead letters
                if status not in self._statuses_logged:
                    self._statuses_logged.add(status)
                    _log.warning("elasticsearch answered a whole _bulk with %s: %s", status, str(exc.message)[:200])
                raise _Permanent(f"http_{status}") from None
            for doc in docs:
                self._dead(doc, status, {"type": f"http_{status}", "reason": str(exc.message)[:500]})
            return [], None, ""
        except (TransportConnectionError, ConnectionTimeout) as exc:
            _log.debug("elasticsearch unreachable: %s", exc)
            return docs, None, "unavailable"
        except SerializationError as exc:
            _log.warning("cannot read the _bulk answer: %s", exc)
            return docs, None, "unavailable"
        except Exception as exc:
            _log.warning("unexpected error in _bulk: %r", exc)
            return docs, None, "unavailable"
        finally:
            self.stats.observe_latency(time.monotonic() - started)
        return self._items(docs, response.body), None, "item_retry"

    def _items(self, docs: list[Document], body: Any) -> list[Document]:
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != len(docs):
            _log.warning("_bulk answered %s items for %d documents; resending", _len(items), len(docs))
            return docs
        retry: list[Document] = []
        sent = 0
        for doc, item in zip(docs, items, strict=False):
            result: dict[str, Any] = next(iter(item.values()), {}) if isinstance(item, dict) and item else {}
            status = int(result.get("status", 0) or 0)
            if 200 <= status < 300:
                if result.get("failure_store") == "used":
                    # Stored in the failure store, not in the index: kept, but not as a log document.
                    self.failure_store_used += 1
                    self.stats.add("failed")
                else:
                    sent += 1
            elif status == 409:
                sent += 1  # created by an earlier attempt: delivered exactly once
                self.already_delivered += 1
            elif status == 429 or status >= 500 or status == 0:
                retry.append(doc)
            elif (safe := self._rescued(doc, status, result.get("error"))) is not None:
                retry.append(safe)
            else:
                self._dead(doc, status, result.get("error") or {"type": f"http_{status}"})
        self.stats.add("sent", sent)
        return retry

    def _rescued(self, doc: Document, status: int, error: Any) -> Document | None:
        kind = error.get("type") if isinstance(error, dict) else None
        if self.rescue is None or status != 400 or kind not in MAPPING_ERRORS:
            return None
        safe = self.rescue(doc)
        if safe is not None:
            self.rescued += 1
            if not self._rescue_logged:
                self._rescue_logged = True
                _log.warning(
                    "a document did not fit the index mapping (%s: %s); it is re-sent with its attributes "
                    "folded into otel_bridge.unmapped (see docs/elasticsearch.md)",
                    kind,
                    str(error.get("reason", ""))[:300],
                )
        return safe

    def _dead(self, doc: Document, status: int, error: Any) -> None:
        if not isinstance(error, dict):
            error = {"type": "error", "reason": str(error)}
        self.stats.add("failed")
        self.dead_lettered += 1
        self.dead_letter.add(doc, status, error)


class _Permanent(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _retry_after(exc: Any) -> float | None:
    try:
        value = exc.meta.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def _len(items: Any) -> int | str:
    return len(items) if isinstance(items, list) else "no"
