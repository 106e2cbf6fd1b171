"""The verifier: simulate a plan on a fork of a tree and report everything.

``verify(plan, tree)`` is pure: data in, report out; the tree passed in is
never changed. Every op is checked in order against the state the earlier
ops left; all diagnostics are collected, not only the first. An op with an
error is not simulated, so later ops see the store without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from planner.core.effect import effect_of
from planner.core.holds import Hold, held_changes
from planner.core.inverse import inverse_plan
from planner.core.ops import Change, execute
from planner.core.paths import contains, path_problem
from planner.core.plan import Plan
from planner.core.report import Code, Diagnostic, Report
from planner.core.semantics import Limits, Stepper
from planner.core.tree import Tree


@dataclass(frozen=True)
class Simulation:
    """A report with what produced it: the predicted tree and the resolved changes."""

    report: Report
    tree: Tree
    changes: list[Change]


def verify(
    plan: Plan,
    tree: Tree,
    *,
    allowed: Sequence[str] | None = None,
    limits: Limits | None = None,
    blobs: Mapping[str, int] | None = None,
    holds: Sequence[Hold] = (),
) -> Report:
    """Verify ``plan`` against ``tree``.

    ``allowed`` is the caller's token scope (None: the whole store); ``blobs``
    maps the sha256 of uploaded blobs to their sizes (None: not known here, so
    ``content_ref`` writes are not checked); ``holds`` are the legal holds in
    force (``planner.core.holds``): an op they forbid is ``on_hold``.
    """
    return simulate(plan, tree, allowed=allowed, limits=limits, blobs=blobs, holds=holds).report


def simulate(
    plan: Plan,
    tree: Tree,
    *,
    allowed: Sequence[str] | None = None,
    limits: Limits | None = None,
    blobs: Mapping[str, int] | None = None,
    holds: Sequence[Hold] = (),
) -> Simulation:
    """Verify ``plan`` and also return the predicted tree and the changes."""
    limits = limits or Limits()
    diagnostics, scope = _plan_checks(plan, allowed, limits)
    state = tree.fork()
    stepper = Stepper(scope, limits=limits, blobs=blobs)
    changes: list[Change] = []
    for index, op in enumerate(plan.ops):
        result = stepper.step(index, op, state)
        diagnostics.extend(result.diagnostics)
        held = [] if result.change is None else held_changes(result.change, holds)
        diagnostics.extend(held)  # a held op is an error: like any, it is not simulated
        if result.change is not None and not held:
            execute(result.change, state)
            changes.append(result.change)
    ok = not any(d.severity == "error" for d in diagnostics)
    inverse = None
    if ok:
        inverse, warnings = inverse_plan(plan, changes)
        diagnostics.extend(warnings)
    report = Report(
        ok=ok,
        digest=plan.digest(),
        title=plan.title,
        diagnostics=diagnostics,
        effect=effect_of(plan, changes),
        inverse=inverse,
    )
    return Simulation(report, state, changes)


def _plan_checks(
    plan: Plan, allowed: Sequence[str] | None, limits: Limits
) -> tuple[list[Diagnostic], list[str]]:
    """Check the plan as a whole; return diagnostics and the usable scope roots."""
    diagnostics: list[Diagnostic] = []

    def problem(code: Code, path: str | None, message: str) -> None:
        diagnostics.append(Diagnostic(code=code, field="scope", path=path, message=message))

    if len(plan.ops) > limits.max_ops:
        diagnostics.append(
            Diagnostic(
                code=Code.TOO_LARGE,
                message=f"the plan has {len(plan.ops)} ops, over the limit of {limits.max_ops}; split it",
            )
        )
    scope = []
    for root in plan.scope:
        why = path_problem(root)
        if why is not None:
            problem(Code.INVALID_PATH, root, why)
        elif allowed is not None and not any(contains(mine, root) for mine in allowed):
            problem(Code.OUT_OF_SCOPE, root, f"scope {root!r} is outside your token's scope {list(allowed)}")
        else:
            scope.append(root)
    return diagnostics, scope
