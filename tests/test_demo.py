"""``otel-bridge demo``: the main job on the built-in default writes real, loadable output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_routes_every_signal_on_the_builtin_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SENTRY_", "ELASTICSEARCH_"))}
    result = subprocess.run(
        [sys.executable, "-m", "otel_bridge.cli", "demo", "--seconds", "0.3", "--out", str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "configuration <built-in default>" in result.stdout
    lines = (tmp_path / "out" / "logs.ndjson").read_text().splitlines()
    actions, sources = [json.loads(x) for x in lines[::2]], [json.loads(x) for x in lines[1::2]]
    assert actions and all("create" in a and a["create"]["_id"] for a in actions)
    assert len({a["create"]["_id"] for a in actions}) == len(actions)
    assert any(s.get("error", {}).get("type") == "ValueError" for s in sources)
    envelopes = list((tmp_path / "out" / "sentry").glob("*.envelope"))
    assert envelopes
    kinds = set()
    for envelope in envelopes:
        for line in envelope.read_bytes().splitlines():
            if line.startswith(b'{"type"'):
                kinds.add(json.loads(line)["type"])
    assert {"transaction", "event"} <= kinds
    assert "shop_orders_total{" in result.stdout
