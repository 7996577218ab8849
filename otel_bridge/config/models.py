"""The typed configuration: one model per top-level YAML section (DESIGN "The YAML").

Exporter entries stay plain mappings here; each is validated against its type's own options model in
:mod:`otel_bridge.config.validate`, so adding an exporter type never touches this file.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator

from otel_bridge.exporters.base import StrictModel

LogLevel = Literal["NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
AttributeValue = str | bool | int | float | list[str] | list[bool] | list[int] | list[float]


class ServiceConfig(StrictModel):
    """``service``: the resource's ``service.*`` attributes."""

    name: str | None = None
    version: str | None = None
    environment: str | None = Field(None, description="Becomes deployment.environment.name.")
    namespace: str | None = None
    instance_id: str | None = None


Detector = Literal["process", "os", "host"]
# No "process" by default: its process.command_args can carry secrets passed on a command line.
DEFAULT_DETECTORS: tuple[Detector, ...] = ("host", "os")


class ResourceConfig(StrictModel):
    """``resource``: extra resource attributes and which SDK detectors run."""

    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    detectors: list[Detector] = Field(default_factory=lambda: list(DEFAULT_DETECTORS))


SamplerType = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]


class SamplerConfig(StrictModel):
    """``traces.sampler``: the single place where traces are sampled."""

    type: SamplerType = "parentbased_always_on"
    ratio: float = Field(1.0, ge=0.0, le=1.0)


class TracesConfig(StrictModel):
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    exporters: list[str] = Field(default_factory=list)


class LogsConfig(StrictModel):
    level: LogLevel = "INFO"
    exporters: list[str] = Field(default_factory=list)

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.upper()
            return "WARNING" if value == "WARN" else value
        return value


AggregationType = Literal[
    "default",
    "drop",
    "sum",
    "last_value",
    "explicit_bucket_histogram",
    "base2_exponential_bucket_histogram",
]
InstrumentType = Literal[
    "counter",
    "up_down_counter",
    "histogram",
    "gauge",
    "observable_counter",
    "observable_up_down_counter",
    "observable_gauge",
]


class AggregationConfig(StrictModel):
    type: AggregationType = "default"
    boundaries: list[float] | None = None
    record_min_max: bool = True
    max_size: int = Field(160, gt=1)
    max_scale: int = Field(20, ge=-10, le=20)

    @field_validator("boundaries")
    @classmethod
    def _increasing(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(b <= a for a, b in pairwise(value)):
            raise ValueError("boundaries must be strictly increasing")
        return value


class ViewConfig(StrictModel):
    """One entry of ``metrics.views``: which instruments it selects and what it changes."""

    instrument_name: str | None = Field(None, description="Exact name or a wildcard like 'http.*'.")
    instrument_type: InstrumentType | None = None
    instrument_unit: str | None = None
    meter_name: str | None = None
    name: str | None = Field(None, description="Rename the stream (only for a single-instrument selection).")
    description: str | None = None
    attribute_keys: list[str] | None = Field(None, description="Allow-list; other attributes are dropped.")
    aggregation: AggregationConfig = Field(default_factory=AggregationConfig)
    cardinality_limit: int | None = Field(None, gt=0)


class MetricsConfig(StrictModel):
    exporters: list[str] = Field(default_factory=list)
    views: list[ViewConfig] = Field(default_factory=list)
    cardinality_limit: int = Field(2000, gt=0, description="Series per instrument before overflow.")
    self_metrics: bool = Field(True, description="Publish the bridge's own otel_bridge.* metrics.")


class BridgeConfig(StrictModel):
    """The whole ``otel-bridge.yaml``."""

    service: ServiceConfig = Field(default_factory=ServiceConfig)
    resource: ResourceConfig = Field(default_factory=ResourceConfig)
    traces: TracesConfig = Field(default_factory=TracesConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    exporters: dict[str, dict[str, Any] | None] = Field(default_factory=dict)

    # Filled by validation: entry name → (type name, validated options model); where it came from.
    _resolved: dict[str, tuple[str, Any]] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr("")

    @property
    def source(self) -> str:
        """Where this configuration was read from (a path, ``<mapping>`` or ``<built-in default>``)."""
        return self._source

    @property
    def resolved(self) -> dict[str, tuple[str, Any]]:
        """Exporter entry name → (type name, validated options)."""
        return self._resolved

    def used_exporters(self) -> dict[str, list[str]]:
        """Exporter entry name → the signals that route to it, in YAML order."""
        used: dict[str, list[str]] = {}
        for signal, names in (
            ("traces", self.traces.exporters),
            ("logs", self.logs.exporters),
            ("metrics", self.metrics.exporters),
        ):
            for name in names:
                used.setdefault(name, []).append(signal)
        return used
