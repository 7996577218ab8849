"""The Prometheus pull reader: collects from the SDK on each scrape and never fails the scrape.

Built on the SDK's ``MetricReader`` and the naming rules of ``opentelemetry-exporter-prometheus``
(``_mapping``); the translation is ours (``translate``) so that attribute collisions, exponential
histograms and multi-process merging are handled, and ``prometheus_client`` only renders.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricReader, MetricsData
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric as PromMetric

from otel_bridge._internal import guard
from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.prometheus.aggregation import UnitAwareHistogramAggregation
from otel_bridge.exporters.prometheus.collector import render
from otel_bridge.exporters.prometheus.model import Family
from otel_bridge.exporters.prometheus.options import PrometheusOptions
from otel_bridge.exporters.prometheus.translate import (
    TranslateOptions,
    TranslateReport,
    target_info,
    translate,
)

_log = logging.getLogger("otel_bridge.prometheus")

try:  # the synchronous Gauge exists in 1.45 under this name
    from opentelemetry.sdk.metrics import _Gauge as _SyncGauge
except ImportError:  # pragma: no cover
    _SyncGauge = None  # type: ignore[assignment,misc]

_CUMULATIVE: dict[type, AggregationTemporality] = {
    cls: AggregationTemporality.CUMULATIVE
    for cls in (Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter, ObservableGauge)
}
if _SyncGauge is not None:
    _CUMULATIVE[_SyncGauge] = AggregationTemporality.CUMULATIVE


class PrometheusReader(MetricReader):
    """Pull reader serving OTel metrics in the Prometheus text formats.

    Args:
        options: the validated ``prometheus`` exporter entry.
        stats: where scrapes are counted (``sent`` = scrapes served, ``failed`` = scrapes that hit an
            internal error and were answered empty); a single untranslatable metric is left out
            of the scrape and warned about once.
        cardinality_limits: per instrument class, as the SDK readers take it.
    """

    def __init__(
        self,
        options: PrometheusOptions | None = None,
        stats: ExporterStats | None = None,
        *,
        cardinality_limits: dict[type, int] | None = None,
    ) -> None:
        self.options = options or PrometheusOptions()
        kwargs: dict[str, Any] = {}
        try:
            from opentelemetry.semconv._incubating.attributes.otel_attributes import OtelComponentTypeValues

            kwargs["otel_component_type"] = OtelComponentTypeValues.PROMETHEUS_HTTP_TEXT_METRIC_EXPORTER
        except (ImportError, AttributeError):  # pragma: no cover - older semconv
            pass
        super().__init__(
            preferred_temporality=_CUMULATIVE,
            preferred_aggregation={Histogram: UnitAwareHistogramAggregation(self.options.unit_buckets)},
            cardinality_limits=cardinality_limits,
            **kwargs,
        )
        self.stats = stats or ExporterStats("prometheus", "prometheus")
        self._translate_options = TranslateOptions(
            prefix=self.options.prefix,
            scope_labels=self.options.scope_labels,
            resource_constant_labels=tuple(self.options.resource_constant_labels),
        )
        self._lock = threading.Lock()
        self._latest: MetricsData | None = None
        self._target: dict[str, str] | None = None
        self._warned: set[tuple[str, str]] = set()
        self._shut = False
        # Set by the multi-process coordinator: own families → every worker's families merged.
        self.merge: Callable[[list[Family]], list[Family]] | None = None
        self.on_shutdown: list[Callable[[], None]] = []
        self.on_flush: list[Callable[[], None]] = []
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))  # type: ignore[arg-type]

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        self._latest = metrics_data

    def own_families(self) -> list[Family]:
        """This process's metrics, freshly collected and translated."""
        with self._lock:
            families, report = self.own_families_nolock()
        self._warn(report)
        return families

    def own_families_nolock(self) -> tuple[list[Family], TranslateReport]:
        """:meth:`own_families` for a caller that already holds :attr:`lock` (the fork hook)."""
        report = TranslateReport()
        if self._shut:
            return [], report
        self._latest = None
        self.collect()
        data = self._latest
        families = translate(data, self._translate_options, report)
        if self.options.target_info and self._target is None and data is not None:
            self._target = target_info(data)
        return families, report

    @property
    def basic_auth(self) -> Any:
        """The credentials the endpoint requires (None: open)."""
        return self.options.basic_auth

    @property
    def lock(self) -> threading.Lock:
        """Held while collecting; the multi-process fork hook holds it across ``fork()``."""
        return self._lock

    def families(self) -> tuple[list[Family], dict[str, str] | None]:
        """What a scrape serves: own (or merged multi-process) families and target_info labels."""
        own = self.own_families()
        merged = self.merge(own) if self.merge is not None else own
        return merged, (self._target if self.options.target_info else None)

    def scrape(self) -> Iterable[PromMetric]:
        """Rendered families for ``prometheus_client``; never raises."""
        start = time.perf_counter()
        try:
            with guard.suppressed():
                families, target = self.families()
                clashes: set[str] = set()
                out = list(render(families, target, clashes))
        except Exception:
            self.stats.add("failed")
            if ("error", "") not in self._warned:
                self._warned.add(("error", ""))
                _log.exception("prometheus: collecting metrics failed; the scrape is served without them")
            return []
        if clashes:
            self._warn(TranslateReport(conflicts=clashes))
        self.stats.add("sent")
        self.stats.observe_latency(time.perf_counter() - start)
        return out

    def _warn(self, report: TranslateReport) -> None:
        for kind, names, message in (
            (
                "exp",
                report.converted_exponential,
                "prometheus: exponential histogram %r served as classic buckets at its exponential bounds"
                " (bounds change with scale); configure explicit_bucket_histogram for it",
            ),
            (
                "overflow",
                report.overflowed,
                "prometheus: metric %r exceeded its cardinality limit; further series are folded into "
                'otel_metric_overflow="true" (raise metrics.cardinality_limit or a view\'s cardinality_limit)',
            ),
            (
                "failed",
                report.failed,
                "prometheus: metric %r could not be translated and is left out of the scrape",
            ),
            (
                "conflict",
                report.conflicts,
                "prometheus: two instruments map to %r with different types (or to names the other one"
                " exposes, e.g. a counter's _total or a histogram's _count); the later one is not served",
            ),
        ):
            for name in names:
                if (kind, name) not in self._warned:
                    self._warned.add((kind, name))
                    _log.warning(message, name)

    def overflowed(self) -> list[str]:
        """Metric names that hit their cardinality limit since start."""
        return sorted(name for kind, name in self._warned if kind == "overflow")

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """A pull reader has nothing to push; in multi-process mode this writes the snapshot now."""
        try:
            for hook in self.on_flush:
                hook()
        except Exception:
            _log.debug("prometheus: force_flush failed", exc_info=True)
            return False
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Stops serving and writes a last snapshot; safe to call twice."""
        with self._lock:
            if self._shut:
                return
            hooks, self.on_shutdown = self.on_shutdown, []
        for hook in hooks:
            try:
                hook()
            except Exception:
                _log.debug("prometheus: shutdown hook failed", exc_info=True)
        with self._lock:
            self._shut = True


class _Collector:
    """The ``prometheus_client`` collector bound to one reader."""

    def __init__(self, reader: PrometheusReader) -> None:
        self._reader = reader

    def collect(self) -> Iterable[PromMetric]:
        return self._reader.scrape()
