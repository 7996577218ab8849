"""Keeping secrets out of every output: errors, logs, ``status()`` and the CLI."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|apikey|auth(orization)?|cookie|credential|dsn|private[_-]?key)",
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    """True for keys whose values are credentials (``password``, ``api_key``, ``dsn``, ``token`` …)."""
    return bool(_SECRET_KEY.search(key))


def redact_url(url: str) -> str:
    """``https://user:pw@host/x`` → ``https://user:***@host/x``; a bare key (Sentry DSN) is hidden too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.netloc or "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, _password = userinfo.partition(":")
    shown = f"{REDACTED}:{REDACTED}" if sep else REDACTED
    if sep and user and not is_secret_key(user):
        shown = f"{user}:{REDACTED}"
    return urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))


_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact_text(text: str) -> str:
    """Hides the credentials of every URL inside free text (exception messages, log lines)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
