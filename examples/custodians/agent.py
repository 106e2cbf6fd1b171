"""A rule-based agent (no LLM): organise a matter's discovery inbox by custodian, as a pva plan.

It reads a manifest of the matter (and, for e-mails, the first lines of each
file in the read-only copy), decides each document's custodian from the sender's
address in its ``From:`` header or, failing that, from a ``custodian--name`` file name, and
writes a plan that makes one folder per custodian, moves each document there
(pinned by its sha256, with the reason) and writes an index. It verifies the
plan locally before writing it. It never changes a file: only a plan.

    python agent.py --manifest M --root COPY --subtree matters/acme --out plan.json

In a RunLoop devbox (``pva runloop run``) the defaults come from the
environment: PVA_MANIFEST, PVA_STORE_COPY, PVA_SUBTREE and PVA_PLAN.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
from collections.abc import Callable, Iterable
from email.utils import parseaddr
from pathlib import Path

from planner import Entry, Plan, PlanBuilder, verify
from planner.core.manifest import read_entries, read_manifest

INBOX = "discovery/inbox"
SORTED = "discovery/custodians"
HEAD_BYTES = 8192
TEXT_KINDS = (".eml", ".txt", ".msg")
NAMED = re.compile(r"(?P<who>[a-z][a-z.]*)--.+")


def custodian_of(name: str, head: bytes | None) -> tuple[str, str] | None:
    """(custodian's folder name, reason) for one document, or None when no rule applies."""
    if head is not None:
        for line in head.decode("utf-8", "replace").splitlines():
            if not line.strip():
                break  # the end of the headers
            if line.lower().startswith("from:"):
                person, address = parseaddr(line[5:].strip())
                who = address.split("@")[0] or person  # the address names one person; display names vary
                if who:
                    return slug(who), f"From: header names {line[5:].strip()}"
    named = NAMED.fullmatch(name)
    if named is not None:
        return slug(named["who"]), f"file name starts with custodian '{named['who']}'"
    return None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def organise(entries: Iterable[Entry], subtree: str, read_head: Callable[[str], bytes | None]) -> Plan | None:
    """The plan for ``subtree``'s inbox; None when there is nothing to file."""
    inbox, target = f"{subtree}/{INBOX}", f"{subtree}/{SORTED}"
    documents = sorted(
        (e for e in entries if e.kind == "file" and e.path.rsplit("/", 1)[0] == inbox), key=lambda e: e.path
    )
    filed: list[tuple[Entry, str, str]] = []
    for entry in documents:
        name = entry.path.rsplit("/", 1)[1]
        head = read_head(entry.path) if name.lower().endswith(TEXT_KINDS) else None
        found = custodian_of(name, head)
        if found is not None:
            filed.append((entry, *found))
    if not filed:
        return None
    plan = PlanBuilder("Organise discovery by custodian", scope=[f"{subtree}/discovery"])
    for custodian in sorted({custodian for _, custodian, _ in filed}):
        plan.mkdir(f"{target}/{custodian}", parents=True, reason=f"one folder per custodian: {custodian}")
    index = io.StringIO()
    rows = csv.writer(index, lineterminator="\n")
    rows.writerow(["document", "custodian", "filed_from", "sha256"])
    for entry, custodian, reason in filed:
        name = entry.path.rsplit("/", 1)[1]
        plan.move(entry.path, f"{target}/{custodian}/{name}", expect=entry, reason=reason)
        rows.writerow([f"{custodian}/{name}", custodian, entry.path, entry.sha256 or ""])
    plan.write(f"{target}/index.csv", index.getvalue(), expect={"absent": True}, reason="index of the filing")
    return plan.build()


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=env("PVA_MANIFEST"), help="the matter's manifest")
    parser.add_argument(
        "--root", type=Path, default=env("PVA_STORE_COPY"), help="read-only copy of the store"
    )
    parser.add_argument("--subtree", default=env("PVA_SUBTREE"), help="the matter, e.g. matters/acme")
    parser.add_argument(
        "--out", type=Path, default=Path(env("PVA_PLAN") or "plan.json"), help="the plan file"
    )
    args = parser.parse_args(argv)
    if args.manifest is None or args.subtree is None:
        parser.error("give --manifest and --subtree (or PVA_MANIFEST and PVA_SUBTREE)")
    with args.manifest.open(encoding="utf-8") as lines:
        entries = list(read_entries(lines))
    plan = organise(entries, args.subtree.strip("/"), lambda path: _head(args.root, path))
    if plan is None:
        sys.stderr.write("nothing to file\n")
        return 0
    with args.manifest.open(encoding="utf-8") as lines:
        report = verify(plan, read_manifest(lines))
    for diagnostic in report.diagnostics:
        sys.stderr.write(f"{diagnostic}\n")
    if not report.ok:
        sys.stderr.write("the plan does not verify; not written\n")
        return 1
    args.out.write_text(plan.to_json() + "\n", encoding="utf-8")
    sys.stderr.write(f"wrote {args.out}: {len(plan.ops)} ops, digest {plan.digest()}\n")
    return 0


def _head(root: Path | None, path: str) -> bytes | None:
    if root is None:
        return None
    try:
        with (root / path).open("rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
