"""Third-party exporter types through the entry-point group; shutdown at interpreter exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_bridge.config import load_config
from otel_bridge.exporters import registry

PLUGIN = textwrap.dedent(
    """
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter
    from otel_bridge.exporters.base import ExporterOptions, ExporterSpec

    class AcmeOptions(ExporterOptions):
        region: str = "eu"

    SPEC = ExporterSpec("acme", frozenset({"traces"}), AcmeOptions, build=lambda ctx: ConsoleSpanExporter())
    """
)


def test_third_party_type_from_the_entry_point_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "acme_otel.py").write_text(PLUGIN)
    dist = tmp_path / "acme_otel-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-otel\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\nacme = acme_otel:SPEC\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "acme" in registry.known_types()
    config = load_config({"traces": {"exporters": ["vendor"]}, "exporters": {"vendor": {"type": "acme"}}}, env={})
    type_name, options = config.resolved["vendor"]
    assert (type_name, options.region) == ("acme", "eu")
    with pytest.raises(Exception, match=r"exporters\.vendor\.zone: unknown key"):
        load_config({"exporters": {"vendor": {"type": "acme", "zone": "x"}}}, env={})


def test_records_queued_at_exit_are_written_by_the_exit_shutdown(tmp_path: Path) -> None:
    out = tmp_path / "logs.ndjson"
    app = textwrap.dedent(
        f"""
        import logging
        from otel_bridge import configure_otel
        configure_otel({{
            "logs": {{"exporters": ["files"]}},
            "exporters": {{"files": {{"type": "file", "path": {str(out)!r},
                                      "batch": {{"schedule_delay_ms": 600000}}}}}},
        }})
        for i in range(3):
            logging.getLogger("app").warning("queued %d", i)
        # no shutdown(), no flush: the process just ends
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run([sys.executable, "-c", app], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    sources = [json.loads(line) for line in out.read_text().splitlines()[1::2]]
    assert [s["message"] for s in sources] == ["queued 0", "queued 1", "queued 2"]
