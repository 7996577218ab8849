"""Step one of three: find the configuration, parse YAML, substitute ``${VAR}``, validate.

Nothing here has side effects beyond reading the file and the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from otel_bridge.config.errors import ConfigError, Problem, format_path
from otel_bridge.config.models import BridgeConfig
from otel_bridge.config.validate import validate

ENV_CONFIG = "OTEL_BRIDGE_CONFIG"
DEFAULT_FILE = "otel-bridge.yaml"
BUILTIN = "<built-in default>"

# ${NAME} or ${NAME:-default}; "$${" stays a literal "${".
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_BAD_VAR = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\})")


def resolve_source(config: str | os.PathLike[str] | Mapping[str, Any] | None) -> str | Mapping[str, Any]:
    """Which configuration ``configure_otel(config)`` uses: the argument, ``$OTEL_BRIDGE_CONFIG``,
    ``./otel-bridge.yaml``, then the built-in default (returned as the string ``<built-in default>``)."""
    if isinstance(config, Mapping):
        return config
    if config is not None:
        return os.fspath(config)
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return from_env
    if Path(DEFAULT_FILE).is_file():
        return DEFAULT_FILE
    return BUILTIN


def builtin_default_text() -> str:
    """The YAML of the built-in default configuration (shipped in the package)."""
    return resources.files("otel_bridge").joinpath("default.yaml").read_text(encoding="utf-8")


def parse_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` whose syntax errors become a ConfigError with line and column."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        what = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise ConfigError([Problem(where, f"YAML syntax error: {what}")], source) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem("", f"YAML syntax error: {exc}")], source) from None


def substitute(value: Any, env: Mapping[str, str], problems: list[Problem], path: tuple[Any, ...] = ()) -> Any:
    """Replaces ``${VAR}`` / ``${VAR:-default}`` in every string value (keys are left alone)."""
    if isinstance(value, dict):
        return {k: substitute(v, env, problems, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env, problems, (*path, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    if _BAD_VAR.search(value.replace("$${", "")):
        problems.append(Problem(format_path(path), "malformed variable reference; use ${NAME} or ${NAME:-default}"))
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found is not None and (found != "" or default is None):
            return found
        if default is not None:
            return default
        problems.append(Problem(format_path(path), f"environment variable {name} is not set and has no default"))
        return ""

    return _VAR.sub(replace, value)


def load_config(
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> BridgeConfig:
    """Loads and validates a configuration; raises one :class:`ConfigError` listing every problem."""
    env = os.environ if env is None else env
    source = resolve_source(config)
    if isinstance(source, Mapping):
        raw: Any = dict(source)
        label = "<mapping>"
    else:
        label = source
        if source == BUILTIN:
            text = builtin_default_text()
        else:
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError([Problem("", f"cannot read {source}: {exc.strerror or exc}")], source) from None
        raw = parse_yaml(text, label)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([Problem("", f"expected a mapping at the top level, got {type(raw).__name__}")], label)
    problems: list[Problem] = []
    data = substitute(raw, env, problems)
    model = validate(data, problems)
    if problems or model is None:
        raise ConfigError(problems, label)
    model._source = label
    return model
