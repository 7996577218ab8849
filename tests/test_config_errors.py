"""Every kind of configuration problem is reported with its YAML path, all in one error."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_bridge import ConfigError
from otel_bridge.config import load_config
from otel_bridge.exporters import registry
from otel_bridge.exporters.base import ExporterOptions, ExporterSpec


def problems_of(config: object, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config, env=env or {})  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("service:\n  name: shop\ntraces: [unclosed\nlogs: {}\n")
    (problem,) = problems_of(path)
    assert problem.startswith("line 4, column 5: YAML syntax error")


def test_unknown_key_lists_valid_keys_and_suggests() -> None:
    (problem,) = problems_of({"service": {"nmae": "shop"}})
    assert problem.startswith("service.nmae: unknown key (did you mean 'name'?)")
    assert "valid keys: name, version, environment" in problem


def test_wrong_type_reads_like_the_design() -> None:
    config = {"exporters": {"console": {"interval_ms": "abc"}}, "metrics": {"cardinality_limit": "many"}}
    problems = problems_of(config)
    assert "metrics.cardinality_limit: expected an integer, got 'many'" in problems
    assert "exporters.console.interval_ms: expected a number, got 'abc'" in problems


def test_unknown_exporter_name_and_type() -> None:
    config = {
        "traces": {"exporters": ["consol"]},
        "exporters": {"console": {}, "x": {"type": "nope"}},
    }
    problems = problems_of(config)
    assert "traces.exporters[0]: unknown exporter 'consol'; defined under exporters: console, x" in problems
    (unknown_type,) = [p for p in problems if p.startswith("exporters.x.type")]
    assert "unknown exporter type 'nope'; known types:" in unknown_type and "console" in unknown_type


def test_exporter_used_for_a_signal_it_cannot_take() -> None:
    spec = ExporterSpec("tracesonly", frozenset({"traces"}), ExporterOptions, build=lambda ctx: None)
    registry.register(spec)
    (problem,) = problems_of({"logs": {"exporters": ["t"]}, "exporters": {"t": {"type": "tracesonly"}}})
    assert problem == "logs.exporters[0]: exporter 't' cannot take logs; it handles traces"


def test_missing_variable_is_named_with_its_path() -> None:
    config = {"exporters": {"otlp": {"endpoint": "${COLLECTOR_URL}"}}, "traces": {"exporters": ["otlp"]}}
    (problem,) = problems_of(config)
    assert problem == "exporters.otlp.endpoint: environment variable COLLECTOR_URL is not set and has no default"


def test_missing_extra_names_the_extra_to_install() -> None:
    spec = ExporterSpec(
        "needs_pkg",
        frozenset({"logs"}),
        ExporterOptions,
        build=lambda ctx: None,
        extra="somebackend",
        requires=("otel_bridge_test_no_such_module",),
    )
    registry.register(spec)
    config = {"logs": {"exporters": ["n"]}, "exporters": {"n": {"type": "needs_pkg"}}}
    (problem,) = problems_of(config)
    assert problem == (
        "exporters.n: type 'needs_pkg' needs otel_bridge_test_no_such_module, which is missing: "
        "pip install 'otel-bridge[somebackend]'"
    )


def test_every_problem_in_one_error_and_no_secret_shown() -> None:
    config = {
        "service": {"colour": "red"},
        "traces": {"sampler": {"type": "sometimes"}},
        "exporters": {"otlp": {"headers": {"authorization": "Bearer s3cr3t-token"}, "timeout_s": "x"}},
        "logs": {"level": "LOUD"},
    }
    with pytest.raises(ConfigError) as caught:
        load_config(config, env={})
    text = str(caught.value)
    assert text.startswith("4 problems in <mapping>:")
    assert "traces.sampler.type: expected one of 'always_on'" in text
    assert "s3cr3t" not in text


def test_secret_values_are_redacted_in_type_errors() -> None:
    (problem,) = problems_of({"exporters": {"otlp": {"headers": {"api_key": ["s3cr3t"]}}}})
    assert "s3cr3t" not in problem and problem.startswith("exporters.otlp.headers.api_key:")


def test_bad_view_is_reported_at_config_time() -> None:
    views = [{"instrument_name": "http.*", "name": "renamed"}, {"aggregation": {"type": "sum"}}]
    problems = problems_of({"metrics": {"views": views}})
    assert any(p.startswith("metrics.views[0]:") for p in problems)
    assert "metrics.views[1]: selects nothing: set instrument_name or instrument_type" in problems


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    assert problems_of(path) == ["expected a mapping at the top level, got list"]
