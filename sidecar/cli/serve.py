"""``pva serve``: run the sidecar's HTTP service (uvicorn) over the store and database of the settings.

``--init`` is what ``make serve`` runs: it creates the store folder,
migrates the database and prints the URL and an admin token. The token is
made once and kept in ``<PVA_STATE_DIR>/admin-token`` (mode 0600), so a
restart prints the same one instead of adding another; ``--rotate``
revokes it and makes a new one. The port is bound before anything is made:
a port in use is one line naming ``PVA_PORT``, exit 2. Unsafe settings are
printed loudly on standard error; in production
(``PVA_ENVIRONMENT=production``) they stop the start, exit 2.
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from planner.cli.shell import EXIT_OK, EXIT_USAGE, UsageError
from sidecar import db
from sidecar.app import create_app
from sidecar.serving import server_config
from sidecar.settings import Settings, unsafe
from sidecar.tokens import Role, TokenStore
from sidecar.wiring import load_policy, open_services

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105  # a file name: in PVA_STATE_DIR, the token --init made


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="run the sidecar's HTTP API", description=__doc__)
    parser.add_argument("--store", help="the store folder (default: PVA_STORE, else var/projects)")
    parser.add_argument("--db", help="the audit database URL (default: PVA_DATABASE_URL, else var/pva.db)")
    parser.add_argument("--host", help="address to bind (default: PVA_HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: PVA_PORT, else 8000)")
    parser.add_argument("--policy", help="the policy file (default: PVA_POLICY; none: one approval each)")
    parser.add_argument(
        "--init",
        action="store_true",
        help="first create the store folder, migrate the database and print the admin token "
        f"(made once, kept in PVA_STATE_DIR/{ADMIN_TOKEN_FILE})",
    )
    parser.add_argument(
        "--rotate", action="store_true", help="with --init: revoke the kept admin token and make a new one"
    )
    parser.set_defaults(run=run)


def settings_of(args: argparse.Namespace) -> Settings:
    names = {"store": "store", "db": "database_url", "host": "host", "port": "port", "policy": "policy"}
    overrides = {field: getattr(args, option) for option, field in names.items() if getattr(args, option)}
    return Settings.load(**overrides)


def run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    errors, warnings = unsafe(settings, empty_policy=load_policy(settings.policy).is_empty)
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    if errors:
        for error in errors:
            print(f"REFUSED: {error}", file=sys.stderr)
        print("pva serve: unsafe settings for production; fix them (docs/operations.md)", file=sys.stderr)
        return EXIT_USAGE
    url = f"http://{settings.host}:{settings.port}"
    with listening(settings) as listener:  # before anything is made: a busy port changes nothing
        if args.init:
            _initialise(settings, url, rotate=args.rotate)
        with open_services(settings):  # a missing store, an unmigrated database: one line, exit 2
            pass
        uvicorn.Server(server_config(create_app(settings), settings)).run(sockets=[listener])
    return EXIT_OK


def listening(settings: Settings) -> socket.socket:
    """A socket bound to the settings' host and port, or UsageError naming PVA_PORT when it is taken.

    With TCP_NODELAY, which the connections it accepts inherit: asyncio sets it
    only on sockets made with proto IPPROTO_TCP, and ``create_server`` makes
    proto 0. Without it, a response's body waits for the client's delayed ACK
    of its headers on a kept-alive connection: about 40 ms a request.
    """
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        listener = socket.create_server((settings.host, settings.port), family=family)
    except OSError as error:
        busy = error.errno == errno.EADDRINUSE
        why = "the port is in use (another pva serve?)" if busy else error.strerror
        raise UsageError(
            f"cannot listen on {settings.host}:{settings.port}: {why}; "
            "stop what holds it, or choose another port with PVA_PORT (or --port)"
        ) from None
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


@dataclass(frozen=True)
class AdminToken:
    """The admin token ``--init`` prints: its name, its secret, and whether it was made just now."""

    name: str
    secret: str
    fresh: bool


def admin_token(settings: Settings, *, rotate: bool) -> AdminToken:
    """The kept admin token if it still works (and ``rotate`` is off), else a new one, kept in its place."""
    kept = Path(settings.state_dir) / ADMIN_TOKEN_FILE
    secret = kept.read_text(encoding="ascii").strip() if kept.is_file() else ""
    with db.opened(TokenStore, settings.database_url) as tokens:
        who = tokens.authenticate(secret) if secret else None
        if who is not None and who.role is Role.ADMIN and not rotate:
            return AdminToken(who.name, secret, fresh=False)
        if who is not None and who.role is Role.ADMIN:
            tokens.revoke(who.token_id, revoked_by="pva serve --init --rotate")
        name = f"admin-{secrets.token_hex(3)}"
        _, secret = tokens.create("admin", name, created_by="pva serve --init")
    kept.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file may have had wider rights
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(secret + "\n")
    return AdminToken(name, secret, fresh=True)


def _initialise(settings: Settings, url: str, *, rotate: bool) -> None:
    if "://" not in settings.store:  # a folder; a bucket (gs://) is made by its owner
        Path(settings.store).mkdir(parents=True, exist_ok=True)
    db.upgrade(settings.database_url)
    admin = admin_token(settings, rotate=rotate)
    kept = Path(settings.state_dir) / ADMIN_TOKEN_FILE
    invoked = sys.argv[0] if sys.argv else ""
    pva = os.path.relpath(invoked) if "/" in invoked else "pva"  # as the reader can type it here
    pva = "pva" if pva.startswith("..") else pva
    made = "new" if admin.fresh else "the same as at the last start"
    print(
        f"""
pva sidecar: {url}   (approval page {url}/, API docs {url}/docs)
  store     {settings.store}
  database  {db.describe(settings.database_url)}

admin token '{admin.name}' ({made}; kept in {kept}, mode 0600;
make serve ROTATE=1 or pva serve --init --rotate replaces it):
  {admin.secret}

make tokens for agents and approvers (the secret is printed once):
  {pva} token create --role agent --name agent-1 --scope matters/acme
  {pva} token create --role approver --name alice --scope matters
then: export PVA_URL={url} PVA_TOKEN=<token>; {pva} submit plan.json
""",
        flush=True,
    )
