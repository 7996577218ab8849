"""Shared assertions and builders for the Sentry tests."""

from __future__ import annotations

import json
from typing import Any

from sentry_relay import StoreNormalizer  # type: ignore[attr-defined]

_NORMALIZER = StoreNormalizer(project_id=42)


def assert_relay_accepts(event: dict[str, Any]) -> dict[str, Any]:
    """Sentry's own normalizer accepts ``event`` as is: no ``errors`` and no ``_meta`` (nothing trimmed,
    nothing invalid). Returns the normalized event."""
    # Round-trip through JSON first: exactly what goes over the wire.
    wire = json.loads(json.dumps(event, allow_nan=False))
    normalized = _NORMALIZER.normalize_event(wire)
    assert "errors" not in normalized, json.dumps(normalized.get("errors"), indent=1)[:2000]
    assert "_meta" not in normalized, json.dumps(normalized.get("_meta"), indent=1)[:2000]
    return normalized


def assert_all_accepted(events: list[dict[str, Any]]) -> None:
    """:func:`assert_relay_accepts` for each of ``events``."""
    for event in events:
        assert_relay_accepts(event)
