"""pva's agent side: plan models, the builder, the verifier and manifest tools.

Light on purpose (pydantic and jsonschema only): it runs inside sandboxes.
"""

from planner.builder import PlanBuilder
from planner.entry import Blob, Entry
from planner.errors import ManifestError, PlanSyntaxError, PvaError
from planner.parse import parse_plan
from planner.plan import Copy, Delete, Expect, Mkdir, Move, Plan, Rename, Write
from planner.report import Code, Diagnostic, Effect, Report
from planner.steps import Limits
from planner.tree import Tree, tree_of
from planner.verify import Simulation, simulate, verify

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
