"""``pva serve``: run the sidecar's HTTP service (uvicorn) over the store and database of the settings.

``--init`` is what ``make serve`` runs on a fresh machine: it creates the
store folder, migrates the database and creates an admin token, printed
once with the URL. Unsafe settings are printed loudly on standard error;
in production (``PVA_ENVIRONMENT=production``) they stop the start, exit 2.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import uvicorn

from planner.cli.common import EXIT_OK, EXIT_USAGE
from sidecar import db
from sidecar.api.app import create_app
from sidecar.settings import Settings, unsafe
from sidecar.tokens import TokenStore
from sidecar.wiring import load_policy, open_services


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
        help="first create the store folder, migrate the database and print a new admin token",
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
    if args.init:
        _initialise(settings, url)
    with open_services(
        settings
    ):  # a missing store, an unmigrated database: one line and exit 2, not a traceback
        pass
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return EXIT_OK


def _initialise(settings: Settings, url: str) -> None:
    if "://" not in settings.store:  # a folder; a bucket (gs://) is made by its owner
        Path(settings.store).mkdir(parents=True, exist_ok=True)
    db.upgrade(settings.database_url)
    with db.opened(TokenStore, settings.database_url) as tokens:
        name = f"admin-{secrets.token_hex(3)}"
        _, secret = tokens.create("admin", name, created_by="pva serve --init")
    invoked = sys.argv[0] if sys.argv else ""
    pva = os.path.relpath(invoked) if "/" in invoked else "pva"  # as the reader can type it here
    pva = "pva" if pva.startswith("..") else pva
    print(
        f"""
pva sidecar: {url}   (API docs {url}/docs)
  store     {settings.store}
  database  {db.describe(settings.database_url)}

admin token '{name}' (shown once, keep it):
  {secret}

make tokens for agents and approvers (the secret is printed once):
  {pva} token create --role agent --name agent-1 --scope matters/acme
  {pva} token create --role approver --name alice --scope matters
then: export PVA_URL={url} PVA_TOKEN=<token>; {pva} submit plan.json
""",
        flush=True,
    )
