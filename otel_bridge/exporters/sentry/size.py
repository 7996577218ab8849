"""Keeping each event and transaction under Relay's size limit. Pure.

Relay drops an ``event`` or ``transaction`` item larger than 1 MiB whole (outcome ``too_large``):
a batch job's transaction with a thousand 2 KB SQL spans would be lost entirely. Before that
happens the payload is shrunk in steps, cheapest loss first: long strings in child spans and
breadcrumbs cut short, then the oldest breadcrumbs, then the latest child spans (counted).
"""

from __future__ import annotations

import json
from typing import Any

from otel_bridge.exporters.sentry.convert import truncate

MAX_EVENT_BYTES = 1_000_000  # under Relay's 1 MiB, leaving room for what Relay adds
SHORT_VALUE = 256


def payload_size(payload: Any) -> int:
    """The payload's size on the wire, in bytes."""
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))


def _shorten(value: Any) -> Any:
    if isinstance(value, str):
        return truncate(value, SHORT_VALUE)
    if isinstance(value, list):
        return [_shorten(v) for v in value[:32]]
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in list(value.items())[:32]}
    return value


def fit(payload: dict[str, Any], limit: int = MAX_EVENT_BYTES) -> int:
    """Shrinks ``payload`` in place until it is at most ``limit`` bytes, as far as its spans,
    breadcrumbs and data allow; returns how many child spans had to be left out."""
    if payload_size(payload) <= limit:
        return 0
    spans: list[dict[str, Any]] = payload.get("spans") or []
    crumbs: list[dict[str, Any]] = (payload.get("breadcrumbs") or {}).get("values") or []
    for span in spans:
        span["description"] = truncate(str(span.get("description", "")), SHORT_VALUE)
        span["data"] = _shorten(span.get("data", {}))
    for crumb in crumbs:
        crumb["message"] = truncate(str(crumb.get("message", "")), SHORT_VALUE)
        crumb.pop("data", None)
    for key in ("extra",):
        if key in payload:
            payload[key] = _shorten(payload[key])
    trace = payload.get("contexts", {}).get("trace")
    if isinstance(trace, dict) and "data" in trace:
        trace["data"] = _shorten(trace["data"])
    size = payload_size(payload)
    while size > limit and crumbs:
        del crumbs[: max(1, len(crumbs) // 2)]  # oldest first
        size = payload_size(payload)
    dropped = 0
    while size > limit and spans:
        # Each span's share, so one pass usually gets under the limit.
        cut = max(1, int(len(spans) * (size - limit) / size) + 1)
        del spans[len(spans) - cut :]  # the latest spans first
        dropped += cut
        size = payload_size(payload)
    return dropped
