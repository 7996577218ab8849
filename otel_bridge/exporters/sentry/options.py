"""The ``sentry`` and ``envelope_file`` exporter options (importable without ``sentry_sdk``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from otel_bridge.exporters.base import ExporterOptions, StrictModel

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL"]

# Substrings of attribute keys whose values are replaced by ``[Filtered]`` (case-insensitive).
DEFAULT_SCRUB_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "auth",
    "cookie",
    "api_key",
    "apikey",
    "x-api-key",
    "credential",
    "private_key",
    "session",
    "csrf",
    "dsn",
)


class SentryLogsOptions(StrictModel):
    """Sentry structured logs (``log`` envelope items), off by default."""

    enabled: bool = False
    level: LogLevel = Field("INFO", description="Lowest severity sent as a Sentry log item.")
    max_batch: int = Field(100, gt=0, le=1000, description="Log items per envelope.")


class OrphanOptions(StrictModel):
    """Bounds on spans held while their local root has not ended yet."""

    timeout_s: float = Field(300.0, gt=0, description="Spans older than this are released without root.")
    max_spans: int = Field(10_000, gt=0, description="Pending spans held at most; the oldest trace goes first.")
    on_release: Literal["send", "drop"] = Field(
        "send", description="send: released spans form a transaction of their own; drop: they are counted only."
    )


class SentryPayloadOptions(ExporterOptions):
    """Options shared by the network ``sentry`` type and the offline ``envelope_file`` type."""

    environment: str | None = Field(None, description="Overrides deployment.environment(.name).")
    release: str | None = Field(None, description="Overrides service.version.")
    tags: dict[str, str] = Field(default_factory=dict, description="Static tags on every event.")
    tag_attributes: list[str] = Field(
        default_factory=list, description="Span / record / resource attributes promoted to tags."
    )
    send_default_pii: bool = Field(False, description="Send client IP addresses and other personal data.")
    max_breadcrumbs: int = Field(100, ge=0, le=1000)
    breadcrumb_level: LogLevel = Field("INFO", description="Lowest record severity kept as a breadcrumb.")
    min_log_level: LogLevel = Field("ERROR", description="Lowest record severity that becomes an error event.")
    include_spans: bool = Field(True, description="Send transactions; false sends only error events.")
    sample_rate: float = Field(1.0, ge=0.0, le=1.0, description="Share of error events kept (not traces).")
    scrub_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_SCRUB_KEYS))
    max_value_length: int = Field(8192, ge=64, description="Longer string values are cut, with a marker.")
    orphans: OrphanOptions = Field(default_factory=OrphanOptions)
    logs: SentryLogsOptions = Field(default_factory=SentryLogsOptions)
    app_sdk: Literal["defer", "ignore"] = Field(
        "defer",
        description="defer: records the app's own sentry_sdk logging integration already captures are "
        "not sent again by the bridge; ignore: always send.",
    )

    @field_validator("release")
    @classmethod
    def _release_ok(cls, value: str | None) -> str | None:
        bad = any(c in value for c in "\n\r\t/\\") if value is not None else False
        if value is not None and (bad or not value.strip() or len(value) > 200):
            raise ValueError("a release is 1-200 characters without slashes, tabs or line breaks")
        if value is not None and value.strip().lower() in (".", "..", "latest"):
            raise ValueError(f"Sentry does not accept the release {value!r}")
        return value

    @field_validator("environment")
    @classmethod
    def _environment_ok(cls, value: str | None) -> str | None:
        bad = any(c in value for c in "\n\r\t/") if value is not None else False
        if value is not None and (bad or not value.strip() or len(value) > 64 or value.lower() == "none"):
            raise ValueError("an environment is 1-64 characters without slashes or line breaks, not 'None'")
        return value


class SentryOptions(SentryPayloadOptions):
    """``type: sentry`` — deliver through sentry-sdk's HTTP transport."""

    dsn: SecretStr = Field(description="Project DSN, e.g. https://key@o1.ingest.sentry.io/42.")
    queue_size: int = Field(100, gt=0, description="Envelopes waiting in the transport's worker.")
    timeout_s: float = Field(10.0, gt=0, description="HTTP connect/read timeout.")
    http_proxy: str | None = None
    https_proxy: str | None = None
    ca_certs: str | None = None

    @field_validator("dsn")
    @classmethod
    def _dsn_ok(cls, value: SecretStr) -> SecretStr:
        from urllib.parse import urlsplit

        raw = value.get_secret_value()
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https"):
            raise ValueError("expected an http(s) DSN like https://key@host/42")
        if not parts.username:
            raise ValueError("the DSN has no public key (https://KEY@host/42)")
        if not parts.hostname:
            raise ValueError("the DSN has no host")
        if not parts.path.rstrip("/").rsplit("/", 1)[-1].isdigit():
            raise ValueError("the DSN does not end with a numeric project id")
        return value


class EnvelopeFileOptions(SentryPayloadOptions):
    """``type: envelope_file`` — write envelopes to ``directory``, one file each, for offline use."""

    directory: str = Field(description="Where envelopes go; relative paths are against the config file.")
    max_files: int = Field(10_000, gt=0, description="Oldest files are removed past this count.")
    dsn: SecretStr | None = Field(None, description="Optional DSN written into envelope headers (for replay).")
