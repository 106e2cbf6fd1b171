"""RFC 6962 trees, inclusion and consistency proofs: published reference vectors and properties.

The vectors are those of the Go reference implementation used by Certificate
Transparency and Trillian, github.com/transparency-dev/merkle: the eight leaf
inputs and the roots of trees of 0 to 8 leaves from testonly/constants.go, the
inclusion and consistency proofs from proof/verify_test.go (its leaf numbers
are 1-based there; 0-based here).
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

from sidecar.audit import merkle

LEAF_INPUTS = [
    bytes.fromhex(text)
    for text in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [  # by tree size, 0 to 8
    bytes.fromhex(text)
    for text in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
H = {  # the node hashes the proofs below are made of
    "leaf1": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "leaf0": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "leaf4": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "leaf6": "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "0-2": "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "2-4": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "4-6": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "6-8": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "0-4": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4-8": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}
INCLUSION = [  # (leaf index, tree size, proof)
    (0, 1, []),
    (0, 8, ["leaf1", "2-4", "4-8"]),
    (5, 8, ["leaf4", "6-8", "0-4"]),
    (2, 3, ["0-2"]),
    (1, 5, ["leaf0", "2-4", "leaf4"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["leaf1", "2-4", "4-8"]),
    (6, 8, ["4-6", "6-8", "0-4"]),
    (2, 5, ["2-4", "leaf4"]),
    (6, 7, ["4-6", "leaf6", "0-4"]),
]
HASHED = [merkle.leaf_hash(data) for data in LEAF_INPUTS]


def nodes(names: list[str]) -> list[bytes]:
    return [bytes.fromhex(H[name]) for name in names]


def flipped(value: bytes, position: int) -> bytes:
    return value[:position] + bytes([value[position] ^ 1]) + value[position + 1 :]


@pytest.mark.parametrize("size", range(9))
def test_tree_heads_match_the_reference(size: int) -> None:
    """MTH of the first n reference leaves is the published root, streamed or in one list."""
    assert merkle.root(HASHED[:size]) == ROOTS[size]
    frontier = merkle.Frontier()
    for hashed in HASHED[:size]:
        frontier.append(hashed)
    assert (frontier.size, frontier.root()) == (size, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, proof: list[str]) -> None:
    """PATH builds the published inclusion proofs, and each verifies against its root."""
    built = merkle.inclusion_proof(index, size, merkle.subtrees(HASHED[:size]))
    assert built == nodes(proof)
    assert merkle.verify_inclusion(index, size, HASHED[index], built, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, proof: list[str]) -> None:
    """PROOF builds the published consistency proofs, and each verifies between the two roots."""
    built = merkle.consistency_proof(old, new, merkle.subtrees(HASHED[:new]))
    assert built == nodes(proof)
    assert merkle.verify_consistency(old, new, ROOTS[old], ROOTS[new], built)


@pytest.mark.parametrize(("index", "size", "proof"), [case for case in INCLUSION if case[2]])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, proof: list[str]) -> None:
    """The reference's probes fail: wrong index, size, leaf or root; extra, missing or edited nodes."""
    good, leaf, top = nodes(proof), HASHED[index], ROOTS[size]
    probes = [
        (index + 1, size, leaf, good, top),
        (index ^ 2, size, leaf, good, top),
        (index, size * 2, leaf, good, top),
        (index, size // 2, leaf, good, top),
        (index, size, merkle.leaf_hash(b"WrongLeaf"), good, top),
        (index, size, leaf, good, merkle.EMPTY_ROOT),
        (index, size, leaf, [*good, b""], top),
        (index, size, leaf, [*good, top], top),
        (index, size, leaf, [top, *good], top),
        (index, size, leaf, good[:-1], top),
    ]
    probes += [
        (index, size, leaf, [*good[:i], flipped(good[i], 0), *good[i + 1 :]], top) for i in range(len(good))
    ]
    for probe in probes:
        assert not merkle.verify_inclusion(*probe), probe


@pytest.mark.parametrize(("old", "new", "proof"), [case for case in CONSISTENCY if case[2]])
def test_corrupted_consistency_proofs_fail(old: int, new: int, proof: list[str]) -> None:
    """The reference's probes fail: wrong sizes or roots; empty, extra, missing or edited nodes."""
    good, first, second = nodes(proof), ROOTS[old], ROOTS[new]
    probes = [
        (old - 1, new, first, second, good),
        (old + 1, new, first, second, good),
        (old ^ 2, new, first, second, good),
        (old, new * 2, first, second, good),
        (old, new // 2, first, second, good),
        (old, new, merkle.leaf_hash(b"WrongRoot"), second, good),
        (old, new, first, merkle.leaf_hash(b"WrongRoot"), good),
        (old, new, second, first, good),
        (old, new, first, second, []),
        (old, new, first, second, [*good, first]),
        (old, new, first, second, [*good, second]),
        (old, new, first, second, [first, *good]),
        (old, new, first, second, [good[0], *good]),
        (old, new, first, second, good[:-1]),
    ]
    probes += [
        (old, new, first, second, [*good[:i], flipped(good[i], 0), *good[i + 1 :]]) for i in range(len(good))
    ]
    for probe in probes:
        assert not merkle.verify_consistency(*probe), probe


def test_trivial_consistency_cases() -> None:
    """Equal sizes need equal roots and no proof; an empty tree is a prefix of any; no going back."""
    assert merkle.verify_consistency(0, 5, ROOTS[0], ROOTS[5], [])
    assert merkle.verify_consistency(3, 3, ROOTS[3], ROOTS[3], [])
    assert not merkle.verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])
    assert not merkle.verify_consistency(3, 3, ROOTS[3], ROOTS[3], [ROOTS[0]])
    assert not merkle.verify_consistency(0, 1, ROOTS[0], ROOTS[1], [ROOTS[0]])
    assert not merkle.verify_consistency(5, 3, ROOTS[5], ROOTS[3], [])


leaves = st.lists(st.binary(max_size=8), min_size=1, max_size=70).map(
    lambda data: [merkle.leaf_hash(d) for d in data]
)


@given(leaves, st.data())
def test_every_inclusion_proof_verifies_and_any_altered_byte_fails(
    hashed: list[bytes], data: st.DataObject
) -> None:
    """For a random tree and leaf the proof verifies; one byte changed in proof, leaf or root fails."""
    size = len(hashed)
    index = data.draw(st.integers(0, size - 1))
    top = merkle.root(hashed)
    proof = merkle.inclusion_proof(index, size, merkle.subtrees(hashed))
    assert merkle.verify_inclusion(index, size, hashed[index], proof, top)
    parts = [hashed[index], top, *proof]
    which = data.draw(st.integers(0, len(parts) - 1))
    parts[which] = flipped(parts[which], data.draw(st.integers(0, merkle.HASH_SIZE - 1)))
    assert not merkle.verify_inclusion(index, size, parts[0], parts[2:], parts[1])


@given(leaves, st.data())
def test_every_consistency_proof_verifies_and_any_altered_byte_fails(
    hashed: list[bytes], data: st.DataObject
) -> None:
    """For a random tree and prefix, the proof verifies; changing one byte of the proof or a root fails."""
    new = len(hashed)
    old = data.draw(st.integers(1, new))
    first, second = merkle.root(hashed[:old]), merkle.root(hashed)
    proof = merkle.consistency_proof(old, new, merkle.subtrees(hashed))
    assert merkle.verify_consistency(old, new, first, second, proof)
    parts = [first, second, *proof]
    which = data.draw(st.integers(0, len(parts) - 1))
    parts[which] = flipped(parts[which], data.draw(st.integers(0, merkle.HASH_SIZE - 1)))
    assert not merkle.verify_consistency(old, new, parts[0], parts[1], parts[2:])


@given(leaves, st.data())
def test_a_tree_with_an_edited_leaf_is_not_consistent(hashed: list[bytes], data: st.DataObject) -> None:
    """A later tree whose first leaves differ from the old tree's has no proof that verifies."""
    new = len(hashed)
    old = data.draw(st.integers(1, new))
    edited = list(hashed)
    position = data.draw(st.integers(0, old - 1))
    edited[position] = merkle.leaf_hash(b"edited" + edited[position])
    proof = merkle.consistency_proof(old, new, merkle.subtrees(edited))
    assert not merkle.verify_consistency(old, new, merkle.root(hashed[:old]), merkle.root(edited), proof)
