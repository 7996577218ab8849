"""No credential (password, API key, Authorization header) in any log line, status() or file we write."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.elasticsearch.conftest import fast_options

SECRETS = ("url-pw-1", "header-token-2", "api-key-3")


def test_no_secret_in_logs_status_dead_letters_or_spool(
    es, dead_port: int, harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="otel_bridge")
    dead, spool = tmp_path / "dead.ndjson", tmp_path / "spool"
    es.faults.whole_500 = 1
    es.faults.reject_400 = lambda doc: doc.get("seq") == 2
    files = {"dead_letter": str(dead), "spool": {"directory": str(spool), "fsync": False}}
    up = harness(
        fast_options(
            es.url.replace("://", "://elastic:url-pw-1@"),
            headers={"Authorization": "Bearer header-token-2"},
            on_mapping_error="dead_letter",
            **files,
        ),
        name="up",
    )
    up.emit(5)
    assert up.processor.force_flush(5_000)
    down = harness(
        fast_options(
            f"http://127.0.0.1:{dead_port}",
            api_key="api-key-3",
            retry={"initial_backoff": 0.01, "max_backoff": 0.01, "max_elapsed": 0.1},
            **files,
        ),
        name="down",
    )
    down.emit(5)
    assert down.processor.force_flush(5_000)
    assert es.seen.docs and dead.exists() and list(spool.rglob("seg-*"))  # every path was taken
    written = [dead.read_text("utf-8"), *(p.read_text("utf-8") for p in spool.rglob("seg-*"))]
    shown = [caplog.text, json.dumps(up.stats.snapshot()), json.dumps(down.stats.snapshot()), *written]
    for secret in SECRETS:
        assert not [text for text in shown if secret in text], secret
