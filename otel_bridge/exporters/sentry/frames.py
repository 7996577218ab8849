"""Stack frames for Sentry's ``exception`` interface: from a live exception or a formatted traceback.

Pure: reads only the exception object (or the text) it is given, plus ``linecache`` for source lines
of a live traceback, exactly what ``traceback.format_exception`` reads.
"""

from __future__ import annotations

import linecache
import re
import sys
from types import TracebackType
from typing import Any

MAX_FRAMES = 100  # per exception; the middle is dropped past this, as Sentry's SDK does
MAX_CHAIN = 5  # exceptions followed through __cause__ / __context__

_LIBRARY_MARKERS = ("site-packages", "dist-packages", "/lib/python", "\\lib\\python", "<frozen ")


def is_in_app(path: str) -> bool:
    """A frame is the application's own unless it lives in an installed package or the stdlib."""
    return not any(marker in path for marker in _LIBRARY_MARKERS)


def short_filename(path: str) -> str:
    """``path`` relative to the longest ``sys.path`` entry containing it (what Sentry calls filename)."""
    best = ""
    for entry in sys.path:
        if entry and path.startswith(entry.rstrip("/\\") + "/") and len(entry) > len(best):
            best = entry.rstrip("/\\")
    return path[len(best) + 1 :] if best else path


def _trim(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(frames) <= MAX_FRAMES:
        return frames
    half = MAX_FRAMES // 2
    return frames[:half] + frames[-half:]


def _frames_from_traceback(tb: TracebackType | None) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while tb is not None:
        code = tb.tb_frame.f_code
        path = code.co_filename
        lineno = tb.tb_lineno
        frame: dict[str, Any] = {
            "filename": short_filename(path),
            "abs_path": path,
            "function": code.co_name,
            "lineno": lineno,
            "in_app": is_in_app(path),
        }
        module = tb.tb_frame.f_globals.get("__name__")
        if isinstance(module, str):
            frame["module"] = module
        line = linecache.getline(path, lineno).strip()
        if line:
            frame["context_line"] = line
        frames.append(frame)
        tb = tb.tb_next
    return _trim(frames)


def _type_name(exc: BaseException) -> tuple[str, str | None]:
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__, (None if module in ("builtins", "__main__") else module)


def exceptions_from_live(exc: BaseException, mechanism: dict[str, Any]) -> list[dict[str, Any]]:
    """Sentry exception values for ``exc`` and its causes, oldest first, newest (``exc``) last."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        chain.append(current)
        seen.add(id(current))
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    values: list[dict[str, Any]] = []
    for position, item in enumerate(reversed(chain)):
        type_name, module = _type_name(item)
        value: dict[str, Any] = {"type": type_name, "value": str(item)}
        if module:
            value["module"] = module
        frames = _frames_from_traceback(item.__traceback__)
        if frames:
            value["stacktrace"] = {"frames": frames}
        if position == len(chain) - 1:
            value["mechanism"] = mechanism
        values.append(value)
    return values


_FRAME_RE = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<lineno>\d+)(?:, in (?P<function>.+))?\s*$')
_CHAIN_RE = re.compile(
    r"^(The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)\s*$"
)
_MARKER_RE = re.compile(r"^\s*[\^~\s]+$")
_HEADER = "Traceback (most recent call last):"


def _parse_block(lines: list[str]) -> tuple[list[dict[str, Any]], str | None]:
    """Frames of one traceback block and its final ``Type: message`` line."""
    frames: list[dict[str, Any]] = []
    tail: list[str] = []
    for line in lines:
        match = _FRAME_RE.match(line)
        if match:
            path = match.group("path")
            frames.append(
                {
                    "filename": short_filename(path),
                    "abs_path": path,
                    "function": (match.group("function") or "<unknown>").strip(),
                    "lineno": int(match.group("lineno")),
                    "in_app": is_in_app(path),
                }
            )
            tail = []
        elif line.startswith("    ") and frames and "context_line" not in frames[-1] and not tail:
            if not _MARKER_RE.match(line):
                frames[-1]["context_line"] = line.strip()
        elif line.strip() and line.strip() != _HEADER and not _MARKER_RE.match(line):
            tail.append(line)
    return _trim(frames), ("\n".join(tail) if tail else None)


def exceptions_from_text(
    stacktrace: str, type_name: str | None, message: str | None, mechanism: dict[str, Any]
) -> list[dict[str, Any]]:
    """Sentry exception values parsed from ``exception.stacktrace`` text (Python's format).

    Each chained block becomes one value; ``type_name``/``message`` (the ``exception.type`` and
    ``exception.message`` attributes) win for the last one. Text that is not a Python traceback yields
    one value without frames.
    """
    blocks: list[list[str]] = [[]]
    for line in stacktrace.splitlines():
        if _CHAIN_RE.match(line):
            blocks.append([])
        else:
            blocks[-1].append(line)
    values: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        frames, tail = _parse_block(block)
        last = index == len(blocks) - 1
        parsed_type, _, parsed_value = (tail or "").partition(":")
        value: dict[str, Any] = {
            "type": (type_name if last and type_name else parsed_type.strip()) or "Error",
            "value": message if last and message is not None else parsed_value.strip(),
        }
        if frames:
            value["stacktrace"] = {"frames": frames}
        if last:
            value["mechanism"] = mechanism
        if frames or last:
            values.append(value)
    return values


def raise_site(values: list[dict[str, Any]]) -> str:
    """Where the newest exception was raised (``path:line``), for de-duplication; empty if unknown."""
    if not values:
        return ""
    frames = values[-1].get("stacktrace", {}).get("frames") or []
    if not frames:
        return ""
    top = frames[-1]
    return f"{top.get('abs_path')}:{top.get('lineno')}"
