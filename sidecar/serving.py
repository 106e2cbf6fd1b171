"""How uvicorn runs the sidecar: whose forwarded headers to believe; logs on standard error, secrets redacted.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from the
proxies ``PVA_TRUSTED_PROXIES`` names (none by default): otherwise any client
could pick the address the per-address rate limit counts by. Every log line
(uvicorn's access log included) goes to standard error, and the access log
never shows a query parameter named like a secret, nor anything shaped like
a pva token, wherever in the request line a client put it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import uvicorn
from fastapi import FastAPI

from planner.core.preview import terminal_safe
from sidecar.settings import Settings

REDACTED = "[redacted]"
# Query parameters whose values are secrets, by the last word of their name (token, access_token, api_key).
_SECRET_NAME = re.compile(
    r"(?:^|[_.-])(?:token|secret|password|passwd|pwd|key|apikey|auth|authorization|session|credentials?)$",
    re.IGNORECASE,
)
_PVA_TOKEN = re.compile(r"pva_[A-Za-z0-9_-]{16,}")


def redacted(target: str) -> str:
    """``target`` (a path and query) with secret-named parameters' values and pva tokens replaced."""
    path, mark, query = target.partition("?")
    if mark:
        query = "&".join(_redacted_parameter(part) for part in query.split("&"))
    return _PVA_TOKEN.sub(REDACTED, path + mark + query)


def _redacted_parameter(part: str) -> str:
    name, equals, _ = part.partition("=")
    return f"{name}={REDACTED}" if equals and _SECRET_NAME.search(name) else part


class RedactSecrets(logging.Filter):
    """Rewrites uvicorn's access-log records: their request target loses its secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's arguments: (client, method, target, HTTP version, status)
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redacted(args[2]), *args[3:])
        return True


class OneLine(logging.Filter):
    """Each record of pva's own log on one line, its line breaks and controls escaped.

    A record may quote a store's name or an agent's text (an outside change,
    an error): a line break in one would make a line of the journal that
    reads as a record of its own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = terminal_safe(message)
        if safe != message:
            record.msg, record.args = safe, None
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging: the access log on standard error, redacted; pva's own, one line a record."""
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecrets}, "one_line": {"()": OneLine}},
        "formatters": {
            "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        },
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["one_line"],
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["redact"],
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "pva": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
    return config


def server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration ``pva serve`` runs ``app`` with."""
    proxies = [address.strip() for address in settings.trusted_proxies.split(",") if address.strip()]
    return uvicorn.Config(
        app,
        log_config=log_config(),
        log_level="info",
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )
