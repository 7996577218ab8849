"""The dead-letter file: one warning per error type, the reason kept, the size bound made visible."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from otel_bridge.exporters.elasticsearch.dead_letter import DeadLetter, read_dead_letters
from otel_bridge.exporters.elasticsearch.documents import Document


def doc(i: int) -> Document:
    return Document(f"id{i}", "logs-a-b", b'{"seq":%d}' % i, 0)


def refused(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("otel_bridge")]


def test_one_warning_per_error_type_and_every_document_kept_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dead.ndjson"
    dead = DeadLetter(path)
    for i in range(5):
        dead.add(doc(i), 400, {"type": "document_parsing_exception", "reason": f"bad field {i}"})
    for i in range(5, 8):
        dead.add(doc(i), 404, {"type": "index_not_found_exception", "reason": "no such index"})
    messages = refused(caplog)
    assert len(messages) == 2
    assert "document_parsing_exception" in messages[0] and "index_not_found_exception" in messages[1]
    entries = read_dead_letters(path)
    assert [e["document"]["seq"] for e in entries] == list(range(8))
    assert entries[3]["status"] == 400 and entries[3]["error"]["reason"] == "bad field 3"
    assert entries[6]["error"] == {"type": "index_not_found_exception", "reason": "no such index"}


def test_a_full_dead_letter_file_is_said_once_not_silently(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "dead.ndjson"
    dead = DeadLetter(path, max_bytes=400)
    kept = [dead.add(doc(i), 400, {"type": "document_parsing_exception", "reason": "x"}) for i in range(10)]
    assert kept[0] and not all(kept)
    full = [m for m in refused(caplog) if "size limit" in m]
    assert len(full) == 1 and str(path) in full[0]
    assert caplog.records[-1].levelno == logging.WARNING
