"""``pva hold place|release|list``: legal holds on the sidecar (over HTTP).

Counsel and admins place and release holds; every token lists the holds in
its scope (those reaching in from outside it redacted). ``pva hold list
--json`` writes the file ``pva verify --holds`` reads. Exit 0 when done, 2
when the sidecar refused (role, scope, nothing at a path).
"""

from __future__ import annotations

import argparse
from typing import Any

from planner.cli.remote import add_json_option, calling, connect, emit
from planner.cli.shell import EXIT_OK, add_server_options
from planner.client.models import HoldOut


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "hold",
        help="place, release and list legal holds on the sidecar (over HTTP)",
        description="Exit 0 when done, 2 when the sidecar refused (role, scope, nothing at a path).",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    place = actions.add_parser("place", help="hold files or folders: nothing under them moves or goes")
    place.add_argument("paths", nargs="+", metavar="PATH", help="store paths to preserve")
    place.add_argument("--matter", required=True, help="the matter the hold is for (audited)")
    place.add_argument("--reason", required=True, help="why (audited)")
    place.set_defaults(run=run_place)
    release = actions.add_parser("release", help="release a hold")
    release.add_argument("id", help="the hold's id (hold_ and 12 hex digits)")
    release.add_argument("--reason", required=True, help="why it ends (audited)")
    release.set_defaults(run=run_release)
    listing = actions.add_parser("list", help="the holds in your scope, oldest first")
    listing.add_argument("--released", action="store_true", help="also list released holds")
    listing.set_defaults(run=run_list)
    for action in (place, release, listing):
        add_json_option(action)
        add_server_options(action)


@calling
def run_place(args: argparse.Namespace) -> int:
    with connect(args) as client:
        hold = client.place_hold(args.paths, matter=args.matter, reason=args.reason)
    emit(args, hold.model_dump(mode="json"), f"placed {hold_line(hold)}")
    return EXIT_OK


@calling
def run_release(args: argparse.Namespace) -> int:
    with connect(args) as client:
        hold = client.release_hold(args.id, reason=args.reason)
    emit(args, hold.model_dump(mode="json"), f"released {hold_line(hold)}")
    return EXIT_OK


@calling
def run_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found = client.holds(released=args.released)
    human = "\n".join(hold_line(hold) for hold in found) if found else "no holds"
    emit(args, {"holds": [hold.model_dump(mode="json") for hold in found]}, human)
    return EXIT_OK


def hold_line(hold: HoldOut) -> str:
    """One hold in a line: id, status, matter (or 'redacted'), paths."""
    matter = "(redacted: outside your scope)" if hold.redacted else repr(hold.matter)
    return f"{hold.id} {hold.status} {matter}: {', '.join(hold.paths)}"
