"""The event chain: canonical encodings, event hashes, and finding the first broken link. Pure.

hash(event) = sha256 of the canonical JSON array
``[seq, time, kind, digest, actor, payload, prev_hash]`` (time as ISO 8601
UTC with microseconds, payload as its canonical JSON text); the first event's
``prev_hash`` is 64 zeros. So each event commits to every event before it:
editing, removing or reordering a row breaks a link that ``first_break``
finds and names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, non-ASCII kept as UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def iso(time: datetime) -> str:
    """A time as hashed and exported: ISO 8601 in UTC with microseconds, e.g. 2026-01-02T03:04:05.000006Z.

    Not ``strftime("%Y...")``: the C library writes year 1 as "1", which
    ``parse_iso`` refuses; ``isoformat`` writes every year with four digits.
    """
    return time.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Link:
    """An event as stored: the hashed fields, and the hash."""

    seq: int
    time: datetime
    kind: str
    digest: str | None
    actor: str
    payload: str  # canonical JSON text
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        """The hash these fields should have."""
        return event_hash(
            seq=self.seq,
            time=self.time,
            kind=self.kind,
            digest=self.digest,
            actor=self.actor,
            payload=self.payload,
            prev_hash=self.prev_hash,
        )


def event_hash(
    *, seq: int, time: datetime, kind: str, digest: str | None, actor: str, payload: str, prev_hash: str
) -> str:
    """sha256 over the canonical JSON array of the hashed fields (``payload`` as its JSON text)."""
    material = canonical([seq, iso(time), kind, digest, actor, payload, prev_hash])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def make_link(
    *, seq: int, time: datetime, kind: str, digest: str | None, actor: str, payload: dict[str, Any], prev: str
) -> Link:
    """The next link of the chain, its payload encoded canonically and its hash computed."""
    unhashed = Link(seq, time, kind, digest, actor, canonical(payload), prev, "")
    return replace(unhashed, hash=unhashed.computed_hash())


@dataclass(frozen=True, slots=True)
class Break:
    """The first place where the audit does not hold: the seq, and what is wrong there.

    ``seq`` is None for a projected row that no event accounts for.
    """

    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = "audit" if self.seq is None else f"seq {self.seq}"
        return f"{where}: {self.problem}"


LinkOfHash = Callable[[str], "Link | None"]
REORDER_DEPTH = 8  # how far back to look for a row's original place


def first_break(links: Iterable[Link], link_of_hash: LinkOfHash) -> Break | None:
    """The first broken link of a chain given in ``seq`` order, or None when it is intact.

    ``link_of_hash`` finds the event whose stored hash is the given one; it is
    only asked when a row is already broken, to tell a reordered row from an
    edited one.
    """
    expected_seq, expected_prev = 1, GENESIS
    for link, following in pairs(links):
        problem = link_problem(link, following, expected_seq, expected_prev, link_of_hash)
        if problem is not None:
            return problem
        expected_seq, expected_prev = link.seq + 1, link.hash
    return None


def link_problem(
    link: Link,
    following: Link | None,
    expected_seq: int,
    expected_prev: str,
    link_of_hash: LinkOfHash,
) -> Break | None:
    """What is wrong with one link, knowing the one before (expected values) and the one after."""
    if link.seq != expected_seq:
        missing = (
            f"seq {expected_seq}" if link.seq == expected_seq + 1 else f"seqs {expected_seq}-{link.seq - 1}"
        )
        return Break(expected_seq, f"missing row: {missing} absent, the chain jumps to seq {link.seq}")
    computed = link.computed_hash()
    if computed != link.hash:
        return Break(link.seq, _mismatch(link, following, computed, link_of_hash))
    if link.prev_hash != expected_prev:
        return Break(
            link.seq,
            f"broken link: prev_hash is not the hash of seq {link.seq - 1} "
            "(one of the two rows was rewritten with a recomputed hash)",
        )
    if not _canonical_payload(link.payload):
        return Break(link.seq, "payload is not canonical JSON")
    return None


def _mismatch(link: Link, following: Link | None, computed: str, link_of_hash: LinkOfHash) -> str:
    written = _original_seq(link, link_of_hash, REORDER_DEPTH)
    if written is not None and written != link.seq:
        return f"reordered rows: the row at seq {link.seq} was written as seq {written}"
    if following is not None and following.prev_hash == computed:
        return "hash edited: the stored hash is not the row's hash, which the next row still links to"
    return "edited row: its content does not match its hash"


def _original_seq(link: Link, link_of_hash: LinkOfHash, depth: int) -> int | None:
    """The seq a row was written with, if its content is intact: one after its predecessor's."""
    if link.computed_hash() == link.hash:
        return link.seq
    if link.prev_hash == GENESIS:
        before: int | None = 0
    else:
        previous = link_of_hash(link.prev_hash)
        before = None if previous is None or depth == 0 else _original_seq(previous, link_of_hash, depth - 1)
    if before is None or replace(link, seq=before + 1).computed_hash() != link.hash:
        return None
    return before + 1


def _canonical_payload(text: str) -> bool:
    try:
        return canonical(json.loads(text)) == text
    except ValueError:
        return False


def pairs(links: Iterable[Link]) -> Iterator[tuple[Link, Link | None]]:
    """Each link with the one after it (None for the last): a look-ahead of one."""
    iterator = iter(links)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following
