"""The sidecar's settings, read from ``PVA_*`` environment variables (pydantic-settings).

Optionally also from a dotenv file named by ``PVA_SETTINGS_FILE`` (the
environment wins). A value that does not parse is a ``BadSetting`` naming
the variable and what it takes (one line from every command, no
traceback). Durations take ``10s``, ``30m``, ``2h``, ``7d`` (as
``--expires``), ISO 8601 (``PT30M``) or ``HH:MM:SS``. ``unsafe`` lists what
is dangerous about a configuration: the service refuses to start on its
errors outside development and prints its warnings loudly
(docs/operations.md lists them).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from planner.core.errors import PvaError
from sidecar.times import DURATION_FORMS, short_duration

DEFAULT_DATABASE_URL = "sqlite:///var/pva.db"  # relative to the current folder; made on demand
MIB = 1024 * 1024


class BadSetting(PvaError):
    """A ``PVA_*`` setting whose value does not parse (exit 2: fix the setting)."""

    exit_code = 2


def _duration(value: object) -> object:
    """``10s``, ``30m``, ``2h``, ``7d`` as a timedelta; anything else on to pydantic (ISO 8601, HH:MM:SS)."""
    found = short_duration(value) if isinstance(value, str) else None
    return value if found is None else found


Positive = Annotated[int, Field(ge=1)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
DURATION_TAKES = f"a duration: {DURATION_FORMS}, ISO 8601 (PT30M) or HH:MM:SS"


class Settings(BaseSettings):
    """Where the store is, which database records what happens to it, and how the service runs."""

    model_config = SettingsConfigDict(
        env_prefix="PVA_", extra="ignore", frozen=True, env_parse_none_str="none"
    )

    store: str = "var/projects"
    database_url: str = DEFAULT_DATABASE_URL
    # Connections kept open to it; none: 40 on SQLite (more than are used at once), 5 on PostgreSQL
    database_pool: Positive | None = None
    state_dir: str = "var/state"  # local journals and locks of stores that are not folders (gs://)

    # -- the HTTP service --
    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    # Requests handled at once; the others wait their turn, in order. Python runs one thread at a time,
    # so more threads serve no more requests: they stretch each one, and starve the thread holding
    # the audit chain's lock while every submit waits for it (docs/operations.md, "Configuration").
    request_threads: Positive = 16
    tls_proxy: bool = False  # the operator says a TLS-terminating proxy is in front (needed off loopback)
    # The proxies whose X-Forwarded-For/-Proto are believed (addresses or networks, comma-separated);
    # "": none, so the rate limit counts by the connection's own address.
    trusted_proxies: str = ""
    policy: str | None = None  # the policy file (TOML, policy/v1); none: every plan needs one approval
    approval_ttl: Duration | None = timedelta(days=7)  # a duration; "none": never
    auto_apply: bool = True  # approved plans apply at once; else on POST /v1/plans/{id}/apply
    apply_lease: Duration = timedelta(minutes=30)  # an apply still 'applying' after this was abandoned
    # Replicas sharing PostgreSQL (gs:// store): a lock lease's length, renewed every third of it; a dead
    # replica's paths and applies are taken over this long after its last renewal. pva serve also
    # sweeps for applies another process left (its interval).
    lock_lease: Annotated[Duration, Field(ge=timedelta(seconds=1))] = timedelta(seconds=10)
    # 'request': the request that starts an apply runs it; 'jobs': it enqueues a job a worker runs (202)
    apply_mode: Literal["request", "jobs"] = "jobs"
    job_heartbeat: Duration = timedelta(seconds=10)  # jobs on PostgreSQL: a worker silent 3 beats is dead

    # -- notifications (sidecar.notify; docs/operations.md) --
    # The sidecar's address as people reach it (https://pva.firm.example): notices link to plan pages
    # under it; none: they carry no link.
    public_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = None
    notify: bool = True  # pva serve runs the notification worker (every replica may)
    notify_interval: Annotated[Duration, Field(gt=timedelta(0))] = timedelta(seconds=2)  # between rounds
    # Delivered (or given up) deliveries and their events are deleted once this old.
    notify_retention: Annotated[Duration, Field(gt=timedelta(0))] = timedelta(days=30)
    webhook_backoff: Annotated[Duration, Field(gt=timedelta(0))] = timedelta(seconds=10)  # doubles each retry
    webhook_attempts: Positive = 10  # tries before a delivery is given up
    webhook_timeout: Annotated[Duration, Field(gt=timedelta(0))] = timedelta(seconds=10)
    # Mail to approvers: smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://...;
    # sent only when both are set.
    smtp_url: SecretStr | None = None
    mail_from: str | None = None  # the From: address, e.g. pva@firm.example

    # -- limits on what a request may carry --
    max_body_bytes: Positive = 64 * MIB
    max_json_depth: Positive = 32
    max_array_length: Positive = 100_000
    max_string_length: Positive = 64 * MIB
    rate_limit: Positive = 600  # requests per minute per token
    rate_burst: Positive = 120

    # -- reads and uploads (GET /v1/files, POST /v1/blobs) --
    # Which file reads become 'read' events in the audit: "whole" files (the default), "all"
    # (ranges too), or "off".
    audit_reads: Literal["off", "whole", "all"] = "whole"
    # Hashed manifests and snapshots made at once, each reading every byte below its folder (one per
    # token): what the rate limit cannot bound, as one such request may keep a thread busy for hours.
    hashed_listings: Positive = 2
    max_blob_bytes: Positive = 1024 * MIB  # one uploaded blob
    blob_quota_bytes: Positive = 10 * 1024 * MIB  # what one token's uncollected blobs may hold at once
    blob_retention: Duration = timedelta(days=7)  # a blob no plan names is collected after this
    # The longest a read-only token (one handed to a sandbox) may live: pva token create --read-only.
    sandbox_token_ttl: Annotated[Duration, Field(gt=timedelta(0))] = timedelta(hours=24)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the environment and ``PVA_SETTINGS_FILE`` (if set), then ``overrides``."""
        env_file = os.environ.get("PVA_SETTINGS_FILE") or None
        try:
            return cls(_env_file=env_file, **overrides)
        except ValidationError as error:
            raise BadSetting(_explained(error)) from None

    # -- the approval page (sidecar.web) --
    # Signs browser sessions. None: a random key per process, so sessions end when it restarts;
    # set it (32+ characters) when several sidecars share a load balancer.
    session_secret: Annotated[SecretStr, Field(min_length=32)] | None = None
    session_ttl: Annotated[Duration, Field(gt=timedelta(0))] = timedelta(hours=8)  # a session's lifetime

    # -- signed checkpoints of the audit (sidecar.audit.checkpoints; docs/operations.md) --
    checkpoint_key: SecretStr | None = None  # PRIVATE+KEY+name+hash+key, from `pva audit key --new`
    checkpoint_dir: str | None = None  # the folder `pva audit checkpoint` publishes to
    checkpoint_origin: str | None = None  # the log's name on each checkpoint; none: the key's name
    # `pva serve` signs when both are set: at start, after this many new events, after this long, at stop
    checkpoint_every: Positive = 1000
    checkpoint_interval: Annotated[Duration, Field(gt=timedelta(0))] = timedelta(hours=1)
    # an RFC 3161 time-stamping authority: each checkpoint published gets its timestamp beside it
    tsa_url: str | None = None
    tsa_roots: str | None = None  # a PEM file of the TSA's root certificates, to check timestamps

    # -- changes made outside pva (sidecar.service.watch; docs/operations.md) --
    # `pva serve` scans the store this often and records each difference; None: it does not watch
    watch_interval: Annotated[Duration, Field(gt=timedelta(0))] | None = None


def unsafe(settings: Settings, *, empty_policy: bool) -> tuple[list[str], list[str]]:
    """What is dangerous about ``settings``: (errors that stop production, warnings)."""
    errors: list[str] = []
    warnings: list[str] = []
    production = settings.environment == "production"
    if not _loopback(settings.host) and not settings.tls_proxy:
        message = (
            f"PVA_HOST={settings.host} serves bearer tokens in clear text beyond this machine: "
            "put a TLS-terminating proxy in front and set PVA_TLS_PROXY=true, or bind 127.0.0.1"
        )
        (errors if production else warnings).append(message)
    if empty_policy:
        message = (
            "the policy has no rules (PVA_POLICY unset or empty): every plan needs one approval "
            "and nothing is denied, whatever its size"
        )
        (errors if production else warnings).append(message)
    if production and settings.database_url.startswith("sqlite"):
        warnings.append(
            "the audit database is SQLite: use PostgreSQL in production (several sidecars, backups)"
        )
    if production and settings.session_secret is None:
        warnings.append(
            "PVA_SESSION_SECRET is unset: each sidecar signs approval-page sessions with its own key, "
            "so sessions end when it restarts and do not carry across sidecars behind a load balancer"
        )
    if settings.approval_ttl is None:
        warnings.append("approvals never expire (PVA_APPROVAL_TTL=none)")
    if (settings.smtp_url is None) != (not settings.mail_from):
        warnings.append("the sidecar sends no mail: set both PVA_SMTP_URL and PVA_MAIL_FROM")
    if (settings.checkpoint_key is None) != (not settings.checkpoint_dir):
        warnings.append(
            "the sidecar signs no checkpoints: set both PVA_CHECKPOINT_KEY and PVA_CHECKPOINT_DIR"
        )
    return errors, warnings


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# What a setting takes, by the kind of error pydantic reports (its own words otherwise).
_TAKES = {
    "time_delta_parsing": DURATION_TAKES,
    "time_delta_type": DURATION_TAKES,
    "int_parsing": "a whole number",
    "bool_parsing": "true or false",
    "literal_error": "one of: {expected}",
    "too_short": "at least {min_length} characters",
    "string_pattern_mismatch": "text matching {pattern}",
}
# A bound a setting's type sets, and how its message words it (the bound is read from the type:
# pydantic gives a duration's only as its repr).
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
    "less_than_equal": ("le", "at most"),
}


def _explained(error: ValidationError) -> str:
    """One line per wrong setting: its variable, the value given (shortened) and what it takes."""
    lines = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else None
        name = f"PVA_{field.upper()}" if field else "a PVA_ setting"
        given = item.get("input")
        secret = field is not None and SecretStr in _parts(field)  # a secret's value is never echoed
        shown = f"{given[:40]!r}" if isinstance(given, str) and not secret else "its value"
        bound = _BOUNDS.get(item["type"])
        if bound is not None and field is not None:
            takes = f"a value of {bound[1]} {_shown_bound(_bound(field, bound[0]))}"
        else:
            takes = _TAKES.get(item["type"], "").format(**(item.get("ctx") or {})) or item["msg"]
        lines.append(f"{name}={shown} is not valid: it takes {takes} (docs/operations.md, settings)")
    return "; ".join(lines)


def _parts(name: str) -> Iterator[Any]:
    """Everything the type of setting ``name`` is made of: its types, through ``X | None``, and bounds."""
    pending: list[Any] = [Settings.model_fields[name].annotation, *Settings.model_fields[name].metadata]
    while pending:
        item = pending.pop()
        yield item
        pending.extend(getattr(item, "metadata", ()))  # a Field(...) inside Annotated
        pending.extend(get_args(item))


def _bound(name: str, key: str) -> object:
    """The bound ``key`` (``ge``, ``gt``, ``le``) that the type of setting ``name`` sets."""
    return next((getattr(part, key) for part in _parts(name) if hasattr(part, key)), "its limit")


def _shown_bound(bound: object) -> str:
    """A bound as people write it: 1, 65535, 1s."""
    if isinstance(bound, timedelta):
        return f"{bound.total_seconds():g}s"
    return str(bound)
