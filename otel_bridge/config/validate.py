"""Validation of substituted YAML data into :class:`BridgeConfig`, collecting every problem.

Pydantic does the checking; this module turns its errors into :class:`Problem` lines that read like
``exporters.prometheus.port: expected an integer, got 'abc'``, validates each exporter entry against
its type's options model, and checks the references between sections.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from otel_bridge.config.errors import Problem, format_path, show_value
from otel_bridge.config.models import BridgeConfig
from otel_bridge.exporters import registry

_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "dict": "a mapping",
    "model": "a mapping",
}


def _fields_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The field names valid at ``loc`` inside ``model`` (for "valid keys are …" hints)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: Any, path: str, model: type[BaseModel], loc: Sequence[Any]) -> str:
    kind: str = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        valid = [f for f in _fields_at(model, loc[:-1]) if not f.startswith("_")]
        hint = difflib.get_close_matches(key, valid, n=1)
        text = "unknown key"
        if hint:
            text += f" (did you mean '{hint[0]}'?)"
        if valid:
            text += f"; valid keys: {', '.join(valid)}"
        return text
    if kind == "missing":
        return "required"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"expected one of {expected}, got {show_value(value, path)}"
    for word, phrase in _TYPE_WORDS.items():
        if kind.startswith(f"{word}_") and kind.endswith(("_parsing", "_type")):
            return f"expected {phrase}, got {show_value(value, path)}"
    msg = str(error.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{msg[:1].lower()}{msg[1:]}, got {show_value(value, path)}"


def model_problems(exc: ValidationError, model: type[BaseModel], prefix: Sequence[Any] = ()) -> list[Problem]:
    """Pydantic errors → problems with YAML paths (union branch names are dropped from the path)."""
    problems = []
    for error in exc.errors():
        loc = [p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
        path = format_path([*prefix, *loc])
        problems.append(Problem(path, _message(error, path, model, loc)))
    return problems


def _routes(data: dict[str, Any]) -> dict[str, list[str]]:
    """``{signal: [exporter names]}`` read from raw data (used when the sections themselves are invalid)."""
    routes: dict[str, list[str]] = {}
    for signal in ("traces", "logs", "metrics"):
        section = data.get(signal)
        names = section.get("exporters") if isinstance(section, dict) else None
        routes[signal] = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    return routes


def _validate_exporters(config: BridgeConfig, routes: dict[str, list[str]], problems: list[Problem]) -> None:
    used = {name for names in routes.values() for name in names}
    for name, entry in config.exporters.items():
        entry = dict(entry or {})
        type_name = entry.get("type") or name
        if not isinstance(type_name, str):
            problems.append(Problem(f"exporters.{name}.type", f"expected a string, got {show_value(type_name, '')}"))
            continue
        spec = registry.get(type_name)
        if spec is None:
            where = f"exporters.{name}.type" if "type" in entry else f"exporters.{name}"
            problems.append(
                Problem(where, f"unknown exporter type '{type_name}'; known types: {', '.join(registry.known_types())}")
            )
            continue
        try:
            options = spec.options.model_validate(entry)
        except ValidationError as exc:
            problems.extend(model_problems(exc, spec.options, ("exporters", name)))
            continue
        missing = registry.missing_packages(spec)
        if missing and name in used:
            extra = f"pip install 'otel-bridge[{spec.extra}]'" if spec.extra else f"install {', '.join(missing)}"
            problems.append(
                Problem(
                    f"exporters.{name}", f"type '{type_name}' needs {', '.join(missing)}, which is missing: {extra}"
                )
            )
            continue
        config.resolved[name] = (type_name, options)
    checked: set[str] = set()
    for signal, names in routes.items():
        for i, name in enumerate(names):
            path = f"{signal}.exporters[{i}]"
            if name not in config.exporters:
                defined = ", ".join(config.exporters) or "none"
                problems.append(Problem(path, f"unknown exporter '{name}'; defined under exporters: {defined}"))
                continue
            if name not in config.resolved:
                continue
            spec = registry.get(config.resolved[name][0])
            if spec is None:
                continue
            if signal not in spec.signals:
                problems.append(
                    Problem(
                        path, f"exporter '{name}' cannot take {signal}; it handles {', '.join(sorted(spec.signals))}"
                    )
                )
            elif spec.check is not None and name not in checked:
                checked.add(name)
                problems.extend(Problem(p, m) for p, m in spec.check(config, name))


def validate(data: dict[str, Any], problems: list[Problem]) -> BridgeConfig | None:
    """Validates substituted YAML data; appends every problem found to ``problems``."""
    try:
        config = BridgeConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(model_problems(exc, BridgeConfig))
        # Keep going with the exporters section alone, so its problems are listed in the same error.
        exporters = data.get("exporters")
        try:
            config = BridgeConfig.model_validate({"exporters": exporters} if isinstance(exporters, dict) else {})
        except ValidationError:
            return None
        _validate_exporters(config, _routes(data), problems)
        return None
    _validate_exporters(config, _routes(data), problems)
    from otel_bridge.config.errors import ConfigError
    from otel_bridge.config.views import build_views

    try:
        build_views(config.metrics.views, config.metrics.cardinality_limit)
    except ConfigError as exc:
        problems.extend(exc.problems)
    return config
