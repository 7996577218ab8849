"""``otel-bridge validate``: a summary and exit 0, or every problem and exit 2 — never a traceback."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from otel_bridge.cli import main

GOOD = """
service: {name: shop, version: 2.3.1, environment: production}
traces: {sampler: {type: parentbased_traceidratio, ratio: 0.2}, exporters: [otlp]}
logs: {level: INFO, exporters: [console]}
exporters:
  otlp: {endpoint: "https://ingest:${OTLP_TOKEN:-s3cret}@collector:4318"}
  console: {}
"""

BAD = """
service: {name: shop, colour: red}
traces: {exporters: [otlpp]}
exporters:
  otlp: {endpoint: "${MISSING_URL}", timeout_s: soon}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_validate_good_file_summarises_routes_without_secrets(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    code, out, err = run("validate", str(path))
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"OK: {path}"
    assert "service: shop (2.3.1, production)" in out
    route = "traces  -> otlp: http/protobuf https://ingest:***@collector:4318"
    assert f"{route}   [sampler parentbased_traceidratio ratio=0.2]" in out
    assert "s3cret" not in out


def test_validate_bad_file_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    code, out, err = run("validate", str(path))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"invalid configuration: 4 problems in {path}:",
        "  - exporters.otlp.endpoint: environment variable MISSING_URL is not set and has no default",
        "  - service.colour: unknown key; valid keys: name, version, environment, namespace, instance_id",
        "  - exporters.otlp.timeout_s: expected a number, got 'soon'",
        "  - traces.exporters[0]: unknown exporter 'otlpp'; defined under exporters: otlp",
    ]


def test_validate_missing_file_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otel_bridge.cli", "validate", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot read" in result.stderr and "No such file or directory" in result.stderr
