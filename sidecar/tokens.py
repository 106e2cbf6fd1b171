"""API tokens: roles, path scopes, and ``TokenStore``, which creates, authenticates, lists and revokes them.

A token's secret is shown once, when it is made; the database keeps only its
sha256. A token names one role and the subtrees of the store it may touch:
store paths, or ``*`` for the whole store. Only admins default to the whole
store; every other role must name its scope (``*`` included, spelled out).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from sqlalchemy import ColumnElement, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from planner.core.errors import PvaError
from planner.core.paths import contains, path_problem, read_path_problem
from sidecar import db
from sidecar.audit.chain import iso
from sidecar.audit.payloads import SecretBinding, TokenChange
from sidecar.audit.store import append_event
from sidecar.audit.tables import TOKENS, TokenRow

SECRET_PREFIX = "pva_"  # noqa: S105  # a prefix, not a secret: recognisable in logs and by secret scanners; never the start of a name
ID_PREFIX = "tok_"
WHOLE_STORE = "*"  # not a valid store path ('*' is refused in names), so it cannot be confused with one
SECRET_BYTES = 32
# last_used is written at most this often per token, so a busy agent does not make every request a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ACTOR = 200  # tables.NAME

_ID = re.compile(r"tok_[0-9a-f]{12}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
_SECRET = re.compile(r"pva_[A-Za-z0-9_-]{43}")
_BY_SECRET = select(TOKENS).where(TOKENS.c.secret_sha256 == bindparam("digest"))
_EMAIL = re.compile(r"[^@\s<>,;\x00-\x1f\x7f]+@[^@\s<>,;\x00-\x1f\x7f]+\.[^@\s<>,;\x00-\x1f\x7f]+")
MAX_EMAIL = 254  # token_urlsafe(32): 43 base64url characters

TokenStatus = Literal["active", "expired", "revoked"]


class TokenError(PvaError):
    """A token request the store refuses; the message says why."""

    exit_code = 2  # the user gave the role, name, scope or token


class InvalidTokenRequest(TokenError):
    """A role, name, scope, expiry or actor that a token cannot have."""


class TokenNameTaken(TokenError):
    """A token already has that name (revoked tokens keep theirs)."""


class UnknownToken(TokenError):
    """No token has that id or name."""


class Role(StrEnum):
    """What a token may do; ``Principal.may_touch`` says where."""

    AGENT = "agent"  # verify and submit plans, read its own
    APPROVER = "approver"  # approve or reject other principals' plans
    AUDITOR = "auditor"  # read plans and the audit
    COUNSEL = "counsel"  # place and release legal holds (``sidecar.service.holds``)
    ADMIN = "admin"  # everything, tokens and trash purges included


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an authenticated request comes from: its token, name (the audit's actor), role and scopes."""

    token_id: str
    name: str
    role: Role
    scopes: tuple[str, ...]  # minimal, sorted store paths; or ("*",) for the whole store
    read_only: bool = False  # read and verify only: no submit, upload, apply or revert
    groups: tuple[str, ...] = ()  # approver groups (policy owners and group requirements), sorted

    @property
    def whole_store(self) -> bool:
        return WHOLE_STORE in self.scopes

    def may_touch(self, path: str) -> bool:
        """True when ``path`` (a store path, or '' for the root) lies in a scope, segment by segment.

        A path that could climb ('..', '.', an empty segment: ``read_path_problem``)
        is never touchable, so no spelling gets past this check to reach
        another scope's entries. (What a plan may name is checked apart.)
        """
        if path and read_path_problem(path) is not None:
            return False
        return any(scope == WHOLE_STORE or contains(scope, path) for scope in self.scopes)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: everything but its secret and the secret's hash."""

    id: str
    name: str
    role: Role
    scopes: tuple[str, ...]
    created: datetime
    created_by: str
    expires: datetime | None
    last_used: datetime | None
    revoked: datetime | None
    revoked_by: str | None
    status: TokenStatus  # at the time it was read
    email: str | None = None  # where pending plans in its scope are mailed (approvers and admins)
    read_only: bool = False
    groups: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "scopes": list(self.scopes),
            "status": self.status,
            "created": iso(self.created),
            "created_by": self.created_by,
            "expires": _iso(self.expires),
            "last_used": _iso(self.last_used),
            "revoked": _iso(self.revoked),
            "revoked_by": self.revoked_by,
            "email": self.email,
            "read_only": self.read_only,
            "groups": list(self.groups),
        }


def checked_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidTokenRequest(f"unknown role {role!r}: {', '.join(Role)}") from None


def checked_name(name: str) -> str:
    if name.startswith((ID_PREFIX, SECRET_PREFIX)):  # not echoed: it may be a pasted secret
        raise InvalidTokenRequest(
            f"a token name may not start with {ID_PREFIX!r} (ids do) or {SECRET_PREFIX!r} (secrets do)"
        )
    if not _NAME.fullmatch(name):
        raise InvalidTokenRequest(
            f"token name {name!r}: 1 to 100 letters, digits and . _ @ + -, starting with a letter or digit"
        )
    return name


def checked_scopes(role: Role, scopes: Iterable[str]) -> tuple[str, ...]:
    """The minimal sorted scopes (none inside another), or ("*",); InvalidTokenRequest if one is bad."""
    if isinstance(scopes, str):  # a str is an Iterable[str] of its characters
        raise InvalidTokenRequest("scopes are a list of store paths, not one string")
    given = builtins.list(scopes)
    if not given:
        if role is Role.ADMIN:
            return (WHOLE_STORE,)
        raise InvalidTokenRequest(
            f"a token with role {role} needs at least one scope: a store path, or '*' for the whole store"
        )
    for scope in given:
        if scope == "":
            # Refused rather than read as the root: an unset shell variable must not grant everything.
            raise InvalidTokenRequest("empty scope: give a store path, or '*' for the whole store")
        problem = None if scope == WHOLE_STORE else path_problem(scope)
        if problem is not None:
            raise InvalidTokenRequest(f"scope refused: {problem}")
    if WHOLE_STORE in given:
        return (WHOLE_STORE,)
    unique = sorted(set(given))
    return tuple(s for s in unique if not any(o != s and contains(o, s) for o in unique))


def checked_email(email: str | None, role: Role) -> str | None:
    """A token's e-mail address: one ``@``, no spaces, 254 characters at most; approvers and admins only."""
    if email is None:
        return None
    if role not in (Role.APPROVER, Role.ADMIN):
        raise InvalidTokenRequest(
            f"only approvers and admins are mailed: a token with role {role} takes no e-mail"
        )
    if not _EMAIL.fullmatch(email) or len(email) > MAX_EMAIL:
        raise InvalidTokenRequest(f"e-mail {email[:60]!r}: give one address, name@domain, without spaces")
    return email


GROUP = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # a group's name, as the policy file names it
MAX_GROUPS = 32


def checked_groups(groups: Iterable[str], role: Role) -> list[str]:
    """A token's groups, sorted and distinct: names of 1 to 64 of a-z 0-9 . _ -; approvers and admins only."""
    names = sorted(set(groups))
    if names and role not in (Role.APPROVER, Role.ADMIN):
        raise InvalidTokenRequest(f"groups are approvers' and admins': a token with role {role} takes none")
    bad = [name for name in names if not GROUP.fullmatch(name)]
    if bad:
        raise InvalidTokenRequest(
            f"group {bad[0][:70]!r}: 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        )
    if len(names) > MAX_GROUPS:
        raise InvalidTokenRequest(f"{len(names)} groups: at most {MAX_GROUPS}")
    return names


def stored_groups(text: str | None) -> tuple[str, ...]:
    """The groups of a stored token (a damaged value grants no group)."""
    try:
        found = json.loads(text or "[]")
    except ValueError:
        return ()
    if not isinstance(found, list) or not all(isinstance(n, str) and GROUP.fullmatch(n) for n in found):
        return ()
    return tuple(found)


def checked_actor(actor: str) -> str:
    if not actor or len(actor) > MAX_ACTOR or not actor.isprintable():
        raise InvalidTokenRequest(f"actor {actor[:40]!r}: 1 to {MAX_ACTOR} printable characters")
    return actor


def secret_hash(secret: str) -> str:
    """The stored form of a secret: its sha256, in hex.

    A slow KDF (bcrypt, argon2) protects low-entropy passwords from guessing
    once the hashes leak. A secret here is 256 random bits: no dictionary
    holds it and brute force is out of reach at any hash speed, so a slow KDF
    would add only latency to every request. An unsalted, fast hash also makes
    the secret its own lookup key (an index on the hash).
    """
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_check(secret_sha256: str) -> str:
    """The sha256 of a stored secret hash: what a token's 'created' event records of it."""
    return hashlib.sha256(secret_sha256.encode("ascii")).hexdigest()


def stored_scopes(text: str) -> tuple[str, ...] | None:
    """A row's scopes (a JSON list of strings), or None when the row holds something pva never writes."""
    try:
        scopes = json.loads(text)
    except ValueError:
        return None
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        return None
    return tuple(scopes)


class TokenStore(db.SqlStore):
    """Tokens in the audit database (SQLite or PostgreSQL); opening it checks the schema."""

    def create(
        self,
        role: str,
        name: str,
        scopes: Iterable[str] = (),
        *,
        expires: datetime | None = None,
        created_by: str = "pva",
        email: str | None = None,
        read_only: bool = False,
        max_ttl: timedelta | None = None,
        groups: Iterable[str] = (),
    ) -> tuple[str, str]:
        """Make a token; return (id, secret). The secret is not kept: this is its only showing.

        ``email``: where pending plans it may approve are mailed (approvers and admins).
        ``read_only``: an agent token that reads and verifies, and nothing else; it
        must expire, within ``max_ttl`` when given (a token handed to a sandbox).
        ``groups``: the approver groups the person belongs to (approvers and admins).
        """
        checked, token_id = checked_role(role), ID_PREFIX + secrets.token_hex(6)
        if read_only:
            self._check_sandbox(checked, expires, max_ttl)
        row = {
            "id": token_id,
            "name": checked_name(name),
            "role": checked.value,
            "scopes": json.dumps(checked_scopes(checked, scopes), ensure_ascii=False),
            "created": self._now(),
            "created_by": checked_actor(created_by),
            "expires": self._checked_expiry(expires),
            "email": checked_email(email, checked),
            "read_only": read_only,
            "groups": json.dumps(checked_groups(groups, checked)),
        }
        secret = SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
        try:
            with db.appending(self._sessions) as session:
                stored = {**row, "secret_sha256": secret_hash(secret)}
                session.execute(insert(TokenRow), [stored])
                self._record(session, "created", checked_actor(created_by), token_id, stored)
        except IntegrityError:  # the unique name (the random id and hash do not collide)
            raise TokenNameTaken(
                f"a token named {name!r} exists (names stay taken after revocation: the audit uses them)"
            ) from None
        return token_id, secret

    def sandbox(
        self, who: Principal, scopes: Iterable[str], ttl: timedelta, *, max_ttl: timedelta
    ) -> tuple[TokenInfo, str]:
        """A read-only agent token, narrower than ``who``'s, for a sandbox: (its info, its secret).

        Its scopes lie inside ``who``'s, it expires after ``ttl`` (at most
        ``max_ttl``), and it is named after ``who``, who made it (and may revoke
        it). A read-only token makes none: no token widens itself.
        """
        if who.read_only:
            raise InvalidTokenRequest(f"{who.name} is a read-only token: it makes no tokens")
        wanted = checked_scopes(Role.AGENT, scopes)
        outside = [
            scope
            for scope in wanted
            if not (who.whole_store or (scope != WHOLE_STORE and who.may_touch(scope)))
        ]
        if outside:
            raise InvalidTokenRequest(f"{', '.join(outside)} lies outside {who.name}'s scope")
        if ttl <= timedelta(0):
            raise InvalidTokenRequest("a sandbox token's lifetime must be above zero")
        expires = self._now() + min(ttl, max_ttl)
        name = f"{who.name[:80]}.sandbox-{secrets.token_hex(4)}"
        token_id, secret = self.create(
            Role.AGENT.value, name, wanted, expires=expires, created_by=who.name, read_only=True
        )
        return self.get(token_id), secret

    def revoke_own(self, token_id: str, who: Principal) -> TokenInfo:
        """Revoke a token ``who`` made (an admin: any); another's is UnknownToken, as if there were none."""
        info = self.get(token_id) if _ID.fullmatch(token_id) else None
        if info is None or (info.created_by != who.name and who.role is not Role.ADMIN):
            raise UnknownToken(_unknown(token_id))
        return self.revoke(token_id, revoked_by=who.name)

    def authenticate(self, secret: str) -> Principal | None:
        """The principal of a live token with this secret; None if unknown, revoked or expired.

        The lookup is by the secret's hash: how long it takes can only tell an
        attacker about the sha256 of their guess, which does not help to find a
        secret. The compare_digest after it is a second, constant-time check.
        """
        if not _SECRET.fullmatch(secret):
            return None
        digest, now = secret_hash(secret), self._now()
        with db.reading(self.engine) as connection:  # Core, not the ORM: every request pays this lookup
            row = connection.execute(_BY_SECRET, {"digest": digest}).first()
        if row is None or not hmac.compare_digest(row.secret_sha256, digest):
            return None
        if _status(row, now) != "active":
            return None
        if row.last_used is None or now - row.last_used >= LAST_USED_RESOLUTION:
            with self._sessions() as session, session.begin():
                session.execute(update(TokenRow).where(TokenRow.id == row.id).values(last_used=now))
        scopes = stored_scopes(row.scopes)
        if scopes is None:
            return None  # a damaged row grants nothing; 'pva audit verify' names it
        groups = stored_groups(row.groups)
        return Principal(row.id, row.name, Role(row.role), scopes, read_only=row.read_only, groups=groups)

    def list(self) -> builtins.list[TokenInfo]:
        """Every token, revoked and expired ones included, oldest first."""
        now = self._now()
        with self._sessions() as session:
            rows = session.scalars(select(TokenRow).order_by(TokenRow.created, TokenRow.id))
            return [_info(row, now) for row in rows]

    def get(self, ref: str) -> TokenInfo:
        """The token with this id (``tok_...``) or name; UnknownToken if there is none."""
        with self._sessions() as session:
            row = session.scalars(select(TokenRow).where(_matching(ref))).first()
        if row is None:
            raise UnknownToken(_unknown(ref))
        return _info(row, self._now())

    def revoke(self, ref: str, *, revoked_by: str = "pva") -> TokenInfo:
        """Revoke the token with this id or name, at once and for good; revoking again changes nothing."""
        now, actor = self._now(), checked_actor(revoked_by)
        with db.appending(self._sessions) as session:
            # The write comes first, so a SQLite transaction never has to upgrade a read lock.
            revoked = session.execute(
                update(TokenRow)
                .where(_matching(ref), TokenRow.revoked.is_(None))
                .values(revoked=now, revoked_by=actor)
            )
            row = session.scalars(select(TokenRow).where(_matching(ref))).first()
            if row is not None and revoked.rowcount == 1:  # type: ignore[attr-defined]
                self._record(session, "revoked", actor, row.id, {"name": row.name, "role": row.role})
        if row is None:
            raise UnknownToken(_unknown(ref))
        return _info(row, now)

    def _record(self, session: Session, action: str, actor: str, token_id: str, row: dict[str, Any]) -> None:
        """A 'token' event in the audit's hash chain: who made or revoked which token (never its secret)."""
        scopes = tuple(json.loads(row["scopes"])) if "scopes" in row else None
        binding = None
        if "secret_sha256" in row:
            # What the row may hold, bound in the chain: the expiry, and a hash of the
            # secret's hash (so the chain never holds the lookup key itself).
            expires = None if row["expires"] is None else iso(row["expires"])
            binding = SecretBinding(secret_check(row["secret_sha256"]), expires)
        read_only = bool(row.get("read_only", False))
        payload = TokenChange(action, token_id, row["name"], row["role"], scopes, binding, read_only)
        append_event(session, self._now(), kind="token", digest=None, actor=actor, payload=payload)

    def _check_sandbox(self, role: Role, expires: datetime | None, max_ttl: timedelta | None) -> None:
        """A read-only token is an agent's, and expires (within ``max_ttl``, when given)."""
        if role is not Role.AGENT:
            raise InvalidTokenRequest(f"only agent tokens are read-only, not {role.value} tokens")
        if expires is None:
            raise InvalidTokenRequest("a read-only token must expire: give --expires")
        if max_ttl is not None and expires > self._now() + max_ttl:
            raise InvalidTokenRequest(
                f"a read-only token lives at most {max_ttl} (PVA_SANDBOX_TOKEN_TTL): give a nearer --expires"
            )

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the token clock must return timezone-aware times")
        return now.astimezone(UTC)

    def _checked_expiry(self, expires: datetime | None) -> datetime | None:
        if expires is None:
            return None
        if expires.tzinfo is None:
            raise InvalidTokenRequest("the expiry needs a time zone (for example 2027-01-31T00:00:00Z)")
        if expires <= self._now():
            raise InvalidTokenRequest(f"the expiry {iso(expires)} is not in the future")
        return expires.astimezone(UTC)


def _matching(ref: str) -> ColumnElement[bool]:
    # Names may not start with "tok_", so an id and a name are never confused.
    return TokenRow.id == ref if _ID.fullmatch(ref) else TokenRow.name == ref


def _unknown(ref: str) -> str:
    return f"no token with id {ref}" if _ID.fullmatch(ref) else f"no token named {ref!r}"


class _Lifetime(Protocol):
    """What a token's status is read from: its row, whole (ORM) or as selected (Core)."""

    revoked: datetime | None
    expires: datetime | None


def _status(row: _Lifetime, now: datetime) -> TokenStatus:
    if row.revoked is not None:
        return "revoked"
    if row.expires is not None and row.expires <= now:
        return "expired"
    return "active"


def _info(row: TokenRow, now: datetime) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.name,
        Role(row.role),
        stored_scopes(row.scopes) or (f"(damaged: {row.scopes[:40]!r})",),
        row.created,
        row.created_by,
        row.expires,
        row.last_used,
        row.revoked,
        row.revoked_by,
        _status(row, now),
        row.email,
        row.read_only,
        stored_groups(row.groups),
    )


def _iso(time: datetime | None) -> str | None:
    return None if time is None else iso(time)
