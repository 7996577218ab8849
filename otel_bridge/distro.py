"""Entry points for ``opentelemetry-instrument``: the same configuration path as ``configure_otel()``.

``opentelemetry-instrument`` loads one distro (``opentelemetry_distro`` group), lets it configure,
then runs one configurator (``opentelemetry_configurator`` group), then the instrumentors. Ours:

* ``BridgeDistro`` pins the configurator to ours (``OTEL_PYTHON_CONFIGURATOR=otel_bridge``) unless the
  user chose one, and turns off the logging instrumentor's own handler
  (``OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION=false``) — ours is already on the root logger, and two
  handlers would export every record twice.
* ``BridgeConfigurator`` calls ``configure_otel()`` (``$OTEL_BRIDGE_CONFIG`` → ``./otel-bridge.yaml`` →
  the built-in default). A bad configuration is printed and the app runs without telemetry.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

CONFIGURATOR_NAME = "otel_bridge"


class BridgeDistro(BaseDistro):  # type: ignore[misc]
    """The otel-bridge distro (``OTEL_PYTHON_DISTRO=otel_bridge``)."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault("OTEL_PYTHON_CONFIGURATOR", CONFIGURATOR_NAME)
        os.environ.setdefault("OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION", "false")


class BridgeConfigurator:
    """The otel-bridge configurator (``OTEL_PYTHON_CONFIGURATOR=otel_bridge``)."""

    def configure(self, **kwargs: Any) -> None:
        from otel_bridge import ConfigError, configure_otel

        # Also when another distro was picked: our handler must be the only one on the root logger.
        os.environ.setdefault("OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION", "false")
        try:
            configure_otel()
        except ConfigError as exc:
            print(f"otel-bridge: telemetry is off, the configuration is invalid: {exc}", file=sys.stderr)
        except Exception as exc:  # never stop the app from starting
            print(f"otel-bridge: telemetry is off: {type(exc).__name__}: {exc}", file=sys.stderr)
