"""RFC 6962 Merkle trees: tree heads, inclusion and consistency proofs, and their verifiers. Pure.

Hashing is RFC 6962 section 2.1 (as RFC 9162 section 2.1.1 keeps it): a leaf
hashes as sha256(0x00 || data), an interior node as sha256(0x01 || left ||
right), and the empty tree as sha256(""). ``MTH`` splits n leaves at the
largest power of two below n. Proofs are built as RFC 6962's PATH and PROOF
define them and checked by the algorithms of RFC 9162 sections 2.1.3.2 and
2.1.4.2; a verifier answers True or False, it never raises on a bad proof.

Proof builders ask a ``SubtreeRoot`` for MTH(D[lo:hi]) of the ranges they
need; those ranges are disjoint, so a caller holding the leaves elsewhere (the
audit database) reads each leaf at most once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
SubtreeRoot = Callable[[int, int], bytes]  # (lo, hi) -> MTH(D[lo:hi]), 0 <= lo < hi


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf: sha256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: sha256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1): where MTH cuts a list of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """MTH of a stream of leaf hashes, in memory logarithmic in their count.

    Holds the roots of the perfect subtrees the leaves so far make, largest
    first (a compact range): appending merges equal sizes, as a binary counter.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (leaves under it, its hash), sizes decreasing

    def append(self, hashed_leaf: bytes) -> None:
        self.size += 1
        node = (1, hashed_leaf)
        while self._stack and self._stack[-1][0] == node[0]:
            size, left = self._stack.pop()
            node = (size * 2, node_hash(left, node[1]))
        self._stack.append(node)

    def root(self) -> bytes:
        """MTH of the leaves appended so far (the perfect subtrees folded right to left)."""
        if not self._stack:
            return EMPTY_ROOT
        result = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            result = node_hash(left, result)
        return result


def root(hashed_leaves: Iterable[bytes]) -> bytes:
    """MTH of the leaves, given as leaf hashes."""
    frontier = Frontier()
    for hashed in hashed_leaves:
        frontier.append(hashed)
    return frontier.root()


def subtrees(hashed_leaves: Sequence[bytes]) -> SubtreeRoot:
    """The SubtreeRoot of leaves held in memory."""
    return lambda lo, hi: root(hashed_leaves[lo:hi])


def inclusion_proof(index: int, size: int, subtree: SubtreeRoot) -> list[bytes]:
    """PATH(index, D[size]): the siblings from leaf ``index`` up to the root, lowest first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    return _path(index, 0, size, subtree)


def _path(index: int, lo: int, hi: int, subtree: SubtreeRoot) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = split(n)
    if index < k:
        return [*_path(index, lo, lo + k, subtree), subtree(lo + k, hi)]
    return [*_path(index - k, lo + k, hi, subtree), subtree(lo, lo + k)]


def consistency_proof(old_size: int, new_size: int, subtree: SubtreeRoot) -> list[bytes]:
    """PROOF(old_size, D[new_size]): what shows the first tree's leaves begin the second's."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} leaves to {new_size}")
    if old_size in (0, new_size):
        return []
    return _subproof(old_size, 0, new_size, whole=True, subtree=subtree)


def _subproof(m: int, lo: int, hi: int, *, whole: bool, subtree: SubtreeRoot) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [subtree(lo, hi)]
    k = split(n)
    if m <= k:
        return [*_subproof(m, lo, lo + k, whole=whole, subtree=subtree), subtree(lo + k, hi)]
    return [*_subproof(m - k, lo + k, hi, whole=False, subtree=subtree), subtree(lo, lo + k)]


def root_from_inclusion(index: int, size: int, hashed_leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (RFC 9162 2.1.3.2), or None when it cannot be one."""
    if not 0 <= index < size or not _sized(hashed_leaf, *proof):
        return None
    fn, sn, result = index, size - 1, hashed_leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


def verify_inclusion(index: int, size: int, hashed_leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows the leaf with this hash at ``index`` of the tree of ``size`` with ``root``."""
    return root_from_inclusion(index, size, hashed_leaf, proof) == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 2.1.4.2, with its trivial cases: equal sizes need equal roots and
    an empty proof; an empty old tree is a prefix of any tree.
    """
    if not 0 <= old_size <= new_size or not _sized(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first, second = node_hash(node, first), node_hash(node, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and first == old_root and second == new_root


def _sized(*hashes: bytes) -> bool:
    return all(len(value) == HASH_SIZE for value in hashes)
