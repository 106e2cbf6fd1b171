"""Plans as the pages need them: read through ``PlanService`` (its visibility rules), cached per version."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from fastapi import Request

from sidecar.edge.state import app_state
from sidecar.service.cases import StoredCase
from sidecar.tokens import Principal
from sidecar.web.state import web_state
from sidecar.web.views import PlanView, Summary, plan_view, summary


def summaries(request: Request, who: Principal, found: Sequence[StoredCase]) -> list[Summary]:
    """The inbox rows of ``found`` (listed without their reports), each built once per case version."""
    cache = web_state(request).summaries
    return [cache.get((s.digest, s.version), partial(_summary, request, who, s)) for s in found]


def _summary(request: Request, who: Principal, listed: StoredCase) -> Summary:
    services = app_state(request).services
    stored = services.plans.get(listed.digest, who)  # with its report; visibility checked again
    return summary(stored, services.audit.plan(stored.digest))


def view(request: Request, stored: StoredCase) -> PlanView:
    """The plan page's view of ``stored`` (read by ``PlanService.get``, so visible to the viewer)."""
    services = app_state(request).services
    return web_state(request).views.get(
        (stored.digest, stored.version), lambda: plan_view(stored, services.audit.plan(stored.digest))
    )
