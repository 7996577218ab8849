"""otel-bridge: one YAML routes OpenTelemetry spans, logs and metrics into Sentry, Elasticsearch and
Prometheus (or any OTel exporter).

    from otel_bridge import configure_otel
    bridge = configure_otel("otel-bridge.yaml")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from otel_bridge.bridge import Bridge
from otel_bridge.config import ConfigError, load_config

__all__ = ["Bridge", "ConfigError", "configure_otel"]
__version__ = "0.1.0"


def _sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def configure_otel(config: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> Bridge:
    """Builds the tracer, meter and logger providers from ``config`` and installs them globally.

    Args:
        config: a YAML path, an already-parsed mapping, or None for ``$OTEL_BRIDGE_CONFIG``, then
            ``./otel-bridge.yaml``, then the built-in default.

    Returns:
        The running :class:`Bridge`. Calling again replaces it (the old one is shut down first).

    Raises:
        ConfigError: listing every problem of the configuration; nothing is installed then.
    """
    from otel_bridge import install, providers

    loaded = load_config(config)
    if _sdk_disabled():
        return install.install_disabled(loaded.source)
    config_dir = Path(loaded.source).parent if not loaded.source.startswith("<") else None
    built = providers.build(loaded, config_dir=config_dir)
    return install.install(built, loaded.source)
