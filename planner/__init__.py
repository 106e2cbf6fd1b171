"""pva's agent side: plan models, the builder, the verifier and manifest tools.

Light on purpose (pydantic and jsonschema only): it runs inside sandboxes.
"""

from planner.core.builder import PlanBuilder
from planner.core.entry import Blob, Entry
from planner.core.errors import ManifestError, PlanSyntaxError, PvaError
from planner.core.parse import parse_plan
from planner.core.plan import Copy, Delete, Expect, Mkdir, Move, Plan, Rename, Write
from planner.core.report import Code, Diagnostic, Effect, Report
from planner.core.semantics import Limits
from planner.core.tree import Tree, tree_of
from planner.core.verify import Simulation, simulate, verify

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
