"""Exporter type name → :class:`ExporterSpec`: the built-ins first, then the entry-point group.

Built-in specs are named by import path and loaded on first use, so configuring only ``console``
never imports ``sentry_sdk`` or ``elasticsearch``. Third-party packages add types through the
``otel_bridge.exporters`` entry-point group, whose entries load to an ``ExporterSpec``.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import entry_points

from otel_bridge.exporters.base import ExporterSpec

ENTRY_POINT_GROUP = "otel_bridge.exporters"

_BUILTIN: dict[str, str] = {
    "console": "otel_bridge.exporters.console:SPEC",
    "otlp": "otel_bridge.exporters.otlp:SPEC",
    "elasticsearch": "otel_bridge.exporters.elasticsearch:SPEC",
    "file": "otel_bridge.exporters.elasticsearch.file_sink:SPEC",
    "sentry": "otel_bridge.exporters.sentry:SPEC",
    "envelope_file": "otel_bridge.exporters.sentry.envelope_file:SPEC",
    "prometheus": "otel_bridge.exporters.prometheus:SPEC",
}

_cache: dict[str, ExporterSpec] = {}


def _load_ref(ref: str) -> ExporterSpec | None:
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Our own module not shipped (yet); a missing *backend* package is found by missing_packages().
        if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".")):
            return None
        raise
    spec = getattr(module, attr, None)
    return spec if isinstance(spec, ExporterSpec) else None


def _plugins() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_types() -> list[str]:
    """Every type name that can be configured, sorted."""
    names = {name for name, ref in _BUILTIN.items() if _load_ref(ref) is not None}
    names.update(_plugins())
    names.update(_cache)
    return sorted(names)


def get(type_name: str) -> ExporterSpec | None:
    """The spec of ``type_name``, or None when no such type exists."""
    spec = _cache.get(type_name)
    if spec is not None:
        return spec
    ref = _BUILTIN.get(type_name)
    if ref is not None:
        spec = _load_ref(ref)
    else:
        ep = _plugins().get(type_name)
        loaded = ep.load() if ep is not None else None  # type: ignore[attr-defined]
        spec = loaded if isinstance(loaded, ExporterSpec) else None
    if spec is not None:
        _cache[type_name] = spec
    return spec


def missing_packages(spec: ExporterSpec) -> list[str]:
    """The modules ``spec`` needs that cannot be imported here."""
    return [mod for mod in spec.requires if importlib.util.find_spec(mod) is None]


def register(spec: ExporterSpec) -> None:
    """Adds (or replaces) an exporter type for this process, e.g. from application code or tests."""
    _cache[spec.type] = spec
