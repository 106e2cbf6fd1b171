"""The plans the benchmarks verify: an agent filing inboxes by custodian.

Matter by matter, the agent creates custodian folders (``mkdir`` with
``parents``, which also creates ``custodians/``), moves half of the inbox into
them, renames one moved file in ten to the firm's convention and writes an
index per custodian. The ``with_dirs`` mix also renames two custodian folders
and moves the rest of the inbox into a new ``archive/`` folder: directory
moves, where a flat dict pays for every entry below. Every plan is valid
against its layout, so the verifier runs every op to the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.corpus import Layout
from planner.core.builder import PlanBuilder
from planner.core.plan import PLAN_VERSION, Plan

CUSTODIANS = ("alice", "bob", "carol", "dave", "erin")
FILED_PER_MATTER = 500  # half of each inbox; the rest stays (or goes to archive/)
RENAME_EVERY = 10


@dataclass(frozen=True)
class Op:
    """One plan op as builder arguments: the method name and its keyword arguments."""

    kind: str
    fields: dict[str, Any]


def filing_ops(layout: Layout, *, with_dirs: bool) -> Iterator[Op]:
    """Ops filing every matter in turn (callers stop after as many as they need)."""
    for m in range(layout.matters):
        yield from _file_matter(layout, m, with_dirs=with_dirs)


def _file_matter(layout: Layout, m: int, *, with_dirs: bool) -> Iterator[Op]:
    custodians = f"{layout.matter(m)}/custodians"
    for name in CUSTODIANS:
        yield Op("mkdir", {"path": f"{custodians}/{name}", "parents": True})
    for i in range(min(FILED_PER_MATTER, layout.files_per_inbox)):
        name = CUSTODIANS[i % len(CUSTODIANS)]
        dst = f"{custodians}/{name}/{layout.file_name(m, i)}"
        yield Op("move", {"src": layout.file(m, i), "dst": dst, "reason": f"From: header names {name}"})
        if i % RENAME_EVERY == 0:
            yield Op("rename", {"path": dst, "name": f"{m:04d}-{i:04d} Email from {name.title()}.pdf"})
    for name in CUSTODIANS:
        index = f"file,custodian\n{layout.file_name(m, 0)},{name}\n"
        yield Op("write", {"path": f"{custodians}/{name}/index.csv", "content": index})
    if with_dirs:
        yield from _archive_matter(layout, m)


def _archive_matter(layout: Layout, m: int) -> Iterator[Op]:
    custodians = f"{layout.matter(m)}/custodians"
    for name in CUSTODIANS[:2]:
        yield Op("rename", {"path": f"{custodians}/{name}", "name": f"{name} (reviewed)"})
    yield Op("mkdir", {"path": f"{layout.matter(m)}/archive"})
    yield Op("move", {"src": layout.inbox(m), "dst": f"{layout.matter(m)}/archive/inbox-2026-11"})


def take(ops: Iterator[Op], count: int) -> list[Op]:
    """The first ``count`` ops (a plan cut anywhere is still valid: no op needs a later one)."""
    chosen = [op for _, op in zip(range(count), ops, strict=False)]
    if len(chosen) < count:
        raise ValueError(f"the layout yields only {len(chosen)} ops, not {count}")
    return chosen


def plan_builder(title: str, ops: list[Op], scope: list[str] | None = None) -> PlanBuilder:
    """A ``PlanBuilder`` holding ``ops``, through its public methods."""
    builder = PlanBuilder(title, scope=scope or ["matters"])
    for op in ops:
        getattr(builder, op.kind)(**op.fields)
    return builder


def build_plan(title: str, ops: list[Op], scope: list[str] | None = None) -> Plan:
    """Validate ``ops`` into a plan with the pydantic models (``PlanBuilder.build`` adds the JSON Schema)."""
    return Plan.model_validate(plan_builder(title, ops, scope).document())


def one_op_plan(src: str, dst: str, scope: list[str]) -> Plan:
    """A plan with a single move (for the directory-move versus file-move figure)."""
    return Plan.model_validate(
        {
            "pva": PLAN_VERSION,
            "title": "One move",
            "scope": scope,
            "ops": [{"op": "move", "src": src, "dst": dst}],
        }
    )


def mix(ops: list[Op]) -> dict[str, int]:
    """How many ops of each kind (directory moves and renames counted apart)."""
    counts: dict[str, int] = {}
    for op in ops:
        kind = op.kind
        if kind in ("move", "rename") and _is_dir_op(op):
            kind = f"{kind} (folder)"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _is_dir_op(op: Op) -> bool:
    source = op.fields.get("src") or op.fields.get("path", "")
    return not source.endswith(".pdf")
