"""``pva audit list|show|history|verify|export|key|checkpoint``: read and check the audit database.

Exit codes: 0 success; 1 ``verify`` found the audit broken; 2 misuse, an
unknown plan, or a database that is not migrated; 3 a database that fails. Each
command has a human view and, with ``--json``, a versioned JSON view.

With a server (``--server`` or ``PVA_URL``), ``list`` (then the audit's
events) and ``history`` ask the sidecar instead (``planner.cli.remote``).
Signed checkpoints (``key``, ``checkpoint``, ``verify --checkpoint``) are in
``sidecar.cli.checkpoint``.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import AbstractContextManager
from typing import Any

from planner.cli import remote
from planner.cli.shell import EXIT_DIAGNOSTICS, EXIT_OK, UsageError, add_server_options
from planner.cli.text import terminal
from planner.core.paths import read_path_problem
from sidecar import db
from sidecar.audit.export import FORMATS
from sidecar.audit.store import SqlAuditStore
from sidecar.cli import audit_views as views
from sidecar.cli import checkpoint
from sidecar.cli.db import add_db_option, database


def register(commands: Any) -> None:
    parser = commands.add_parser("audit", help="query and verify the audit database", description=__doc__)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = _action(actions, "list", "list recorded plans (with a server: audit events)", run_list)
    listing.add_argument("--status", help="only plans in this state (pending, applied, failed, stale, ...)")
    listing.add_argument("--author", help="only plans submitted by this author")
    listing.add_argument("--path", help="only plans whose scope holds this path or lies inside it")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    remote.add_event_filters(listing)
    add_server_options(listing)
    show = _action(actions, "show", "a plan, its events and its approvals", run_show)
    show.add_argument("digest", help="the plan's digest")
    history = _action(actions, "history", "a document's chain of custody, following moves", run_history)
    history.add_argument("path", help="the document's path, as it is now or as it was")
    add_server_options(history)
    verify = _action(actions, "verify", "check the hash chain and every row derived from it", run_verify)
    checkpoint.add_verify_options(verify)
    export = _action(actions, "export", "write every event, for archiving or offline checks", run_export)
    export.add_argument("--format", choices=FORMATS, default="jsonl", help="jsonl (default) or csv")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    checkpoint.add_actions(actions, _action)


def _action(actions: Any, name: str, summary: str, run: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=summary, description=summary)
    add_db_option(parser)
    if name != "export":
        parser.add_argument("--json", action="store_true", help="print the versioned JSON view")
    parser.set_defaults(run=run)
    return parser


def opened(args: argparse.Namespace) -> AbstractContextManager[SqlAuditStore]:
    """The audit store named by ``--db`` (or the settings)."""
    return db.opened(SqlAuditStore, database(args))


def _emit(args: argparse.Namespace, body: dict[str, Any], human: str) -> None:
    print(json.dumps(body, indent=2, ensure_ascii=False) if args.json else terminal(human))


def _checked_path(path: str) -> str:
    problem = read_path_problem(path)
    if problem is not None:
        raise UsageError(problem)
    return path


def run_list(args: argparse.Namespace) -> int:
    if remote.server_given(args):
        return remote.run_events(args)
    remote.refuse_remote(args, plan="--plan", actor="--actor", since="--since", until="--until")
    path = None if args.path is None else _checked_path(args.path)
    with opened(args) as store:
        plans = store.list_plans(status=args.status, author=args.author, path=path, limit=args.limit)
    _emit(args, {"version": "audit-plans/v1", "plans": [p.to_json() for p in plans]}, views.plans(plans))
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    with opened(args) as store:
        detail = store.show(store.resolve(args.digest))
    _emit(args, detail.to_json(), views.plan(detail))
    return EXIT_OK


def run_history(args: argparse.Namespace) -> int:
    if remote.server_given(args):
        return remote.run_history(args)
    with opened(args) as store:
        found = store.history(_checked_path(args.path))
    _emit(args, found.to_json(), views.history(found))
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    if args.checkpoint is not None:
        return checkpoint.run_verify(args)
    with opened(args) as store:
        report = store.check_chain()
    _emit(args, report.to_json(), views.chain(report))
    return EXIT_OK if report.broken is None else EXIT_DIAGNOSTICS


def run_export(args: argparse.Namespace) -> int:
    with opened(args) as store:
        if args.output is None:
            count = store.export(sys.stdout, fmt=args.format)
        else:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = store.export(out, fmt=args.format)
    if args.output is not None:
        print(f"exported {count} events to {args.output}", file=sys.stderr)
    return EXIT_OK
