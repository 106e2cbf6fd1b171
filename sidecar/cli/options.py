"""Options the sidecar's commands share: where the store and the audit database are."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from sidecar.settings import Settings


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="the store folder (default: PVA_STORE, else var/projects)")
    parser.add_argument("--db", help="the audit database URL (default: PVA_DATABASE_URL, else var/pva.db)")


def add_actor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor", default=None, help="who is acting, for the audit (default: your user name)"
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment (and PVA_SETTINGS_FILE), overridden by --store and --db."""
    overrides: dict[str, Any] = {}
    if args.store:
        overrides["store"] = args.store
    if args.db:
        overrides["database_url"] = args.db
    return Settings.load(**overrides)


def actor_from(args: argparse.Namespace) -> str:
    return str(args.actor or getpass.getuser())
