"""The ``prometheus`` entry at config time: options, the exponential-histogram rule, extras."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import otel_bridge
from otel_bridge.config import ConfigError, load_config
from otel_bridge.exporters import registry
from otel_bridge.exporters.prometheus import SPEC, PrometheusOptions


def _config(views: list[dict[str, Any]] | None = None, **prometheus: Any) -> dict[str, Any]:
    return {
        "metrics": {"exporters": ["prometheus"], "views": views or []},
        "exporters": {"prometheus": {"host": "127.0.0.1", "port": 0, **prometheus}},
    }


def test_exponential_view_is_rejected_with_its_yaml_path() -> None:
    views = [
        {"instrument_name": "a", "aggregation": {"type": "sum"}},
        {"instrument_name": "b", "aggregation": {"type": "explicit_bucket_histogram", "boundaries": [1, 2]}},
        {"instrument_name": "http.*", "aggregation": {"type": "base2_exponential_bucket_histogram"}},
    ]
    with pytest.raises(ConfigError) as err:
        load_config(_config(views))
    paths = [p.path for p in err.value.problems]
    assert paths == ["metrics.views[2].aggregation.type"]
    message = err.value.problems[0].message
    assert "explicit_bucket_histogram" in message and "'prometheus'" in message


def test_exponential_view_is_fine_without_a_prometheus_reader() -> None:
    config = {
        "metrics": {
            "exporters": ["console"],
            "views": [{"instrument_name": "x", "aggregation": {"type": "base2_exponential_bucket_histogram"}}],
        },
        "exporters": {"console": {}},
    }
    load_config(config)


def test_bad_options_are_listed_by_path() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(port="abc", path="metrics", keyfile="k.pem", colour="red"))
    text = str(err.value)
    for expected in ("exporters.prometheus.port", "exporters.prometheus.path", "exporters.prometheus.colour"):
        assert expected in text
    with pytest.raises(ConfigError, match="keyfile needs certfile"):
        load_config(_config(keyfile="k.pem"))


def test_missing_certificate_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        otel_bridge.configure_otel(_config(certfile=str(tmp_path / "missing.pem")))
    assert "exporters.prometheus" in str(err.value)


def test_spec_contract() -> None:
    assert registry.get("prometheus") is SPEC
    assert SPEC.signals == frozenset({"metrics"})
    assert SPEC.extra == "prometheus"
    assert registry.missing_packages(SPEC) == []
    options = PrometheusOptions(basic_auth={"username": "u", "password": "s3cret"})
    described = SPEC.describe(options)
    assert described.startswith("http://localhost:9464/metrics") and "s3cret" not in described
    assert "s3cret" not in repr(options)


def test_package_imports_without_prometheus_client() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "import otel_bridge.exporters.prometheus as p\n"
        "p.PrometheusOptions(port=1)\n"
        "assert 'prometheus_client' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
    importlib.import_module("otel_bridge.exporters.prometheus")
