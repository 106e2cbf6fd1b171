"""``pva webhook add|list|remove|deliveries``: the URLs told of plan events, straight in the database.

No running server is needed (a running ``pva serve`` sends). ``add`` prints
the signing secret once: alone on standard output (``SECRET=$(pva webhook
add ...)``), what the webhook hears on standard error; with ``--json``, both
in one document. Exit codes: 0 success; 2 misuse, a refused URL, event or
scope, an unknown webhook, or a database that is not migrated; 3 a database
that fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import AbstractContextManager
from typing import Any

from planner.cli.shell import EXIT_OK
from planner.cli.text import terminal
from sidecar import db
from sidecar.cli.db import add_db_option, database
from sidecar.cli.options import actor_from, add_actor_option
from sidecar.notify.notices import KINDS
from sidecar.notify.outbox import Delivery, SqlOutbox, Webhook


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "webhook", help="add, list and remove webhooks; see their deliveries", description=__doc__
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = _action(actions, "add", "add a webhook and print its signing secret, once", run_add)
    add.add_argument("url", metavar="URL", help="where to POST each event (https:// in production)")
    add.add_argument(
        "--events",
        action="append",
        default=[],
        metavar="EVENT[,EVENT...]",
        help=f"the events it hears (repeatable; default: all): {', '.join(KINDS)}",
    )
    add.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="PATH",
        help="hear only of plans inside this subtree (repeatable; default: the whole store)",
    )
    add.add_argument(
        "--format",
        choices=["json", "slack"],
        default="json",
        help="json: the signed event document (default); slack: a Slack-compatible {'text': ...}",
    )
    add_actor_option(add)
    _action(actions, "list", "the webhooks (never a secret): URL, events, scopes", run_list)
    remove = _action(actions, "remove", "remove a webhook: it hears nothing more", run_remove)
    remove.add_argument("webhook", metavar="ID", help="the webhook's id (whk_...)")
    deliveries = _action(
        actions, "deliveries", "deliveries, newest first: tries and failures", run_deliveries
    )
    deliveries.add_argument("--webhook", metavar="ID", help="only this webhook's (or an e-mail address's)")
    deliveries.add_argument("--status", choices=["pending", "delivered", "failed"], help="only these")
    deliveries.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")


def _action(actions: Any, name: str, summary: str, run: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=summary, description=summary)
    add_db_option(parser)
    parser.add_argument("--json", action="store_true", help="print the versioned JSON view")
    parser.set_defaults(run=run)
    return parser


def opened(args: argparse.Namespace) -> AbstractContextManager[SqlOutbox]:
    """The outbox named by ``--db`` (or the settings)."""
    return db.opened(SqlOutbox, database(args))


def run_add(args: argparse.Namespace) -> int:
    events = [event.strip() for given in args.events for event in given.split(",") if event.strip()]
    with opened(args) as outbox:
        hook, secret = outbox.add_webhook(
            args.url, events=events, scopes=args.scope, format=args.format, created_by=actor_from(args)
        )
    if args.json:
        print(
            json.dumps({"version": "webhook-added/v1", "webhook": hook.to_json(), "secret": secret}, indent=2)
        )
        return EXIT_OK
    print(secret)
    print(terminal(f"added {_describe(hook)}"), file=sys.stderr)
    print(
        "the secret above is shown this once: receivers check each delivery's signature with it",
        file=sys.stderr,
    )
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    with opened(args) as outbox:
        hooks = outbox.webhooks()
    if args.json:
        print(json.dumps({"version": "webhooks/v1", "webhooks": [h.to_json() for h in hooks]}, indent=2))
    else:
        print(terminal("\n".join(_describe(hook) for hook in hooks) or "no webhooks"))
    return EXIT_OK


def run_remove(args: argparse.Namespace) -> int:
    with opened(args) as outbox:
        hook = outbox.remove_webhook(args.webhook)
    if args.json:
        print(json.dumps({"version": "webhook/v1", "webhook": hook.to_json()}, indent=2))
    else:
        print(terminal(f"removed {_describe(hook)}"))
    return EXIT_OK


def run_deliveries(args: argparse.Namespace) -> int:
    with opened(args) as outbox:
        found = outbox.deliveries(target=args.webhook, status=args.status, limit=args.limit)
    if args.json:
        print(json.dumps({"version": "deliveries/v1", "deliveries": [d.to_json() for d in found]}, indent=2))
    else:
        print(terminal(_table(found)))
    return EXIT_OK


def _describe(hook: Webhook) -> str:
    events = "every event" if len(hook.events) == len(KINDS) else ", ".join(hook.events)
    return f"webhook {hook.id} {hook.url} ({hook.format}): {events} on {', '.join(hook.scopes)}"


def _table(deliveries: list[Delivery]) -> str:
    if not deliveries:
        return "no deliveries"
    lines = [f"{'id':20}  {'event':22}  {'plan':12}  {'target':16}  {'status':9}  tries  last"]
    for d in deliveries:
        last = d.last_error or ("" if d.last_status is None else f"HTTP {d.last_status}")
        if d.status == "pending" and d.attempts:
            last += f"; next try {d.next_at.isoformat()[:19]}Z"
        lines.append(
            f"{d.id:20}  {d.event:22}  {d.digest[:12]:12}  {d.target[:16]:16}  {d.status:9}  "
            f"{d.attempts:5}  {last}"
        )
    return "\n".join(lines)
