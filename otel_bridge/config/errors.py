"""``ConfigError``: every problem of a configuration, each with its YAML path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from otel_bridge._internal.redact import REDACTED, is_secret_key


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where (dotted YAML path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ValueError):
    """A configuration that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''}{where}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def format_path(loc: Iterable[Any]) -> str:
    """``("exporters", "es", "hosts", 0)`` → ``exporters.es.hosts[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def show_value(value: Any, path: str) -> str:
    """A short, secret-free rendering of a bad input value for an error message."""
    last = path.rsplit(".", 1)[-1]
    if is_secret_key(last):
        return REDACTED
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
