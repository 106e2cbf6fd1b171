"""The chain's encoding and link checks, pure (no database: nothing here depends on one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from sidecar.audit.chain import GENESIS, Link, canonical, first_break, iso, make_link, parse_iso

T = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)


def build(count: int) -> list[Link]:
    links: list[Link] = []
    for seq in range(1, count + 1):
        prev = links[-1].hash if links else GENESIS
        payload = {"n": seq, "name": "Zoë"}
        links.append(
            make_link(seq=seq, time=T, kind="incident", digest=None, actor="a", payload=payload, prev=prev)
        )
    return links


def lookup(links: list[Link]):
    return lambda value: next((link for link in links if link.hash == value), None)


@given(st.datetimes(timezones=st.just(UTC)))
@example(datetime(1, 1, 1, tzinfo=UTC))  # strftime's %Y writes "1", which the parser refuses
def test_every_time_round_trips_through_its_text(time: datetime) -> None:
    """Any time, year 1 to 9999, is written in the one fixed-width form and read back unchanged."""
    text = iso(time)
    assert len(text) == len("2026-01-02T03:04:05.000006Z")
    assert parse_iso(text) == time


def test_the_encoding_is_pinned() -> None:
    """The hash of a known event never changes: audits written today must verify forever."""
    link = make_link(
        seq=1, time=T, kind="incident", digest=None, actor="pva", payload={"b": 1, "a": "é"}, prev=GENESIS
    )
    assert link.payload == '{"a":"é","b":1}'
    assert iso(T) == "2026-01-02T03:04:05.000006Z"
    assert parse_iso(iso(T)) == T
    assert canonical([1, None, "x"]) == '[1,null,"x"]'
    # sha256 of [1,"2026-01-02T03:04:05.000006Z","incident",null,"pva","{\"a\":\"é\",\"b\":1}","000...0"]
    assert link.hash == "434ea249822c11ba6044f2f1369ad4db29e36acadd8f9980136d0e5c1e4cc681"


def test_an_intact_chain_has_no_break() -> None:
    """A chain built link by link verifies."""
    links = build(4)
    assert first_break(links, lookup(links)) is None
    assert first_break([], lookup([])) is None


def test_a_missing_first_row_is_named() -> None:
    """Removing seq 1 is reported as missing, even though the rest link up."""
    links = build(3)[1:]
    found = first_break(links, lookup(links))
    assert found is not None
    assert (found.seq, found.problem) == (1, "missing row: seq 1 absent, the chain jumps to seq 2")


def test_a_row_moved_to_the_front_is_a_reorder() -> None:
    """Swapping seq 1 and 2 is told apart from an edit, even at the genesis."""
    first, second, third = build(3)
    links = [replace(second, seq=1), replace(first, seq=2), third]
    found = first_break(links, lookup(links))
    assert found is not None
    assert (found.seq, found.problem) == (1, "reordered rows: the row at seq 1 was written as seq 2")


def test_non_canonical_payload_with_a_matching_hash_is_named() -> None:
    """A payload stored with whitespace (not as pva writes it) is found even if rehashed."""
    (link,) = build(1)
    spaced = replace(link, payload='{"n": 1, "name": "Zoë"}')
    spaced = replace(spaced, hash=spaced.computed_hash())
    found = first_break([spaced], lookup([spaced]))
    assert found is not None
    assert (found.seq, found.problem) == (1, "payload is not canonical JSON")
