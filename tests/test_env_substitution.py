"""``${VAR}`` and ``${VAR:-default}`` in values."""

from __future__ import annotations

from otel_bridge.config import load_config
from otel_bridge.config.errors import Problem
from otel_bridge.config.loader import substitute


def test_set_unset_default_and_empty() -> None:
    problems: list[Problem] = []
    data = {
        "a": "${HOST}:${PORT:-9200}",
        "b": "${EMPTY:-fallback}",
        "c": ["${HOST}", {"d": "x-${HOST}-y"}],
        "e": "$${NOT_A_VAR}",
        "f": 5,
    }
    env = {"HOST": "es.local", "EMPTY": ""}
    out = substitute(data, env, problems)
    assert problems == []
    assert out == {
        "a": "es.local:9200",
        "b": "fallback",
        "c": ["es.local", {"d": "x-es.local-y"}],
        "e": "${NOT_A_VAR}",
        "f": 5,
    }


def test_keys_are_not_substituted_and_malformed_refs_reported() -> None:
    problems: list[Problem] = []
    out = substitute({"${K}": "v", "x": "${bad-name}"}, {"K": "k"}, problems)
    assert "${K}" in out
    assert [str(p) for p in problems] == ["x: malformed variable reference; use ${NAME} or ${NAME:-default}"]


def test_substituted_numbers_are_validated_as_numbers() -> None:
    config = load_config(
        {"exporters": {"console": {"interval_ms": "${INTERVAL:-250}"}}, "metrics": {"exporters": ["console"]}},
        env={},
    )
    assert config.resolved["console"][1].interval_ms == 250.0
    config = load_config(
        {"exporters": {"console": {"interval_ms": "${INTERVAL:-250}"}}, "metrics": {"exporters": ["console"]}},
        env={"INTERVAL": "1000"},
    )
    assert config.resolved["console"][1].interval_ms == 1000.0
