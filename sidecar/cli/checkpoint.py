"""``pva audit key|checkpoint``, ``pva audit verify --checkpoint``: signed heads of the audit's tree.

``key`` prints the verifier key of ``PVA_CHECKPOINT_KEY`` (what to give
whoever checks), ``key --new`` a new signer key for that setting.
``checkpoint`` signs the tree's current head and writes it into
``PVA_CHECKPOINT_DIR`` (or ``--dir``), printing its path. ``verify
--checkpoint FILE`` checks the checkpoint's signature, the chain, then that
the database's tree extends the checkpoint's (a consistency proof). Exit
codes as ``pva audit``: 1 when a checkpoint is refused or not consistent.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import datetime
from typing import Any

from planner.cli.shell import EXIT_DIAGNOSTICS, EXIT_OK, UsageError, read_input
from planner.cli.text import terminal
from sidecar import db
from sidecar.audit import checkpoints, timestamps
from sidecar.audit.chain import iso
from sidecar.audit.checkpoints import Checkpoint, Signer, Verifier
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.tree import Consistency, SqlAuditTree, TreeHead
from sidecar.cli import audit_views
from sidecar.cli.db import database
from sidecar.settings import Settings
from sidecar.stores import checkpoint_destination

NO_KEY = "PVA_CHECKPOINT_KEY is not set: make one with 'pva audit key --new --name NAME' (docs/operations.md)"


def add_actions(actions: Any, action: Any) -> None:
    """Add ``key`` and ``checkpoint`` to ``pva audit``; ``action`` makes a parser with --db and --json."""
    key = actions.add_parser("key", help="print the checkpoint verifier key, or make a new signer key")
    key.add_argument("--new", action="store_true", help="print a new signer key for PVA_CHECKPOINT_KEY")
    key.add_argument("--name", help="the new key's name (default: $PVA_CHECKPOINT_ORIGIN)")
    key.set_defaults(run=run_key)
    signing = action(
        actions, "checkpoint", "sign the audit's tree head and publish it to a folder", run_checkpoint
    )
    signing.add_argument("--dir", metavar="FOLDER", help="publish here (default: $PVA_CHECKPOINT_DIR)")


def add_verify_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint", metavar="FILE", help="also check the database extends this checkpoint"
    )
    parser.add_argument(
        "--key",
        metavar="VERIFIER",
        help="the checkpoint's verifier key (default: that of PVA_CHECKPOINT_KEY)",
    )
    parser.add_argument(
        "--timestamp", metavar="TSR", help="also check this RFC 3161 timestamp of the checkpoint"
    )
    parser.add_argument(
        "--tsa-roots", metavar="PEM", help="the TSA's root certificates (default: $PVA_TSA_ROOTS)"
    )


def run_key(args: argparse.Namespace) -> int:
    settings = Settings.load()
    if args.new:
        name = args.name or settings.checkpoint_origin
        if not name:
            raise UsageError(
                "name the key: --name NAME (e.g. firm.example/pva-audit) or PVA_CHECKPOINT_ORIGIN"
            )
        print(checkpoints.new_signer_key(name))
        print(
            "keep it secret: set it as PVA_CHECKPOINT_KEY; 'pva audit key' prints its verifier",
            file=sys.stderr,
        )
        return EXIT_OK
    print(_signer(settings).verifier)
    return EXIT_OK


def run_checkpoint(args: argparse.Namespace) -> int:
    settings = Settings.load()
    signer = _signer(settings)
    folder = args.dir or settings.checkpoint_dir
    if not folder:
        raise UsageError("no folder to publish to: set PVA_CHECKPOINT_DIR or give --dir")
    with db.opened(SqlAuditTree, database(args)) as tree:
        head = tree.head()
    checkpoint = Checkpoint(settings.checkpoint_origin or signer.name, head.size, head.root)
    note = checkpoints.sign(checkpoint, signer)
    where = checkpoint_destination(folder)
    path = checkpoints.publish(note, checkpoint, where)
    body = {"version": "audit-checkpoint/v1", "path": str(path), **checkpoint.to_json()}
    if settings.tsa_url:  # TimestampError: exit 1, the checkpoint already published
        reply = timestamps.stamp(settings.tsa_url, note.encode("utf-8"))
        body["timestamp"] = str(checkpoints.publish_timestamp(reply, checkpoint, where))
    shown = "\n".join(str(p) for p in (body["path"], body.get("timestamp")) if p)
    print(json.dumps(body, indent=2) if args.json else terminal(shown))
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    """``pva audit verify --checkpoint FILE``: the signature, the chain, then consistency."""
    verifier = _verifier(args)
    raw = read_input(args.checkpoint, limit=checkpoints.MAX_NOTE_BYTES)
    signed = checkpoints.open_checkpoint(raw.decode("utf-8", errors="replace"), verifier)  # refused: exit 1
    stamped = None if args.timestamp is None else _stamped(args, raw)  # TimestampError: exit 1
    url = database(args)
    with db.opened(SqlAuditStore, url) as store:
        report = store.check_chain()
    found = None
    if report.broken is None:
        with db.opened(SqlAuditTree, url) as tree:
            found = tree.consistency(TreeHead(signed.size, signed.root))
    if args.json:
        body = {
            "version": "audit-checkpoint-check/v1",
            "chain": report.to_json(),
            "checkpoint": signed.to_json(),
            "timestamped": None if stamped is None else iso(stamped),
        }
        print(json.dumps(body | _consistency_json(found), indent=2, ensure_ascii=False))
    else:
        when = "" if stamped is None else f"\nthe checkpoint existed by {iso(stamped)} (RFC 3161 timestamp)"
        print(
            terminal(
                audit_views.chain(report) + ("" if found is None else "\n" + _consistency_text(found)) + when
            )
        )
    return EXIT_OK if found is not None and found.problem is None else EXIT_DIAGNOSTICS


def _stamped(args: argparse.Namespace, note: bytes) -> datetime:
    """The time the timestamp given states for the checkpoint, checked against the TSA's roots."""
    roots = args.tsa_roots or Settings.load().tsa_roots
    if not roots:
        raise UsageError("checking a timestamp needs the TSA's root certificates: --tsa-roots PEM")
    reply = read_input(args.timestamp, limit=timestamps.MAX_REPLY)
    return timestamps.check(reply, note, timestamps.load_roots(read_input(roots, limit=1024 * 1024)))


def _signer(settings: Settings) -> Signer:
    if settings.checkpoint_key is None:
        raise UsageError(NO_KEY)
    try:
        return checkpoints.parse_signer(settings.checkpoint_key.get_secret_value())
    except checkpoints.BadKey as bad:
        raise checkpoints.BadKey(f"PVA_CHECKPOINT_KEY: {bad}") from None


def _verifier(args: argparse.Namespace) -> Verifier:
    if args.key is not None:
        return checkpoints.parse_verifier(args.key)
    return _signer(Settings.load()).verifier


def _consistency_json(found: Consistency | None) -> dict[str, Any]:
    if found is None:
        return {"consistent": None, "problem": "the chain is broken"}
    return {
        "consistent": found.problem is None,
        "problem": found.problem,
        "tree": {"size": found.new.size, "root": _b64(found.new.root)},
        "proof": [_b64(node) for node in found.proof],
    }


def _consistency_text(found: Consistency) -> str:
    old = f"the checkpoint of {found.old.size} events"
    if found.problem is None:
        return (
            f"{old} is consistent with the database's {found.new.size} events (root {_b64(found.new.root)})"
        )
    return f"{old} is not consistent with the database: {found.problem}"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
