"""A backend-neutral envelope (header + items) and its wire format, so the file sink needs no SDK.

The HTTP client turns it into ``sentry_sdk.envelope.Envelope`` to use the SDK's transport; the
file sink writes :func:`serialize` output, which is the same format (``Envelope.deserialize`` reads it).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

LOG_CONTENT_TYPE = "application/vnd.sentry.items.log+json"


@dataclass
class Item:
    """One envelope item: its ``type`` (event, transaction, log), JSON payload and extra headers."""

    type: str
    payload: Any
    headers: dict[str, Any] = field(default_factory=dict)

    @property
    def quantity(self) -> int:
        """How many telemetry items it carries (a log item batches several)."""
        count = self.headers.get("item_count")
        return count if isinstance(count, int) and count > 0 else 1


@dataclass
class Envelope:
    """Headers and items of one envelope."""

    headers: dict[str, Any]
    items: list[Item]


def new_event_id() -> str:
    """A random 32-hex-digit event id."""
    return uuid.uuid4().hex


def now_iso() -> str:
    """The current UTC time as Sentry's ``sent_at`` wants it."""
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def event_envelope(kind: str, event: dict[str, Any], trace_header: dict[str, Any] | None) -> Envelope:
    """An envelope carrying one ``event`` or ``transaction``."""
    headers: dict[str, Any] = {"event_id": event["event_id"], "sent_at": now_iso(), "sdk": event.get("sdk", {})}
    if trace_header:
        headers["trace"] = trace_header
    return Envelope(headers, [Item(kind, event)])


def logs_envelope(items: list[dict[str, Any]], sdk: dict[str, Any]) -> Envelope:
    """An envelope carrying one ``log`` item with ``items`` in it."""
    item = Item(
        "log",
        {"version": 2, "items": items},
        {"item_count": len(items), "content_type": LOG_CONTENT_TYPE},
    )
    return Envelope({"sent_at": now_iso(), "sdk": sdk}, [item])


def serialize(envelope: Envelope) -> bytes:
    """The envelope in Sentry's wire format (newline-separated JSON headers and payloads)."""
    parts = [_json(envelope.headers)]
    for item in envelope.items:
        payload = _json(item.payload)
        headers = {"type": item.type, **item.headers, "length": len(payload)}
        headers.setdefault("content_type", "application/json")
        parts += [_json(headers), payload]
    return b"\n".join(parts) + b"\n"
