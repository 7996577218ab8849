"""``type: envelope_file``: the same envelopes as ``sentry``, written to a directory, one file each.

For offline use and the embedded default: no network and no ``sentry_sdk`` needed. Each file is a
complete envelope in Sentry's wire format; ``curl --data-binary @FILE`` to a project's envelope
endpoint replays it, and ``sentry_sdk.envelope.Envelope.deserialize`` reads it.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from otel_bridge._internal.redact import redact_url
from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.base import BuildContext, ExporterSpec
from otel_bridge.exporters.sentry import envelope as env
from otel_bridge.exporters.sentry.options import EnvelopeFileOptions

logger = logging.getLogger("otel_bridge.sentry.envelope_file")


def public_key_of(options: EnvelopeFileOptions) -> str:
    """The DSN's public key, when a DSN is configured (for the envelope's trace header)."""
    if options.dsn is None:
        return ""
    return urlsplit(options.dsn.get_secret_value()).username or ""


class EnvelopeFileSink:
    """Writes each envelope atomically (temp file, then rename) and keeps at most ``max_files``."""

    def __init__(self, directory: Path, max_files: int) -> None:
        self.directory = directory
        self._max_files = max_files
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._closed = False
        self._written: list[Path] | None = None

    def _existing(self) -> list[Path]:
        if self._written is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._written = sorted(self.directory.glob("*.envelope"))
        return self._written

    def send(self, envelope: env.Envelope, stats: ExporterStats) -> None:
        """Writes ``envelope``; failures are counted, never raised."""
        quantity = sum(item.quantity for item in envelope.items)
        if self._closed:
            stats.drop("shutdown", quantity)
            return
        try:
            data = env.serialize(envelope)
            with self._lock:
                written = self._existing()
                name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}.envelope"
                path = self.directory / name
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, path)
                written.append(path)
                while len(written) > self._max_files:
                    old = written.pop(0)
                    old.unlink(missing_ok=True)
                    stats.drop("file_rotated")
        except (OSError, ValueError) as exc:
            logger.warning("cannot write envelope to %s: %s", self.directory, exc)
            stats.add("failed", quantity)
            stats.state = "write_error"
            return
        stats.add("sent", quantity)
        stats.state = "ok"

    def flush(self, timeout_s: float) -> bool:
        """Files are written synchronously: nothing to wait for."""
        return True

    def close(self, timeout_s: float) -> None:
        """Stops accepting envelopes; idempotent."""
        self._closed = True


def _describe(options: EnvelopeFileOptions) -> str:
    target = f"envelopes in {options.directory}"
    if options.dsn is not None:
        target += f" (for {redact_url(options.dsn.get_secret_value())})"
    return target


def _build(ctx: BuildContext) -> object:
    from otel_bridge.exporters.sentry import build_component

    return build_component(ctx)


SPEC = ExporterSpec(
    type="envelope_file",
    signals=frozenset({"traces", "logs"}),
    options=EnvelopeFileOptions,
    build=_build,
    describe=_describe,
)
