from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_bridge import install
from otel_bridge.exporters import registry
from tests import memory_exporter

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_bridge(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts without a running bridge and leaves none behind."""
    registry.register(memory_exporter.SPEC)
    monkeypatch.delenv("OTEL_BRIDGE_CONFIG", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    memory_exporter.INSTANCES.clear()
    root_level = logging.getLogger().level
    yield
    bridge = install.current()
    if bridge is not None:
        bridge.shutdown(timeout_s=5)
    logging.getLogger().setLevel(root_level)
