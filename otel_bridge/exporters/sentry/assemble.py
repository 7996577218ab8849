"""Bounded, thread-safe state between export calls: transaction grouping, breadcrumbs, de-duplication.

Children end (and are exported) before their root, often in earlier batches. The assembler holds
them until their local root arrives, bounded by age and by a total span count; what it must let go
is released as a transaction of its own (rooted at the top-most released span) or dropped, and
counted either way. Time comes from an injected clock so tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from opentelemetry.sdk.trace import ReadableSpan

from otel_bridge.exporters.sentry.convert import is_local_root
from otel_bridge.exporters.sentry.events import Breadcrumb

Clock = Callable[[], float]


@dataclass
class Group:
    """A root span with its descendants; ``orphan`` when the root is stand-in, not a local root."""

    root: ReadableSpan
    children: list[ReadableSpan]
    orphan: bool = False


@dataclass
class _Pending:
    first_seen: float
    spans: dict[int, ReadableSpan] = field(default_factory=dict)  # span id → span


def _span_id(span: ReadableSpan) -> int:
    return span.context.span_id if span.context else 0


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


class TransactionAssembler:
    """Groups spans into transactions across export batches, within ``timeout_s`` and ``max_spans``."""

    def __init__(self, timeout_s: float, max_spans: int, clock: Clock = time.monotonic) -> None:
        self._timeout_s = timeout_s
        self._max_spans = max_spans
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, _Pending] = OrderedDict()  # trace id → spans, oldest first
        self._count = 0
        self.released = 0  # spans let go without their root (total)
        # Spans already sent in a transaction: a late child of one is sent at once, not held.
        self._sent: OrderedDict[tuple[int, int], None] = OrderedDict()

    @property
    def pending(self) -> int:
        """Spans currently held waiting for their root."""
        return self._count

    def add(self, spans: Iterable[ReadableSpan]) -> list[Group]:
        """Takes one export batch; returns the transactions now complete, then any released groups."""
        now = self._clock()
        roots: list[ReadableSpan] = []
        with self._lock:
            for span in spans:
                if span.context is None:
                    continue
                parent = _parent_id(span)
                if is_local_root(span) or (span.context.trace_id, parent) in self._sent:
                    roots.append(span)
                    continue
                entry = self._pending.get(span.context.trace_id)
                if entry is None:
                    entry = self._pending[span.context.trace_id] = _Pending(now)
                entry.spans[_span_id(span)] = span
                self._count += 1
            groups = [self._complete(root) for root in roots]
            groups += self._evict(now)
        return groups

    def sweep(self) -> list[Group]:
        """Releases traces held longer than the timeout."""
        with self._lock:
            return self._evict(self._clock())

    def drain(self) -> list[Group]:
        """Releases everything (shutdown)."""
        with self._lock:
            groups: list[Group] = []
            while self._pending:
                groups += self._release_oldest()
            return groups

    def _complete(self, root: ReadableSpan) -> Group:
        trace_id = root.context.trace_id
        late = not is_local_root(root)
        entry = self._pending.get(trace_id)
        children: list[ReadableSpan] = []
        if entry is not None:
            members = _descendants(_span_id(root), entry.spans)
            children = [entry.spans.pop(span_id) for span_id in members]
            self._count -= len(children)
            if not entry.spans:
                del self._pending[trace_id]
        for span in (root, *children):
            self._sent[(trace_id, _span_id(span))] = None
        while len(self._sent) > self._max_spans:
            self._sent.popitem(last=False)
        return Group(root, children, orphan=late)

    def _evict(self, now: float) -> list[Group]:
        groups: list[Group] = []
        while self._pending:
            oldest = next(iter(self._pending.values()))
            if self._count > self._max_spans or now - oldest.first_seen >= self._timeout_s:
                groups += self._release_oldest()
            else:
                break
        return groups

    def _release_oldest(self) -> list[Group]:
        _, entry = self._pending.popitem(last=False)
        self._count -= len(entry.spans)
        self.released += len(entry.spans)
        return _orphan_groups(entry.spans)


def _descendants(root_id: int, spans: dict[int, ReadableSpan]) -> list[int]:
    """Ids in ``spans`` whose parent chain (within ``spans``) reaches ``root_id``."""
    verdict: dict[int, bool] = {}
    for start in spans:
        path: list[int] = []
        current: int | None = start
        result = False
        while current is not None:
            if current in verdict:
                result = verdict[current]
                break
            if current == root_id:
                result = True
                break
            span = spans.get(current)
            if span is None or current in path:
                break
            path.append(current)
            current = _parent_id(span)
        for span_id in path:
            verdict[span_id] = result
    return [span_id for span_id in spans if verdict.get(span_id)]


def _orphan_groups(spans: dict[int, ReadableSpan]) -> list[Group]:
    """Splits released spans into trees, each rooted at a span whose parent was not held."""
    tops = [s for s in spans.values() if _parent_id(s) not in spans]
    groups: list[Group] = []
    remaining = dict(spans)
    for top in sorted(tops, key=lambda s: s.start_time or 0):
        top_id = _span_id(top)
        remaining.pop(top_id, None)
        members = _descendants(top_id, remaining)
        groups.append(Group(top, [remaining.pop(m) for m in members], orphan=True))
    return groups


class BreadcrumbStore:
    """The latest breadcrumbs of recent traces: at most ``per_trace`` each, ``max_traces`` traces and
    :attr:`MAX_TOTAL` breadcrumbs in all (the least recently used traces go first)."""

    MAX_TOTAL = 10_000

    def __init__(self, per_trace: int, max_traces: int = 1000) -> None:
        self._per_trace = per_trace
        self._max_traces = max_traces
        self._lock = threading.Lock()
        self._traces: OrderedDict[str, deque[Breadcrumb]] = OrderedDict()
        self._total = 0

    @property
    def total(self) -> int:
        """Breadcrumbs held, all traces together."""
        return self._total

    def add(self, trace_id: str, crumb: Breadcrumb) -> None:
        """Keeps ``crumb`` for later errors of ``trace_id``."""
        if not trace_id or self._per_trace <= 0:
            return
        with self._lock:
            crumbs = self._traces.get(trace_id)
            if crumbs is None:
                crumbs = self._traces[trace_id] = deque(maxlen=self._per_trace)
            else:
                self._traces.move_to_end(trace_id)
            if len(crumbs) < self._per_trace:
                self._total += 1
            crumbs.append(crumb)
            while len(self._traces) > 1 and (len(self._traces) > self._max_traces or self._total > self.MAX_TOTAL):
                _, evicted = self._traces.popitem(last=False)
                self._total -= len(evicted)

    def before(self, trace_id: str, timestamp: float, extra: Sequence[Breadcrumb] = ()) -> list[Breadcrumb]:
        """Breadcrumbs of ``trace_id`` (plus ``extra``) strictly older than ``timestamp``, newest kept."""
        with self._lock:
            stored = list(self._traces.get(trace_id, ())) if trace_id else []
        crumbs = sorted((c for c in [*stored, *extra] if c.timestamp < timestamp), key=lambda c: c.timestamp)
        return crumbs[-self._per_trace :] if self._per_trace > 0 else []


@dataclass(frozen=True)
class Sighting:
    """Where one copy of an error was seen: ``source`` is ``log`` (a record logged in span
    ``span_id``), ``event`` (recorded on the span by the app) or ``escaped`` (recorded by the SDK as
    it left the span); ``ancestors`` are the span's known parent, grandparent … ids."""

    source: str
    span_id: int
    ancestors: tuple[int, ...] = ()


def _joins(group: list[Sighting], new: Sighting) -> bool:
    """True when ``new`` can be one more copy of the exception whose copies are ``group``.

    One exception is logged at most once per span, recorded at most once per span by the app and
    once as it escapes, and escapes along one chain of ancestors: a second sighting at the same
    place, or on another branch of the trace, is another exception (a retry, the next item)."""
    linked = False
    for seen in group:
        if seen.source == new.source and seen.span_id == new.span_id:
            return False
        if seen.source != "log" and new.source != "log":
            if seen.span_id != new.span_id and new.span_id not in seen.ancestors and seen.span_id not in new.ancestors:
                return False
            linked = True
        elif seen.span_id == new.span_id or seen.span_id in new.ancestors or new.span_id in seen.ancestors:
            linked = True
    return linked


class Deduper:
    """Remembers recent error keys so one exception seen as a log record and as span events (as it
    propagates through nested spans) is sent once, while distinct exceptions with the same key (a
    retry loop, a batch of items failing alike) are all sent."""

    MAX_GROUPS = 32  # distinct exceptions remembered per key
    MAX_SIGHTINGS = 16  # copies remembered per exception
    MAX_TOTAL = 20_000  # sightings remembered in all; the least recently seen keys go first

    def __init__(self, max_keys: int = 4096) -> None:
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, ...], list[list[Sighting]]] = OrderedDict()
        self._total = 0

    @property
    def total(self) -> int:
        """Sightings remembered, all keys together."""
        return self._total

    def first_time(self, key: tuple[str, ...], where: Sighting | None = None) -> bool:
        """True the first time ``key`` is offered (with ``where``: the first time this exception is,
        see :func:`_joins`); records it."""
        with self._lock:
            groups = self._seen.get(key)
            first = True
            if groups is not None:
                self._seen.move_to_end(key)
                if where is None:
                    return False
                for group in groups:
                    if _joins(group, where):
                        if len(group) < self.MAX_SIGHTINGS:
                            group.append(where)
                            self._total += 1
                        first = False
                        break
            else:
                groups = self._seen[key] = []
            if first and where is not None:
                groups.append([where])
                self._total += 1
                if len(groups) > self.MAX_GROUPS:
                    self._total -= len(groups.pop(0))
            while len(self._seen) > 1 and (len(self._seen) > self._max_keys or self._total > self.MAX_TOTAL):
                _, evicted = self._seen.popitem(last=False)
                self._total -= sum(len(group) for group in evicted)
            return first
