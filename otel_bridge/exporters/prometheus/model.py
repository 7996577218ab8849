"""The exposition model: Prometheus metric families as plain, JSON-able data.

OTel data is translated into :class:`Family` objects once (``translate``); the same objects are
rendered for ``prometheus_client`` (``collector``) and written to / merged from worker snapshots
(``multiprocess``). Pure data and arithmetic, no I/O.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["counter", "gauge", "histogram", "info"]
# Where a gauge came from: an OTel Gauge, or a non-monotonic Sum (an up-down counter), which is additive.
Origin = Literal["", "gauge", "updown"]
LabelKey = tuple[tuple[str, str], ...]


@dataclass
class Hist:
    """One histogram point: finite upper bounds, per-bucket (not cumulative) counts, sum.

    ``counts`` has ``len(bounds) + 1`` entries; the last is the ``+Inf`` bucket.
    """

    bounds: tuple[float, ...]
    counts: list[int]
    sum: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def copy(self) -> Hist:
        return Hist(self.bounds, list(self.counts), self.sum)

    def cumulative_at(self, le: float) -> int:
        """Observations <= ``le`` as far as the buckets tell."""
        idx = bisect.bisect_right(self.bounds, le)
        return sum(self.counts[:idx])

    def plus(self, other: Hist, sign: int = 1) -> Hist:
        """Adds (or with ``sign=-1`` subtracts) ``other``; differing bounds are merged on their union."""
        if other.bounds == self.bounds:
            counts = [a + sign * b for a, b in zip(self.counts, other.counts, strict=False)]
            return Hist(self.bounds, counts, self.sum + sign * other.sum)
        bounds = tuple(sorted(set(self.bounds) | set(other.bounds)))
        cum = [self.cumulative_at(b) + sign * other.cumulative_at(b) for b in bounds]
        total = self.count + sign * other.count
        counts = [c - p for c, p in zip([*cum, total], [0, *cum], strict=False)]
        return Hist(bounds, counts, self.sum + sign * other.sum)


Value = float | Hist
# An exemplar: trace id (32 hex), span id (16 hex), measured value, unix time in seconds.
Ex = tuple[str, str, float, float]
# Per series: bucket index (histograms) or 0 (counters) → the newest exemplar there.
ExemplarMap = dict[int, Ex]


@dataclass
class Family:
    """One Prometheus metric family: ``name`` is final (unit suffix included, no ``_total``)."""

    name: str
    kind: Kind
    help: str = ""
    unit: str = ""
    origin: Origin = ""
    samples: dict[LabelKey, Value] = field(default_factory=dict)
    exemplars: dict[LabelKey, ExemplarMap] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (see :meth:`from_json`)."""
        rows: list[list[Any]] = []
        for labels, value in self.samples.items():
            if isinstance(value, Hist):
                rows.append([list(labels), {"b": list(value.bounds), "c": value.counts, "s": value.sum}])
            else:
                rows.append([list(labels), value])
        ex = [[list(labels), [[i, *e] for i, e in by.items()]] for labels, by in self.exemplars.items()]
        return {"n": self.name, "k": self.kind, "h": self.help, "u": self.unit, "o": self.origin, "s": rows, "e": ex}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Family:
        """The inverse of :meth:`to_json`."""
        fam = cls(data["n"], data["k"], data.get("h", ""), data.get("u", ""), data.get("o", ""))
        for labels, value in data["s"]:
            key: LabelKey = tuple((str(k), str(v)) for k, v in labels)
            if isinstance(value, dict):
                fam.samples[key] = Hist(tuple(value["b"]), list(value["c"]), float(value["s"]))
            else:
                fam.samples[key] = float(value)
        for labels, items in data.get("e", []):
            key = tuple((str(k), str(v)) for k, v in labels)
            fam.exemplars[key] = {int(i): (str(t), str(sp), float(v), float(ts)) for i, t, sp, v, ts in items}
        return fam

    def copy(self) -> Family:
        return Family.from_json(self.to_json())

    @property
    def additive(self) -> bool:
        """Counters, histograms and up-down counters add up across processes."""
        return self.kind in ("counter", "histogram") or self.origin == "updown"


def add_value(a: Value, b: Value, sign: int = 1) -> Value:
    """``a + sign*b`` for two values of the same kind."""
    if isinstance(a, Hist) and isinstance(b, Hist):
        return a.plus(b, sign)
    if isinstance(a, Hist) or isinstance(b, Hist):
        return a  # mismatched kinds cannot be combined; keep the first
    return a + sign * b


def merge_exemplars(into: ExemplarMap, other: ExemplarMap) -> None:
    """Keeps the newest exemplar per bucket."""
    for idx, ex in other.items():
        have = into.get(idx)
        if have is None or ex[3] > have[3]:
            into[idx] = ex


def sum_into(target: dict[str, Family], families: list[Family], sign: int = 1) -> None:
    """Adds the additive ``families`` into ``target`` (by name, then by label set)."""
    for fam in families:
        if not fam.additive:
            continue
        mine = target.get(fam.name)
        if mine is None:
            mine = target[fam.name] = Family(fam.name, fam.kind, fam.help, fam.unit, fam.origin)
        elif mine.kind != fam.kind:
            continue
        for labels, by in fam.exemplars.items():
            merge_exemplars(mine.exemplars.setdefault(labels, {}), by)
        for labels, value in fam.samples.items():
            have = mine.samples.get(labels)
            if have is None:
                if sign > 0:
                    mine.samples[labels] = value.copy() if isinstance(value, Hist) else value
                continue
            mine.samples[labels] = add_value(have, value, sign)


def subtract(families: list[Family], baseline: dict[str, Family]) -> list[Family]:
    """``families`` minus ``baseline`` for additive families (what a forked child inherited)."""
    if not baseline:
        return families
    out: list[Family] = []
    for fam in families:
        base = baseline.get(fam.name)
        if base is None or not fam.additive or base.kind != fam.kind:
            out.append(fam)
            continue
        new = Family(fam.name, fam.kind, fam.help, fam.unit, fam.origin, exemplars=fam.exemplars)
        for labels, value in fam.samples.items():
            old = base.samples.get(labels)
            new.samples[labels] = value if old is None else add_value(value, old, -1)
        out.append(new)
    return out
