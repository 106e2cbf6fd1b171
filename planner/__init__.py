"""pva's agent side: plan models, the builder, the verifier and manifest tools.

Light on purpose (pydantic and jsonschema only): it runs inside sandboxes.
Each name below is imported when first used, so a command that needs little
(``pva --help``) loads little.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.core.builder import PlanBuilder
    from planner.core.entry import Blob, Entry
    from planner.core.errors import ManifestError, PlanSyntaxError, PvaError
    from planner.core.parse import parse_plan
    from planner.core.plan import Copy, Delete, Expect, Mkdir, Move, Plan, Rename, Write
    from planner.core.report import Code, Diagnostic, Effect, Report
    from planner.core.semantics import Limits
    from planner.core.tree import Tree, tree_of
    from planner.core.verify import Simulation, simulate, verify

_HOMES = {
    "planner.core.builder": ("PlanBuilder",),
    "planner.core.entry": ("Blob", "Entry"),
    "planner.core.errors": ("ManifestError", "PlanSyntaxError", "PvaError"),
    "planner.core.parse": ("parse_plan",),
    "planner.core.plan": ("Copy", "Delete", "Expect", "Mkdir", "Move", "Plan", "Rename", "Write"),
    "planner.core.report": ("Code", "Diagnostic", "Effect", "Report"),
    "planner.core.semantics": ("Limits",),
    "planner.core.tree": ("Tree", "tree_of"),
    "planner.core.verify": ("Simulation", "simulate", "verify"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "Blob",
    "Code",
    "Copy",
    "Delete",
    "Diagnostic",
    "Effect",
    "Entry",
    "Expect",
    "Limits",
    "ManifestError",
    "Mkdir",
    "Move",
    "Plan",
    "PlanBuilder",
    "PlanSyntaxError",
    "PvaError",
    "Rename",
    "Report",
    "Simulation",
    "Tree",
    "Write",
    "parse_plan",
    "simulate",
    "tree_of",
    "verify",
]


def __getattr__(name: str) -> Any:
    home = _HOME_OF.get(name)
    if home is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
