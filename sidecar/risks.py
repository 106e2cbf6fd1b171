"""The risks of a plan an approver should see before reading on: one list for the page and the notices. Pure.

The approval page shows them as flags; the notifications (``sidecar.notify``)
name them in words, so a person deciding from a phone reads the same risks.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.core.report import Report
from sidecar.policy import Decision

MANY_OPS = 100  # a plan this long is flagged: nobody reads every line of it
MANY_FILES = 100  # files deleted, moved or created
BIG_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Flag:
    """A risk an approver should see before reading on: a kind (for the icon) and plain words."""

    kind: str  # delete, overwrite, many, bytes, rule, no_undo, errors
    text: str


def flags(report: Report, decision: Decision | None, ops: int) -> tuple[Flag, ...]:
    """The risks of a plan, most serious first."""
    effect = report.effect
    found: list[Flag] = []
    if report.errors:
        found.append(Flag("errors", f"{_n(len(report.errors), 'verification error')}: it cannot apply"))
    if effect.deleted:
        found.append(
            Flag("delete", f"deletes {_n(len(effect.deleted), 'path')} ({_n(effect.files_deleted, 'file')})")
        )
    if effect.overwritten:
        found.append(Flag("overwrite", f"overwrites {_n(len(effect.overwritten), 'file')}"))
    touched = len(effect.created) + len(effect.moved) + effect.files_deleted
    if ops >= MANY_OPS or touched >= MANY_FILES:
        found.append(Flag("many", f"many changes: {_n(ops, 'op')}, {_n(touched, 'path')}"))
    written = effect.bytes_written + effect.bytes_copied
    if written >= BIG_BYTES:
        found.append(Flag("bytes", f"writes {size_text(written)}"))
    if any(d.code == "no_inverse" for d in report.diagnostics):
        found.append(Flag("no_undo", "cannot be fully undone"))
    if decision is not None and decision.outcome == "require_approvals":
        rule = f"rule '{decision.rule_name}'" if decision.rule_name else "the default policy"
        found.append(Flag("rule", f"{rule} requires {_n(decision.approvals_needed, 'approval')}"))
    return tuple(found)


def size_text(size: int | None) -> str:
    """A byte count for people: 0 bytes, 12.3 KB, 4.0 MB (powers of 1024)."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover  # the loop returns at GB


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
