"""What the approval page shows, built from the service's values: inbox rows, ops, pages. Pure.

The risk flags are ``sidecar.risks``'s, which the notifications name too.

Nothing here decides who may do what (``sidecar.workflow`` does); it only
says what to show. Values are plain strings and numbers: the templates
escape them all (autoescape), so nothing here may build markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from planner.core.plan import Copy, Delete, Expect, Mkdir, Move, Op, Plan, Rename, Write
from planner.core.report import Diagnostic, Report
from planner.core.treeview import TreeRow, Trees, changed_only
from sidecar.risks import Flag, flags
from sidecar.service.cases import StoredCase, case_trees

T = TypeVar("T")

OPS_PER_PAGE = 100
ROWS_PER_PAGE = 300
DIFF_LINES = 200  # lines of one write's diff (or new file) a page shows
MAX_DIAGNOSTICS = 200


@dataclass(frozen=True)
class Summary:
    """One plan as the inbox and the plan page's header show it."""

    digest: str
    title: str
    author: str
    state: str
    submitted: datetime
    updated: datetime
    scope: tuple[str, ...]
    counts: tuple[tuple[str, int], ...]  # op kinds with at least one op, in DSL order
    total_ops: int
    bytes: int
    flags: tuple[Flag, ...]
    revert_of: str | None

    @property
    def short(self) -> str:
        return self.digest[:12]

    def matches(self, text: str) -> bool:
        """True when ``text`` occurs (case-folded) in the title, author, id or scope."""
        needle = text.casefold().strip()
        haystack = (self.title, self.author, self.digest, *self.scope)
        return not needle or any(needle in item.casefold() for item in haystack)


@dataclass(frozen=True)
class OpRow:
    """One op of the plan, as the flat list shows it."""

    index: int
    kind: str
    target: str  # the path it acts on, or "src → dst"
    reason: str
    preconditions: tuple[str, ...]
    overwrite: bool
    problems: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class PlanView:
    """Everything on a plan's page that does not change until the plan's case does (cached per version)."""

    summary: Summary
    ops: tuple[OpRow, ...]
    trees: Trees
    changed_before: tuple[TreeRow, ...]
    changed_after: tuple[TreeRow, ...]
    preconditions: int  # ops that state an expect
    diagnostics: tuple[Diagnostic, ...]
    more_diagnostics: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a long list: its items, its number (from 1), how many pages and items there are."""

    items: tuple[T, ...]
    number: int
    pages: int
    total: int
    size: int

    @property
    def first(self) -> int:
        """The 1-based position of the first item on the page (0 when there is none)."""
        return 0 if not self.items else (self.number - 1) * self.size + 1

    @property
    def last(self) -> int:
        return 0 if not self.items else self.first + len(self.items) - 1


def page(items: Sequence[T], number: int, size: int) -> Page[T]:
    """Page ``number`` (clamped to 1..pages) of ``items``, ``size`` a page."""
    pages = max(1, -(-len(items) // size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(tuple(items[start : start + size]), number, pages, len(items), size)


def summary(stored: StoredCase, plan: Plan) -> Summary:
    report = Report.model_validate(stored.report)
    effect = report.effect
    counts = tuple((kind, n) for kind, n in effect.counts.items() if n)
    return Summary(
        digest=stored.digest,
        title=stored.title,
        author=stored.case.author,
        state=stored.case.state.value,
        submitted=stored.case.submitted,
        updated=stored.updated,
        scope=tuple(plan.scope),
        counts=counts,
        total_ops=len(plan.ops),
        bytes=effect.bytes_written + effect.bytes_copied,
        flags=flags(report, stored.case.decision, len(plan.ops)),
        revert_of=stored.revert_of,
    )


def plan_view(stored: StoredCase, plan: Plan) -> PlanView:
    report = Report.model_validate(stored.report)
    by_op: dict[int, list[Diagnostic]] = {}
    for diagnostic in report.diagnostics:
        if diagnostic.op_index is not None:
            by_op.setdefault(diagnostic.op_index, []).append(diagnostic)
    ops = tuple(op_row(i, op, by_op.get(i, ())) for i, op in enumerate(plan.ops))
    shown = case_trees(stored)
    diagnostics = tuple(stored.case.diagnostics)
    return PlanView(
        summary=summary(stored, plan),
        ops=ops,
        trees=shown,
        changed_before=changed_only(shown.before),
        changed_after=changed_only(shown.after),
        preconditions=sum(1 for row in ops if row.preconditions),
        diagnostics=diagnostics[:MAX_DIAGNOSTICS],
        more_diagnostics=max(0, len(diagnostics) - MAX_DIAGNOSTICS),
    )


def op_row(index: int, op: Op, problems: Sequence[Diagnostic] = ()) -> OpRow:
    expects: list[str] = []
    match op:
        case Move() | Copy():
            target, overwrite = f"{op.src} → {op.dst}", isinstance(op, Move) and op.overwrite
            expects += _expect_text(op.expect, op.src)
            if isinstance(op, Move):
                expects += _expect_text(op.expect_dst, op.dst)
        case Rename():
            target, overwrite = f"{op.path} → {op.name}", False
            expects += _expect_text(op.expect, op.path)
        case Write():
            target, overwrite = op.path, op.overwrite
            expects += _expect_text(op.expect, op.path)
        case Mkdir() | Delete():
            target, overwrite = op.path, False
            expects += _expect_text(op.expect, op.path)
    return OpRow(index, op.op, target, op.reason or "", tuple(expects), overwrite, tuple(problems))


def _expect_text(expect: Expect | None, path: str) -> list[str]:
    if expect is None:
        return []
    if expect.absent:
        return [f"{path} must not exist"]
    facts = []
    if expect.sha256 is not None:
        facts.append(f"sha256 {expect.sha256[:12]}…")
    if expect.size is not None:
        facts.append(f"size {expect.size:,} bytes")
    if expect.generation is not None:
        facts.append(f"generation {expect.generation}")
    return [f"{path} has {', '.join(facts)}"]


def time_text(time: datetime | None) -> str:
    """A time for people, in UTC and saying so: 2026-03-02 09:00 UTC."""
    return "" if time is None else f"{time.year:04}-{time:%m-%d %H:%M} UTC"  # %Y writes year 1 as "1"
