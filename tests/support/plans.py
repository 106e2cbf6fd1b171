"""Plans for a test: a plan/v1 document from its ops, and the validated ``Plan``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.core.plan import Plan


def plan_doc(
    *ops: Mapping[str, object], title: str = "t", scope: Sequence[str] = ("matters/acme",)
) -> dict[str, Any]:
    """A plan document (plan/v1), as an agent would send it."""
    return {"pva": "plan/v1", "title": title, "scope": list(scope), "ops": list(ops)}


def make_plan(*ops: Mapping[str, object], title: str = "t", scope: Sequence[str] = ("matters/acme",)) -> Plan:
    """The ``Plan`` of ``plan_doc``."""
    return Plan.model_validate(plan_doc(*ops, title=title, scope=scope))
