"""Which index a record goes to: a plain name, a strftime pattern on the record's time, a data stream,
or a per-record choice from an attribute. Pure: no I/O.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from otel_bridge.exporters.elasticsearch.options import RoutingOptions

# logs-<dataset>-<namespace>: the data stream naming scheme (dataset and namespace hold no '-').
_DATA_STREAM = re.compile(r"^(logs|metrics|traces)-([^-]+)-([^-]+)$")
# Characters Elasticsearch refuses in index names, plus '-' which would break the data stream scheme.
_INVALID = re.compile(r"[^a-z0-9_.]+")


def data_stream_parts(index: str) -> tuple[str, str, str] | None:
    """``logs-shop-default`` → ("logs", "shop", "default"); None for names outside the scheme."""
    match = _DATA_STREAM.match(index)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def sanitize(value: Any) -> str:
    """An attribute value made safe as part of an index name (lower case, ``[a-z0-9_.]``, ≤ 100 chars)."""
    text = _INVALID.sub("_", str(value).lower()).strip("_.")
    return text[:100] or "unknown"


class IndexNamer:
    """Computes the target index of each record."""

    def __init__(self, index: str, routing: RoutingOptions | None = None) -> None:
        self._index = index
        self._routing = routing
        self._dated = "%" in index
        self._cache: tuple[int, str] = (-1, index)

    @property
    def dated(self) -> bool:
        """True when the index name depends on the record time."""
        return self._dated

    def name(
        self,
        time_ns: int,
        attributes: Mapping[str, Any] | None = None,
        resource: Mapping[str, Any] | None = None,
    ) -> str:
        """The index for a record with this time and attributes."""
        routing = self._routing
        if routing is not None:
            value = (attributes or {}).get(routing.attribute)
            if value is None:
                value = (resource or {}).get(routing.attribute)
            if value is not None:
                return _expand(routing.index.replace("{value}", sanitize(value)), time_ns)
        if not self._dated:
            return self._index
        second = time_ns // 1_000_000_000
        cached_second, cached = self._cache
        if cached_second != second:
            cached = _expand(self._index, time_ns)
            self._cache = (second, cached)
        return cached

    def template_patterns(self) -> list[str]:
        """Index patterns covering every name this namer produces (for ``setup``)."""
        patterns = [_wildcard(self._index)]
        if self._routing is not None:
            patterns.append(_wildcard(self._routing.index.replace("{value}", "*")))
        return sorted(set(patterns))


def _wildcard(pattern: str) -> str:
    return re.sub(r"\*+", "*", re.sub(r"%.", "*", pattern))


def _expand(pattern: str, time_ns: int) -> str:
    if "%" not in pattern:
        return pattern
    return time.strftime(pattern, time.gmtime(time_ns // 1_000_000_000)).lower()
