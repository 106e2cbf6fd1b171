"""Golden payloads of 'outside_change' events: their canonical JSON and chain hash, pinned.

These bytes are hashed into the chain: if ``encode`` changes them, audits that
recorded outside changes before no longer verify.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from planner.core.entry import Entry
from sidecar.audit.chain import GENESIS, canonical, make_link
from sidecar.audit.payloads import OutsideChange, decode, encode, kind_of, status_of

T = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
EDITED = (
    '{"after":{"generation":8,"kind":"file","mtime":2.5,"path":"m/Zoë.pdf","sha256":"'
    + "2" * 64
    + '","size":5},"before":{"generation":7,"kind":"file","mtime":1.5,"path":"m/Zoë.pdf","sha256":"'
    + "1" * 64
    + '","size":3},"change":"edited","noticed":"2026-01-02T03:04:05.000006Z","path":"m/Zoë.pdf","store":"gs://b"}'
)
EDITED_HASH = "2a97529dc01ba0912591473468c00b8e2a2ec309d9cc832c7e43fbf99a9cc710"
MOVED = (
    '{"after":{"kind":"file","path":"m/b.pdf","sha256":"'
    + "1" * 64
    + '","size":3},"before":{"kind":"file","path":"m/a.pdf","sha256":"'
    + "1" * 64
    + '","size":3},"change":"moved","noticed":"2026-01-02T03:04:05.000006Z","path":"m/b.pdf",'
    '"src":"m/a.pdf","store":"local:/srv"}'
)
MOVED_HASH = "1e0b27b4c5577d40592b2c60a019fdb52d30d9a6380bd345de5ee0626cf67555"


def chain_hash(payload: dict[str, object]) -> str:
    """The hash of the first event of a chain carrying ``payload``, as the watch records it."""
    return make_link(
        seq=1, time=T, kind="outside_change", digest=None, actor="pva", payload=payload, prev=GENESIS
    ).hash


def test_an_edit_outside_pva_is_pinned() -> None:
    """An 'edited' outside change: both entries with generations and mtimes, no src."""
    typed = OutsideChange(
        "edited",
        "m/Zoë.pdf",
        None,
        Entry("m/Zoë.pdf", "file", 3, "1" * 64, 7, 1.5),
        Entry("m/Zoë.pdf", "file", 5, "2" * 64, 8, 2.5),
        T,
        "gs://b",
    )
    payload = encode(typed)
    assert decode("outside_change", payload) == typed
    assert (kind_of(typed), status_of(typed)) == ("outside_change", None)
    assert canonical(payload) == EDITED
    assert chain_hash(payload) == EDITED_HASH


def test_a_move_outside_pva_is_pinned() -> None:
    """A 'moved' outside change names its source; unknown fields (generation, mtime) are left out."""
    typed = OutsideChange(
        "moved",
        "m/b.pdf",
        "m/a.pdf",
        Entry("m/a.pdf", "file", 3, "1" * 64),
        Entry("m/b.pdf", "file", 3, "1" * 64),
        T,
        "local:/srv",
    )
    payload = encode(typed)
    assert decode("outside_change", payload) == typed
    assert typed.paths == ("m/a.pdf", "m/b.pdf")
    assert canonical(payload) == MOVED
    assert chain_hash(payload) == MOVED_HASH


def test_an_outside_change_pva_never_writes_is_refused() -> None:
    """A payload naming a change pva does not record does not decode (verify calls it malformed)."""
    body = {"change": "renamed", "path": "a", "before": None, "after": None}
    body |= {"noticed": "2026-01-02T03:04:05.000006Z", "store": "s"}
    with pytest.raises(ValueError, match="renamed"):
        decode("outside_change", body)
