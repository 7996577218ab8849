"""``metrics.views`` → SDK ``View`` objects (also run at validation time to report bad views early)."""

from __future__ import annotations

from opentelemetry.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.view import (
    Aggregation,
    DefaultAggregation,
    DropAggregation,
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    LastValueAggregation,
    SumAggregation,
    View,
)

from otel_bridge.config.errors import ConfigError, Problem
from otel_bridge.config.models import AggregationConfig, ViewConfig

INSTRUMENT_TYPES: dict[str, type] = {
    "counter": Counter,
    "up_down_counter": UpDownCounter,
    "histogram": Histogram,
    "gauge": _Gauge,
    "observable_counter": ObservableCounter,
    "observable_up_down_counter": ObservableUpDownCounter,
    "observable_gauge": ObservableGauge,
}


def build_aggregation(config: AggregationConfig) -> Aggregation:
    kind = config.type
    if kind == "drop":
        return DropAggregation()
    if kind == "sum":
        return SumAggregation()
    if kind == "last_value":
        return LastValueAggregation()
    if kind == "explicit_bucket_histogram":
        return ExplicitBucketHistogramAggregation(boundaries=config.boundaries, record_min_max=config.record_min_max)
    if kind == "base2_exponential_bucket_histogram":
        return ExponentialBucketHistogramAggregation(max_size=config.max_size, max_scale=config.max_scale)
    return DefaultAggregation()


def cardinality_limits(limit: int) -> dict[type, int]:
    """The same series limit for every instrument kind, keyed as the SDK readers want it."""
    from opentelemetry.sdk import metrics as sdk

    kinds = (
        sdk.Counter,
        sdk.UpDownCounter,
        sdk.Histogram,
        sdk._Gauge,
        sdk.ObservableCounter,
        sdk.ObservableUpDownCounter,
        sdk.ObservableGauge,
    )
    return dict.fromkeys(kinds, limit)


def build_views(views: list[ViewConfig], default_limit: int) -> list[View]:
    """Builds every view; raises one ConfigError naming each view the SDK refuses."""
    built: list[View] = []
    problems: list[Problem] = []
    for i, view in enumerate(views):
        if (
            view.instrument_name is None
            and view.instrument_type is None
            and view.meter_name is None
            and (view.instrument_unit is None)
        ):
            problems.append(Problem(f"metrics.views[{i}]", "selects nothing: set instrument_name or instrument_type"))
            continue
        try:
            built.append(
                View(
                    instrument_type=INSTRUMENT_TYPES[view.instrument_type] if view.instrument_type else None,
                    instrument_name=view.instrument_name,
                    instrument_unit=view.instrument_unit,
                    meter_name=view.meter_name,
                    name=view.name,
                    description=view.description,
                    attribute_keys=set(view.attribute_keys) if view.attribute_keys is not None else None,
                    aggregation=build_aggregation(view.aggregation),
                    aggregation_cardinality_limit=view.cardinality_limit or default_limit,
                )
            )
        except Exception as exc:  # the SDK's own rule checks, e.g. a rename with a wildcard selection
            problems.append(Problem(f"metrics.views[{i}]", str(exc)))
    if problems:
        raise ConfigError(problems)
    return built
