"""Exporting the chain: JSON lines (one event per line) or CSV (the payload as JSON text).

Both keep every hashed field as it was hashed, so an export can be checked
against the chain's hashes without the database.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import TextIO

from planner.core.manifest import unbroken
from sidecar.audit.chain import Link, iso

FIELDS = ("seq", "time", "kind", "digest", "actor", "payload", "prev_hash", "hash")
FORMATS = ("jsonl", "csv")


def write_jsonl(out: TextIO, links: Iterable[Link]) -> int:
    """One JSON object per event, the payload parsed, one line however split; return the count."""
    count = 0
    for link in links:
        body = _fields(link)
        body["payload"] = json.loads(link.payload)
        out.write(unbroken(json.dumps(body, ensure_ascii=False, separators=(",", ":"))))
        out.write("\n")
        count += 1
    return count


def write_csv(out: TextIO, links: Iterable[Link]) -> int:
    """A header and one row per event, the payload as its canonical JSON text; return the count."""
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for link in links:
        writer.writerow(_fields(link))
        count += 1
    return count


def _fields(link: Link) -> dict[str, object]:
    return {**asdict(link), "time": iso(link.time)}
