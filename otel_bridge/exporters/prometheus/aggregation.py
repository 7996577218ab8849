"""A default histogram aggregation whose bucket boundaries follow the instrument's unit.

The SDK's default boundaries (0 … 10000) are sized for milliseconds: a unit-``s`` histogram of
0-0.2 s lands entirely in the first bucket and reads p90 = 4.5 s. Used as the reader's preferred
aggregation, so an explicit view or an instrument's advisory boundaries still win.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.metrics.view import Aggregation, ExplicitBucketHistogramAggregation


class UnitAwareHistogramAggregation(Aggregation):
    """Explicit-bucket histogram with boundaries chosen by instrument unit.

    Args:
        unit_buckets: unit (``s``, ``ms``, ``By`` …) → boundaries. Units not listed get the SDK default.
    """

    def __init__(self, unit_buckets: Mapping[str, Sequence[float]]) -> None:
        self._by_unit = {unit: ExplicitBucketHistogramAggregation(list(b)) for unit, b in unit_buckets.items()}
        self._fallback = ExplicitBucketHistogramAggregation()

    def boundaries_for(self, unit: str) -> Sequence[float] | None:
        """The boundaries a histogram of ``unit`` gets, or None for the SDK default."""
        chosen = self._by_unit.get(unit)
        return None if chosen is None else chosen._boundaries

    def _create_aggregation(
        self,
        instrument: Any,
        attributes: Any,
        reservoir_factory: Callable[..., Any],
        start_time_unix_nano: int,
    ) -> Any:
        advisory = getattr(instrument, "_advisory", None)
        has_advice = advisory is not None and getattr(advisory, "explicit_bucket_boundaries", None) is not None
        chosen = None if has_advice else self._by_unit.get(getattr(instrument, "unit", "") or "")
        return (chosen or self._fallback)._create_aggregation(
            instrument, attributes, reservoir_factory, start_time_unix_nano
        )
