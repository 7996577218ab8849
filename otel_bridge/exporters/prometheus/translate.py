"""OTel ``MetricsData`` → :class:`~.model.Family` list, per the OTel↔Prometheus compatibility spec.

Names: sanitised, unit suffix appended (``s`` → ``_seconds``, UCUM annotations dropped), counters get
``_total`` when rendered. Labels: resource constant labels, then scope labels, then point attributes;
keys that sanitise to the same label have their values joined with ``;`` in the lexicographic order of
the original keys. An exponential histogram is converted to classic buckets at the exponential
bucket bounds (count and sum exact) instead of failing the scrape. Exemplars with a trace are kept
(newest per counter series / histogram bucket) and rendered in the OpenMetrics format.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.exporter.prometheus._mapping import map_unit, sanitize_attribute, sanitize_full_name
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)

from otel_bridge.exporters.prometheus.model import ExemplarMap, Family, Hist, Kind, LabelKey, Origin

_log = logging.getLogger("otel_bridge.prometheus")

OVERFLOW_ATTRIBUTE = "otel.metric.overflow"


@dataclass
class TranslateOptions:
    """What the translation may add or leave out."""

    prefix: str = ""
    scope_labels: bool = True
    resource_constant_labels: Sequence[str] = ()


@dataclass
class TranslateReport:
    """Things noticed while translating, for counting and warn-once logging by the caller."""

    converted_exponential: set[str] = field(default_factory=set)
    overflowed: set[str] = field(default_factory=set)
    conflicts: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)


def utf8_text(value: str) -> str:
    """``value`` if it encodes as UTF-8; else with its lone surrogates as ``?``.

    A surrogate (``os.fsdecode`` of a bad file name, a decode with ``surrogateescape``) passes the SDK's
    attribute checks but makes ``prometheus_client`` fail the whole response with HTTP 500.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def label_value(value: Any) -> str:
    """Strings as they are (made UTF-8 safe); everything else (numbers, bools, sequences) as JSON."""
    return utf8_text(value) if isinstance(value, str) else json.dumps(value, default=str)


def make_labels(sources: Iterable[Mapping[str, Any]]) -> LabelKey:
    """Sanitised, collision-joined, sorted label pairs from attribute mappings (first wins per key)."""
    by_label: dict[str, dict[str, str]] = {}
    for attrs in sources:
        for key, value in attrs.items():
            group = by_label.setdefault(sanitize_attribute(key), {})
            group.setdefault(key, label_value(value))
    return tuple(sorted((label, ";".join(group[k] for k in sorted(group))) for label, group in by_label.items()))


def family_name(name: str, unit: str, prefix: str = "", counter: bool = True, gauge: bool = False) -> tuple[str, str]:
    """Final family name (unit suffix appended once; a counter's ``_total`` removed, it is added when
    rendered) and the Prometheus unit.

    ``gauge``: an OTel Gauge, whose unit ``1`` becomes ``ratio`` (the spec's special case, applied to
    gauges only as the Collector and Prometheus's own OTLP translator do: ``retries_ratio_total`` helps
    nobody).
    """
    full = sanitize_full_name(f"{prefix}_{name}" if prefix else name)
    prom_unit = "ratio" if gauge and unit == "1" else map_unit(unit or "")
    if counter and full.endswith("_total"):
        full = full[: -len("_total")]
    if prom_unit and not full.endswith("_" + prom_unit):
        full = f"{full}_{prom_unit}"
    return full, prom_unit


def exponential_to_hist(point: ExponentialHistogramDataPoint) -> Hist:
    """Classic buckets at the exponential bucket bounds: exact count and sum, bounds that vary with scale."""
    base = 2.0 ** (2.0**-point.scale)
    bounds: list[float] = []
    counts: list[int] = []
    neg = point.negative
    # Negative bucket i covers [-base^(i+1), -base^i): its upper bound is -base^i; highest index first.
    negative = neg.bucket_counts if any(neg.bucket_counts) else ()
    for i in range(len(negative) - 1, -1, -1):
        bounds.append(-(base ** (neg.offset + i)))
        counts.append(int(neg.bucket_counts[i]))
    if point.zero_count or not bounds or point.positive.bucket_counts:
        bounds.append(0.0)
        counts.append(int(point.zero_count))
    pos = point.positive
    for i, n in enumerate(pos.bucket_counts):
        bound = base ** (pos.offset + i + 1)
        if bounds and bound <= bounds[-1]:  # float rounding at extreme scales: fold into the previous bucket
            counts[-1] += int(n)
            continue
        bounds.append(bound)
        counts.append(int(n))
    counts.append(0)  # +Inf
    return Hist(tuple(bounds), counts, float(point.sum))


def exemplar_map(exemplars: Iterable[Any], bounds: Sequence[float] | None) -> ExemplarMap:
    """Sampled exemplars (with a trace) by bucket index (``0`` for counters), newest per bucket."""
    out: ExemplarMap = {}
    for ex in exemplars:
        if not ex.trace_id or not ex.span_id:
            continue
        idx = 0 if bounds is None else bisect.bisect_left(list(bounds), ex.value)
        item = (f"{ex.trace_id:032x}", f"{ex.span_id:016x}", float(ex.value), ex.time_unix_nano / 1e9)
        have = out.get(idx)
        if have is None or item[3] >= have[3]:
            out[idx] = item
    return out


def _kind_of(data: Any) -> tuple[Kind, Origin] | None:
    if isinstance(data, Sum):
        if data.is_monotonic:
            return "counter", ""
        return "gauge", "updown"
    if isinstance(data, Gauge):
        return "gauge", "gauge"
    if isinstance(data, Histogram | ExponentialHistogram):
        return "histogram", ""
    return None


def _scope_labels(scope: Any, enabled: bool) -> dict[str, Any]:
    if not enabled:
        return {}
    labels: dict[str, Any] = {"otel_scope_name": scope.name or ""}
    if scope.version:
        labels["otel_scope_version"] = scope.version
    if scope.schema_url:
        labels["otel_scope_schema_url"] = scope.schema_url
    for key, value in (getattr(scope, "attributes", None) or {}).items():
        labels["otel_scope_" + key] = value
    return labels


def _add_metric(
    families: dict[str, Family],
    metric: Any,
    fixed: tuple[Mapping[str, Any], Mapping[str, Any]],
    options: TranslateOptions,
    report: TranslateReport,
) -> None:
    kind = _kind_of(metric.data)
    if kind is None:
        return
    if isinstance(metric.data, Sum) and metric.data.aggregation_temporality != AggregationTemporality.CUMULATIVE:
        return  # the reader asks for cumulative; a delta sum cannot be served as is
    name, unit = family_name(metric.name, metric.unit or "", options.prefix, kind[0] == "counter", kind[1] == "gauge")
    fam = families.get(name)
    if fam is None:
        fam = Family(name, kind[0], utf8_text(metric.description or ""), unit, kind[1])
    elif fam.kind != kind[0]:
        report.conflicts.add(name)  # two instruments, one name, different types: keep the first
        return
    samples: dict[LabelKey, Any] = {}
    exemplar_maps: dict[LabelKey, ExemplarMap] = {}
    for point in metric.data.data_points:
        attrs = point.attributes or {}
        if attrs.get(OVERFLOW_ATTRIBUTE):
            report.overflowed.add(metric.name)
        labels = make_labels((*fixed, attrs))
        if kind[0] == "histogram" and any(label == "le" for label, _ in labels):
            raise ValueError("an 'le' attribute clashes with the bucket label (the metric is skipped)")
        if isinstance(point, ExponentialHistogramDataPoint):
            report.converted_exponential.add(metric.name)
            samples[labels] = exponential_to_hist(point)
        elif kind[0] == "histogram":
            bounds = tuple(float(b) for b in point.explicit_bounds)
            samples[labels] = Hist(bounds, [int(c) for c in point.bucket_counts], float(point.sum))
            if point.exemplars:
                exemplar_maps[labels] = exemplar_map(point.exemplars, bounds)
        else:
            samples[labels] = float(point.value)
            if kind[0] == "counter" and point.exemplars:
                exemplar_maps[labels] = exemplar_map(point.exemplars, None)
    # Only a fully translated metric is added: a bad one is skipped whole, never half-served.
    families.setdefault(name, fam)
    fam.samples.update(samples)
    fam.exemplars.update(exemplar_maps)


def translate(
    data: MetricsData | None, options: TranslateOptions, report: TranslateReport | None = None
) -> list[Family]:
    """Every metric of ``data`` as families; same-named metrics of one kind share one family.

    A metric that cannot be translated is skipped and named in ``report.failed``; the rest is served.
    """
    report = report if report is not None else TranslateReport()
    families: dict[str, Family] = {}
    if data is None:
        return []
    for rm in data.resource_metrics:
        res_attrs = rm.resource.attributes
        const = {k: res_attrs[k] for k in options.resource_constant_labels if k in res_attrs}
        for sm in rm.scope_metrics:
            scope = _scope_labels(sm.scope, options.scope_labels)
            for metric in sm.metrics:
                try:
                    _add_metric(families, metric, (const, scope), options, report)
                except Exception:
                    report.failed.add(getattr(metric, "name", "?"))
    return list(families.values())


def target_info(data: MetricsData | None) -> dict[str, str]:
    """The resource attributes of ``data`` as sanitised ``target_info`` labels."""
    attrs: dict[str, Any] = {}
    if data is not None:
        for rm in data.resource_metrics:
            attrs.update(rm.resource.attributes)
    return dict(make_labels([attrs]))
