"""Options of the ``elasticsearch`` exporter type (importable without the ``elasticsearch`` package)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from otel_bridge.exporters.base import BatchOptions, ExporterOptions, StrictModel

Mapping = Literal["ecs", "otel"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


def parse_size(value: int | float | str) -> int:
    """``"1GiB"`` → 1073741824, ``"10MB"`` → 10000000, ``4096`` → 4096."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 512MiB or a number of bytes")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a size must not be negative")
        return int(value)
    match = _SIZE.match(value)
    if not match:
        raise ValueError("expected a size like 512MiB or 1GB")
    number, unit = float(match.group(1)), (match.group(2) or "").upper()
    binary = "I" in unit
    letter = unit[:1] if unit not in ("", "B") else unit
    factor = 1024 ** "BKMGT".index(letter) if binary else _UNITS[letter]
    return int(number * factor)


_INDEX_FORBIDDEN = frozenset('\\/*?"<>| ,#:')


def check_index_name(value: str) -> str:
    """``value`` if Elasticsearch accepts it as an index name (strftime directives and ``{value}`` aside).

    Caught here, a typo is one config error; at run time every document would be refused.
    """
    literal = re.sub(r"%.", "", value).replace("{value}", "")
    if value in ("", ".", ".."):
        raise ValueError("not a valid index name")
    if value[0] in "-_+":
        raise ValueError("an index name must not start with '-', '_' or '+'")
    if literal != literal.lower():
        raise ValueError("an index name must be lower case")
    bad = sorted(_INDEX_FORBIDDEN.intersection(literal))
    if bad:
        raise ValueError(f"an index name must not contain {' '.join(repr(c) for c in bad)}")
    if len(value.encode("utf-8")) > 255:
        raise ValueError("an index name must be at most 255 bytes")
    return value


class EsBatchOptions(BatchOptions):
    """Record limits of the base batch options, plus the byte limits the Elasticsearch queue needs."""

    max_queue_bytes: int = Field(
        32 * 1024 * 1024, gt=0, description="Bytes of pending records held in memory; more are dropped."
    )
    max_export_batch_bytes: int = Field(
        5 * 1024 * 1024, gt=0, description="Largest _bulk body; ES rejects bodies over 100 MB by default."
    )

    @field_validator("max_queue_bytes", "max_export_batch_bytes", mode="before")
    @classmethod
    def _size(cls, value: int | float | str) -> int:
        return parse_size(value)


class RetryOptions(StrictModel):
    """Exponential backoff with jitter, bounded by ``max_elapsed`` per batch."""

    initial_backoff: float = Field(0.5, gt=0)
    max_backoff: float = Field(30.0, gt=0)
    max_elapsed: float = Field(120.0, gt=0, description="Retry budget of one batch; then spool or drop.")

    @model_validator(mode="after")
    def _order(self) -> RetryOptions:
        if self.max_backoff < self.initial_backoff:
            raise ValueError("max_backoff must be >= initial_backoff")
        return self


class SpoolOptions(StrictModel):
    """On-disk spool for what cannot be delivered now."""

    directory: Path
    max_bytes: int = Field(1024**3, gt=0, description="Size bound; the oldest records are dropped first.")
    fsync: bool = Field(True, description="fsync after each append (crash-safe; slower on busy disks).")
    replay_interval: float = Field(30.0, gt=0, description="How often a backlog is retried in the background.")

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, value: int | float | str) -> int:
        return parse_size(value)


class RoutingOptions(StrictModel):
    """Per-record index choice from an attribute (record first, then resource)."""

    attribute: str
    index: str = Field(description="Index name with a {value} placeholder, e.g. logs-{value}-default.")

    @field_validator("index")
    @classmethod
    def _placeholder(cls, value: str) -> str:
        if "{value}" not in value:
            raise ValueError("must contain the {value} placeholder")
        return check_index_name(value)


class ElasticsearchOptions(ExporterOptions):
    """The ``elasticsearch`` exporter entry."""

    hosts: list[str] = Field(default_factory=lambda: ["http://localhost:9200"])
    cloud_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    headers: dict[str, str] = Field(default_factory=dict)
    request_timeout: float = Field(10.0, gt=0, description="Seconds per HTTP request.")
    compress: bool = False
    index: str = Field("logs-otel_bridge-default", description="Plain name, strftime pattern or data stream.")
    mapping: Mapping = "ecs"
    routing: RoutingOptions | None = None
    batch: EsBatchOptions = Field(default_factory=EsBatchOptions)  # type: ignore[assignment]
    retry: RetryOptions = Field(default_factory=RetryOptions)
    spool: SpoolOptions | None = None
    on_mapping_error: Literal["rescue", "dead_letter"] = Field(
        "rescue", description="rescue: re-send once with attributes folded into otel_bridge.unmapped."
    )
    dead_letter: Path | None = Field(None, description="NDJSON file for documents Elasticsearch refused.")
    dead_letter_max_bytes: int = Field(100 * 1024 * 1024, gt=0)
    setup: bool = Field(False, description="Install an index template on start (never fatal).")
    shutdown_timeout: float = Field(
        4.0, gt=0, description="Seconds shutdown may take; below Bridge.shutdown's default 5 s."
    )
    max_value_chars: int = Field(
        256 * 1024, gt=0, description="Longer strings are cut (marked with a suffix), never dropped."
    )

    @field_validator("index")
    @classmethod
    def _index(cls, value: str) -> str:
        return check_index_name(value)

    @field_validator("dead_letter_max_bytes", mode="before")
    @classmethod
    def _size(cls, value: int | float | str) -> int:
        return parse_size(value)

    @field_validator("hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        # "${ELASTICSEARCH_URL}" may carry several comma-separated URLs.
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @model_validator(mode="after")
    def _auth(self) -> ElasticsearchOptions:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.api_key is not None and self.username is not None:
            raise ValueError("use either api_key or username/password, not both")
        if not self.hosts and not self.cloud_id:
            raise ValueError("set hosts or cloud_id")
        return self


def describe(options: ElasticsearchOptions) -> str:
    """A secret-free one-line target: ``http://es:9200 → logs-shop-default (ecs)``."""
    from otel_bridge._internal.redact import redact_url

    where = (
        f"cloud:{options.cloud_id.split(':', 1)[0]}"
        if options.cloud_id
        else ", ".join(redact_url(h) for h in options.hosts)
    )
    return f"{where} → {options.index} ({options.mapping})"
