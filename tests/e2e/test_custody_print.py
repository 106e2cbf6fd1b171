"""A custody report's HTML prints on A4 and on Letter with nothing cut off (Chromium, print media).

The report is built offline from a synthetic chain whose paths, title and
comment are long and unbroken (the worst case for a table); at the printable
width of each paper, no table may be wider than the page, and Chromium must
make a PDF of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser

from planner.core.entry import Entry
from sidecar.audit import checkpoints, custody, merkle, payloads
from sidecar.audit.chain import GENESIS, Link, make_link
from sidecar.audit.checkpoints import Checkpoint
from sidecar.audit.custody import Subject
from sidecar.audit.custody_formats import render_html
from sidecar.audit.records import ApplyRecord, OpRecord

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
LONG = "matters/smith-v-jones/custodians/" + "Very-Long-Unbroken-Folder-Name-" * 6 + "0001.pdf"
MOVED = LONG.replace("0001.pdf", "0001 Email re contract " + "x" * 120 + ".pdf")
DIGEST = "ab" * 32
PAPER_MM = {"A4": 210.0, "Letter": 215.9}
MARGIN_MM = 12.0  # the report's @page margin on each side
PX_PER_MM = 96 / 25.4


def chain() -> list[Link]:
    """A plan recorded, approved with a long comment, and applied: a move with both hashes."""
    sha = "c0ffee" * 10 + "abcd"
    apply = ApplyRecord(
        DIGEST,
        "applied",
        "alice",
        T0,
        T0 + timedelta(seconds=1),
        ops=(
            OpRecord(0, "move", MOVED, src=LONG, after=Entry(MOVED, "file", 123456, sha, 1733300000000001)),
        ),
        store="gs://firm-projects",
    )
    bodies: list[tuple[str, str, dict[str, object]]] = [
        (
            "plan_recorded",
            "agent-1",
            payloads.encode(payloads.plan_payload("File " + "y" * 150, author="agent-1")),
        ),
        (
            "approval",
            "alice",
            payloads.approval_payload("alice", "approved", "checked " + "z" * 300, "approved"),
        ),
        ("apply", "alice", payloads.encode(payloads.apply_payload(apply))),
    ]
    links, prev = [], GENESIS
    for seq, (kind, actor, body) in enumerate(bodies, start=1):
        link = make_link(
            seq=seq,
            time=T0 + timedelta(seconds=seq),
            kind=kind,
            digest=DIGEST,
            actor=actor,
            payload=body,
            prev=prev,
        )
        links.append(link)
        prev = link.hash
    return links


def report_html() -> str:
    links = chain()
    leaves = [merkle.leaf_hash(bytes.fromhex(link.hash)) for link in links]
    signer = checkpoints.parse_signer(checkpoints.new_signer_key("firm.example/pva"))
    note = checkpoints.sign(Checkpoint("firm.example/pva", len(leaves), merkle.root(leaves)), signer)
    proofs = [merkle.inclusion_proof(i, len(leaves), merkle.subtrees(leaves)) for i in range(len(leaves))]
    subject = Subject("path", MOVED, (MOVED, LONG))
    document = custody.make(
        subject, list(zip(links, proofs, strict=True)), note, signer, made=T0, made_by="records"
    )
    assert custody.check(document, signer.verifier).ok
    return render_html(document)


@pytest.mark.parametrize("paper", sorted(PAPER_MM))
def test_a_report_prints_on_the_paper_with_no_table_cut_off(browser: Browser, paper: str) -> None:
    """At the paper's printable width, in print media, every table fits and Chromium makes a PDF."""
    width = round((PAPER_MM[paper] - 2 * MARGIN_MM) * PX_PER_MM)
    context = browser.new_context(viewport={"width": width, "height": 1000})
    try:
        page = context.new_page()
        page.set_content(report_html())
        page.emulate_media(media="print")
        overflowing = page.evaluate(
            """() => [...document.querySelectorAll('table, dl, h1, p')]
                .filter(e => e.scrollWidth > e.clientWidth + 1
                    || e.getBoundingClientRect().right > innerWidth + 1)
                .map(e => e.tagName + ' ' + e.scrollWidth + '>' + e.clientWidth)"""
        )
        assert overflowing == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.pdf(format=paper).startswith(b"%PDF")
    finally:
        context.close()
