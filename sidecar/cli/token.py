"""``pva token create|list|revoke``: the sidecar's API tokens, straight in the database.

No running server is needed. ``create`` prints the secret once: alone on
standard output (so ``TOKEN=$(pva token create ...)`` works), what it grants
on standard error; with ``--json``, both in one document. Exit codes: 0
success; 2 misuse, a refused role, name or scope, an unknown token, or a
database that is not migrated; 3 a database that fails (unreachable).
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from planner.cli.shell import EXIT_OK, UsageError
from planner.cli.text import terminal
from sidecar import db
from sidecar.audit.chain import iso
from sidecar.cli.db import add_db_option, database
from sidecar.cli.options import actor_from, add_actor_option
from sidecar.settings import Settings
from sidecar.times import DURATION_FORMS, as_utc, short_duration
from sidecar.tokens import Role, TokenInfo, TokenStore


def register(commands: Any) -> None:
    parser = commands.add_parser("token", help="create, list and revoke API tokens", description=__doc__)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    create = _action(actions, "create", "make a token and print its secret, once", run_create)
    create.add_argument("--role", required=True, choices=[role.value for role in Role], help="what it may do")
    create.add_argument("--name", required=True, help="its unique name, the actor the audit records")
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="PATH",
        help="a subtree it may touch (repeatable); '*' is the whole store, the default for admins only",
    )
    create.add_argument("--expires", metavar="WHEN", help="30d, 12h, 30m, or an ISO time (UTC if no zone)")
    create.add_argument(
        "--email",
        metavar="ADDRESS",
        help="approvers and admins: mail the pending plans they may approve here",
    )
    create.add_argument(
        "--read-only",
        action="store_true",
        help="an agent token that reads and verifies only (for sandboxes): it must expire, "
        "within PVA_SANDBOX_TOKEN_TTL (default 24h)",
    )
    create.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME",
        help="approvers and admins: a group the person belongs to (policy owners and group "
        "requirements, docs/workflow.md); repeatable",
    )
    add_actor_option(create)
    _action(actions, "list", "every token (never a secret): role, scopes, status, use", run_list)
    revoke = _action(actions, "revoke", "revoke a token at once, for good", run_revoke)
    revoke.add_argument("token", metavar="ID_OR_NAME", help="the token's id (tok_...) or name")
    add_actor_option(revoke)


def _action(actions: Any, name: str, summary: str, run: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=summary, description=summary)
    add_db_option(parser)
    parser.add_argument("--json", action="store_true", help="print the versioned JSON view")
    parser.set_defaults(run=run)
    return parser


def opened(args: argparse.Namespace) -> AbstractContextManager[TokenStore]:
    """The token store named by ``--db`` (or the settings)."""
    return db.opened(TokenStore, database(args))


def expiry(text: str, now: datetime) -> datetime:
    """``--expires``: a duration from ``now`` (``30d``, ``12h``) or an ISO 8601 time (UTC if no zone)."""
    duration = short_duration(text)
    if duration is not None:
        return now + duration
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise UsageError(f"--expires {text!r}: give {DURATION_FORMS} or an ISO 8601 time") from None


def run_create(args: argparse.Namespace) -> int:
    expires = None if args.expires is None else expiry(args.expires, datetime.now(UTC))
    with opened(args) as store:
        token_id, secret = store.create(
            args.role,
            args.name,
            args.scope,
            expires=expires,
            created_by=actor_from(args),
            email=args.email,
            read_only=args.read_only,
            groups=args.group,
            max_ttl=Settings.load().sandbox_token_ttl if args.read_only else None,
        )
        info = store.get(token_id)
    if args.json:
        print(
            json.dumps({"version": "token-created/v1", "token": info.to_json(), "secret": secret}, indent=2)
        )
        return EXIT_OK
    print(secret)
    print(terminal(f"created {_describe(info)}"), file=sys.stderr)
    print("the secret above is shown this once: pva keeps only its hash", file=sys.stderr)
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    with opened(args) as store:
        tokens = store.list()
    if args.json:
        print(json.dumps({"version": "tokens/v1", "tokens": [t.to_json() for t in tokens]}, indent=2))
    else:
        print(terminal(_table(tokens)))
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    with opened(args) as store:
        info = store.revoke(args.token, revoked_by=actor_from(args))
    if args.json:
        print(json.dumps({"version": "token/v1", "token": info.to_json()}, indent=2))
    else:
        assert info.revoked is not None
        print(terminal(f"revoked {_describe(info)} at {iso(info.revoked)[:19]}Z by {info.revoked_by}"))
    return EXIT_OK


def _describe(info: TokenInfo) -> str:
    expires = "" if info.expires is None else f", expires {iso(info.expires)[:19]}Z"
    mailed = "" if info.email is None else f", mailed at {info.email}"
    groups = "" if not info.groups else f", groups {', '.join(info.groups)}"
    return f"token {info.id} {info.name!r}: {info.role} on {', '.join(info.scopes)}{groups}{expires}{mailed}"


def _table(tokens: list[TokenInfo]) -> str:
    if not tokens:
        return "no tokens"
    lines = [f"{'id':16}  {'name':20}  {'role':8}  {'status':7}  {'created':16}  {'last used':16}  scopes"]
    lines += [
        f"{t.id:16}  {t.name[:20]:20}  {t.role:8}  {t.status:7}  {_minute(t.created):16}  "
        f"{_minute(t.last_used):16}  {', '.join(t.scopes)}"
        + (f"  (groups: {', '.join(t.groups)})" if t.groups else "")
        for t in tokens
    ]
    return "\n".join(lines)


def _minute(time: datetime | None) -> str:
    return "-" if time is None else iso(time)[:16].replace("T", " ")
