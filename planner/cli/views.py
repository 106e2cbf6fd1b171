"""Human views of reports, in the spirit of ``terraform plan``."""

from __future__ import annotations

from planner.plan import Copy, Delete, Mkdir, Move, Op, Plan, Rename, Write
from planner.report import Report

_SYMBOL = {"mkdir": "+", "write": "+", "copy": "+", "move": ">", "rename": ">", "delete": "-"}


def describe(op: Op) -> str:
    """One line saying what an op does."""
    match op:
        case Mkdir():
            return f"mkdir   {op.path}{'  (with parents)' if op.parents else ''}"
        case Move():
            return f"move    {op.src} -> {op.dst}{'  (overwrites)' if op.overwrite else ''}"
        case Rename():
            return f"rename  {op.path} -> {op.name}"
        case Write():
            source = f"blob {op.content_ref[:12]}" if op.content_ref else f"{len(op.data() or b'')} bytes"
            return f"write   {op.path}  ({source}{', overwrites' if op.overwrite else ''})"
        case Copy():
            return f"copy    {op.src} -> {op.dst}"
        case Delete():
            return f"delete  {op.path}  (to trash)"


def render_report(plan: Plan, report: Report, *, limit: int | None = 50) -> str:
    failed = {d.op_index for d in report.errors}
    lines = [f"Plan {plan.title!r}", f"  digest {report.digest}", ""]
    for index, op in enumerate(plan.ops[:limit] if limit is not None else plan.ops):
        mark = "!" if index in failed else _SYMBOL[op.op]
        lines.append(f"  {mark} [{index}] {describe(op)}")
    if limit is not None and len(plan.ops) > limit:
        lines.append(f"  ... {len(plan.ops) - limit} more ops (--all lists them)")
    if report.diagnostics:
        lines.append("")
        lines.extend(str(d) for d in report.diagnostics)
    effect = report.effect
    counts = ", ".join(f"{n} {kind}" for kind, n in effect.counts.items())
    errors, warnings = len(report.errors), len(report.warnings)
    lines.append("")
    lines.append(
        f"Plan: {counts}; {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}."
    )
    if report.ok:
        lines.append(
            f"Effect: {len(effect.created)} created, {len(effect.moved)} moved, "
            f"{len(effect.overwritten)} overwritten, {_n(effect.files_deleted, 'file')} to trash, "
            f"{_n(effect.bytes_written + effect.bytes_copied, 'byte')} written."
        )
    else:
        lines.append("The plan is not valid: fix the errors above and verify again.")
    return "\n".join(lines)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
