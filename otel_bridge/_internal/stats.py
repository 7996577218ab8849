"""Per-exporter delivery counters: the numbers behind ``Bridge.status()`` and the self-metrics.

Exporters count at run time instead of raising (STYLE habit 6). Every exporter instance gets one
:class:`ExporterStats` from the :class:`StatsRegistry` of its configuration, keyed by the exporter's
name in the YAML; components of the same exporter that serve several signals share it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

# The counter names every exporter reports, in display order.
COUNTERS = ("sent", "failed", "retried", "spooled")


class ExporterStats:
    """Thread-safe counters for one configured exporter.

    ``sent``: items the backend accepted. ``failed``: items the backend refused for good (they may
    still be in a dead-letter file). ``retried``: items sent again after a retryable failure.
    ``spooled``: items written to the disk spool. ``dropped``: items lost, by reason.
    """

    def __init__(self, name: str, type_name: str, target: str = "") -> None:
        self.name = name
        self.type = type_name
        self.target = target  # already redacted by whoever sets it
        self.state = "ok"
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._dropped: dict[str, int] = {}
        self._queue_probes: list[Callable[[], int]] = []
        self._latency_sink: Callable[[float], None] | None = None
        self.extra: dict[str, Callable[[], Any]] = {}

    def add(self, counter: str, n: int = 1) -> None:
        """Adds ``n`` to one of :data:`COUNTERS`."""
        if n:
            with self._lock:
                self._counts[counter] += n

    def drop(self, reason: str, n: int = 1) -> None:
        """Counts ``n`` items lost for ``reason`` (``queue_full``, ``spool_full``, ``shutdown`` …)."""
        if n:
            with self._lock:
                self._dropped[reason] = self._dropped.get(reason, 0) + n

    def add_queue_probe(self, probe: Callable[[], int]) -> None:
        """Registers a callable whose value is added into ``queued``."""
        self._queue_probes.append(probe)

    def observe_latency(self, seconds: float) -> None:
        """Records how long one export call took (feeds the self-metrics histogram)."""
        sink = self._latency_sink
        if sink is not None:
            sink(seconds)

    def queued(self) -> int:
        total = 0
        for probe in self._queue_probes:
            try:
                total += int(probe())
            except Exception:  # a probe must never break status()
                continue
        return total

    def count(self, counter: str) -> int:
        with self._lock:
            return self._counts[counter]

    def dropped(self) -> dict[str, int]:
        with self._lock:
            return dict(self._dropped)

    def snapshot(self) -> dict[str, Any]:
        """A plain dict for ``status()``; contains no secrets."""
        with self._lock:
            counts = dict(self._counts)
            dropped = dict(self._dropped)
        snap: dict[str, Any] = {"type": self.type, "state": self.state, "target": self.target}
        snap.update(counts)
        snap["dropped"] = sum(dropped.values())
        snap["dropped_by_reason"] = dropped
        snap["queued"] = self.queued()
        for key, read in self.extra.items():
            try:
                snap[key] = read()
            except Exception:
                snap[key] = None
        return snap


class StatsRegistry:
    """All :class:`ExporterStats` of one configuration, by exporter name."""

    def __init__(self) -> None:
        self._by_name: dict[str, ExporterStats] = {}
        self._latency_sink: Callable[[str, float], None] | None = None

    def get(self, name: str, type_name: str = "", target: str = "") -> ExporterStats:
        """Returns the stats of exporter ``name``, creating them on first use."""
        stats = self._by_name.get(name)
        if stats is None:
            stats = ExporterStats(name, type_name or name, target)
            self._by_name[name] = stats
            self._wire_latency(stats)
        elif target and not stats.target:
            stats.target = target
        return stats

    def bind_latency(self, sink: Callable[[str, float], None]) -> None:
        """Routes every exporter's export latency to ``sink(name, seconds)``."""
        self._latency_sink = sink
        for stats in self._by_name.values():
            self._wire_latency(stats)

    def _wire_latency(self, stats: ExporterStats) -> None:
        sink = self._latency_sink
        if sink is not None:
            stats._latency_sink = lambda s, _n=stats.name: sink(_n, s)

    def __iter__(self) -> Iterator[ExporterStats]:
        return iter(list(self._by_name.values()))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {stats.name: stats.snapshot() for stats in self}
