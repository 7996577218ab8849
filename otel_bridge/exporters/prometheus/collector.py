"""Renders :class:`~.model.Family` lists as ``prometheus_client`` metric families.

One family per name (families were merged by name upstream), and a family whose exposed names
(``x`` and ``x_total`` for a counter; ``x``, ``x_bucket``, ``x_count``, ``x_sum`` for a histogram)
overlap an earlier one's is left out, so no HELP/TYPE line is ever printed twice and no series has
two types. Samples are added with their own label sets (no ``""`` backfill across a family).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.core import Metric as PromMetric
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from otel_bridge.exporters.prometheus.model import Ex, Family, Hist


def _buckets(hist: Hist) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip([*hist.bounds, float("inf")], hist.counts, strict=False):
        running += n
        out.append((floatToGoString(bound), running))
    return out


def _exemplar(ex: Ex | None) -> Exemplar | None:
    if ex is None:
        return None
    return Exemplar({"trace_id": ex[0], "span_id": ex[1]}, ex[2], ex[3])


def render_family(fam: Family) -> PromMetric:
    """One family as a prometheus_client metric family; each sample keeps only its own labels."""
    factory: Any = {
        "counter": CounterMetricFamily,
        "gauge": GaugeMetricFamily,
        "histogram": HistogramMetricFamily,
    }[fam.kind]
    out = factory(fam.name, fam.help, unit=fam.unit)
    name = out.name
    for labels, value in fam.samples.items():
        as_dict = dict(labels)
        exemplars = fam.exemplars.get(labels) or {}
        if isinstance(value, Hist):
            for i, (le, cumulative) in enumerate(_buckets(value)):
                out.add_sample(
                    f"{name}_bucket", {**as_dict, "le": le}, cumulative, exemplar=_exemplar(exemplars.get(i))
                )
            out.add_sample(f"{name}_count", as_dict, value.count)
            out.add_sample(f"{name}_sum", as_dict, value.sum)
        elif fam.kind == "counter":
            out.add_sample(f"{name}_total", as_dict, value, exemplar=_exemplar(exemplars.get(0)))
        else:
            out.add_sample(name, as_dict, value)
    return out


def exposed_names(fam: Family) -> set[str]:
    """The names a family takes in either text format: its TYPE line's and its samples'."""
    if fam.kind == "counter":
        return {fam.name, f"{fam.name}_total"}
    if fam.kind == "histogram":
        return {fam.name, f"{fam.name}_bucket", f"{fam.name}_count", f"{fam.name}_sum"}
    return {fam.name}


def render(
    families: list[Family], target: dict[str, str] | None, conflicts: set[str] | None = None
) -> Iterator[PromMetric]:
    """``target_info`` (when given and non-empty), then every family with at least one sample.

    A family whose names are already taken (``jobs`` counter vs ``jobs_total`` gauge) is skipped and
    added to ``conflicts``: the first one served wins, as for two instruments of one name.
    """
    taken: set[str] = set()
    if target:
        taken.update(("target", "target_info"))
        yield InfoMetricFamily("target", "Target metadata", value=target)
    for fam in families:
        if not fam.samples or fam.kind == "info":
            continue
        names = exposed_names(fam)
        if names & taken:
            if conflicts is not None:
                conflicts.add(fam.name)
            continue
        taken |= names
        yield render_family(fam)
