"""Configuration: YAML loading, ``${VAR}`` substitution, typed validation, one error listing all problems."""

from otel_bridge.config.errors import ConfigError, Problem
from otel_bridge.config.loader import load_config, resolve_source
from otel_bridge.config.models import BridgeConfig

__all__ = ["BridgeConfig", "ConfigError", "Problem", "load_config", "resolve_source"]
