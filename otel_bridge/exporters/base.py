"""What every exporter type is made of: its options model, its spec and the build context.

An exporter type is an :class:`ExporterSpec`. Its ``options`` model validates the YAML entry (every
model forbids unknown keys); its ``build`` turns a :class:`BuildContext` into an OTel component for one
signal. Options models must import without the backend's package, so a missing extra is reported as a
configuration error instead of an ImportError.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opentelemetry.sdk.resources import Resource
from pydantic import BaseModel, ConfigDict, Field

from otel_bridge._internal.stats import ExporterStats

Signal = Literal["traces", "logs", "metrics"]
SIGNALS: tuple[Signal, ...] = ("traces", "logs", "metrics")


class StrictModel(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class BatchOptions(StrictModel):
    """The SDK batch processor's limits, used for span and log exporters that do not batch themselves."""

    max_queue_size: int = Field(2048, gt=0, description="Items held in memory; more are dropped and counted.")
    max_export_batch_size: int = Field(512, gt=0)
    schedule_delay_ms: float = Field(1000, gt=0, description="Longest wait before a partial batch goes out.")
    export_timeout_ms: float = Field(30000, gt=0)


class ExporterOptions(StrictModel):
    """Options every exporter entry accepts."""

    type: str | None = Field(None, description="Exporter type; defaults to the entry's name.")
    batch: BatchOptions = Field(default_factory=BatchOptions)


@dataclass
class BuildContext:
    """Everything an exporter's ``build`` gets for one signal."""

    name: str
    signal: Signal
    options: Any  # the spec's options model, validated
    resource: Resource
    stats: ExporterStats
    # Per-configuration cache, for components shared across signals (one Sentry client per DSN).
    shared: dict[Any, Any] = field(default_factory=dict)
    config_dir: Path | None = None
    # metrics.cardinality_limit, for readers to pass on as the SDK's per-instrument series limit.
    cardinality_limit: int = 2000


@dataclass(frozen=True)
class ExporterSpec:
    """One exporter type.

    ``build`` returns, by signal: traces — a ``SpanExporter`` (wrapped in a batch processor with
    ``options.batch``) or a ``SpanProcessor``; logs — a ``LogRecordExporter`` (batched the same way) or
    a ``LogRecordProcessor``; metrics — a ``MetricReader``, or a ``MetricExporter`` (put under a
    periodic reader with ``options.interval_ms`` when the model has it).
    """

    type: str
    signals: frozenset[Signal]
    options: builtins.type[ExporterOptions]
    build: Callable[[BuildContext], Any]
    extra: str | None = None
    requires: tuple[str, ...] = ()
    # A one-line, secret-free description of where the exporter sends data (for validate / status).
    describe: Callable[[Any], str] = field(default=lambda options: "")
    # Runs once per configure_otel(), after the providers are installed (e.g. draining a spool).
    on_start: Callable[[BuildContext], None] | None = None
    # Cross-section validation at config time: ``check(config, name)`` returns (yaml path, message)
    # pairs, e.g. the Prometheus type rejecting an exponential-histogram view it cannot serve.
    check: Callable[[Any, str], list[tuple[str, str]]] | None = None
    # True when the exporters ``build`` returns count sent/failed into ``ctx.stats`` themselves;
    # otherwise a plain SDK exporter is wrapped to count its export results.
    counts_itself: bool = False
