"""The audit's Merkle tree, read from the database: its head and consistency proofs.

Leaf i is the event of seq i + 1, and its data is that event's chain hash (the
32 bytes its hex names), so the tree needs no column of its own. Nothing is
cached: a head streams every event (a keyset page at a time, memory flat), a
consistency proof streams each range it needs once more; both cost a read of
the whole table, linear in the events (docs/operations.md, checkpoints).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sidecar import db
from sidecar.audit import merkle
from sidecar.audit.tables import EventRow
from sidecar.errors import DamagedRow

PAGE = 1000  # events per round trip


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A tree's size (leaves, events) and its RFC 6962 root hash."""

    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class Consistency:
    """How the database's tree stands to an older head: ``problem`` is None when it extends it."""

    old: TreeHead
    new: TreeHead
    proof: list[bytes]
    problem: str | None


class SqlAuditTree(db.SqlStore):
    """The Merkle tree over the audit's events, for signing checkpoints and checking old ones."""

    def size(self) -> int:
        """How many events the tree holds now (one cheap query)."""
        with self._sessions() as session:
            return _size(session)

    def head(self) -> TreeHead:
        """The size and root of the tree of every event now recorded."""
        with self._sessions() as session:
            size = _size(session)
            return TreeHead(size, _range_root(session, 0, size))

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        """The proof that the event of ``seq`` is leaf seq - 1 of the tree of the first ``size`` events.

        ValueError when the seq is not within those events, or when ``size``
        is larger than the tree now recorded.
        """
        with self._sessions() as session:
            if size > _size(session):
                raise ValueError(f"the audit holds fewer than {size} events")
            return merkle.inclusion_proof(seq - 1, size, lambda lo, hi: _range_root(session, lo, hi))

    def proofs(self, seqs: Iterable[int]) -> tuple[TreeHead, dict[int, list[bytes]]]:
        """The head now, and each event's inclusion proof in it: one read of the table for them all.

        The leaves are held in memory (32 bytes an event, twice over with
        the perfect subtrees cached), so k proofs cost O(n + k log n), not k reads.
        """
        with self._sessions() as session:
            size = _size(session)
            cached = Cached(list(_leaf_hashes(session, size)))
        head = TreeHead(size, cached.root(0, size) if size else merkle.EMPTY_ROOT)
        return head, {seq: merkle.inclusion_proof(seq - 1, size, cached.root) for seq in seqs}

    def consistency(self, old: TreeHead) -> Consistency:
        """Whether the tree now recorded extends ``old``, proven as a client would check it."""
        with self._sessions() as session:
            size = _size(session)
            new = TreeHead(size, _range_root(session, 0, size))
            if size < old.size:
                problem = (
                    f"the database holds {size} events, fewer than the {old.size} the checkpoint signed: "
                    "events were dropped"
                )
                return Consistency(old, new, [], problem)
            proof = merkle.consistency_proof(old.size, size, lambda lo, hi: _range_root(session, lo, hi))
        if merkle.verify_consistency(old.size, size, old.root, new.root, proof):
            return Consistency(old, new, proof, None)
        problem = (
            f"the database's first {old.size} events are not those the checkpoint signed: "
            "an event was edited, dropped or replaced since"
        )
        return Consistency(old, new, proof, problem)


class Cached:
    """MTH of any range of leaves held in memory, each perfect aligned subtree hashed once."""

    def __init__(self, hashed_leaves: list[bytes]) -> None:
        self.levels = [hashed_leaves]  # levels[i][j]: MTH of leaves j * 2**i to (j + 1) * 2**i - 1
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def root(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]), 0 <= lo < hi <= the leaves held."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = merkle.split(n)
        return merkle.node_hash(self.root(lo, lo + k), self.root(lo + k, hi))


def _leaf_hashes(session: Session, size: int) -> Iterator[bytes]:
    return (merkle.leaf_hash(data) for data in _leaf_data(session, 0, size))


def _size(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(EventRow.seq), 0))) or 0


def _range_root(session: Session, lo: int, hi: int) -> bytes:
    """MTH of leaves lo to hi - 1: the events of seq lo + 1 to hi."""
    frontier = merkle.Frontier()
    for data in _leaf_data(session, lo, hi):
        frontier.append(merkle.leaf_hash(data))
    return frontier.root()


def _leaf_data(session: Session, lo: int, hi: int) -> Iterator[bytes]:
    """The chain hash of each event of seq lo + 1 to hi, by keyset pages; DamagedRow at a gap or bad hash."""
    after = lo
    while after < hi:
        query = (
            select(EventRow.seq, EventRow.hash)
            .where(EventRow.seq > after, EventRow.seq <= hi)
            .order_by(EventRow.seq)
            .limit(PAGE)
        )
        rows = session.execute(query).all()
        if not rows:
            raise DamagedRow(after + 1, "missing row: the events end before the tree does")
        for seq, value in rows:
            after += 1
            if seq != after:
                raise DamagedRow(after, f"missing row: the chain jumps to seq {seq}")
            yield _hash_bytes(seq, value)


def _hash_bytes(seq: int, value: str) -> bytes:
    try:
        data = bytes.fromhex(value)
    except (TypeError, ValueError):
        data = b""
    if len(data) != merkle.HASH_SIZE:
        raise DamagedRow(seq, "events.hash is not a sha256 in hex")
    return data
