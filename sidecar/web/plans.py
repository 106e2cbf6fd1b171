"""A plan's page, and the forms on it: approve, reject (each with a required comment), apply, revert.

Also: approve part of a plan (the ops a person leaves unticked are left out:
``PlanService.approve_part``), request changes (an overall comment and
comments on single ops: ``PlanService.request_changes``), and the plan's
other versions (the difference from the one it replaced, the discussion
carried over: ``PlanService.versions``, within the ethical wall).

The forms call the same ``PlanService`` use cases as the API, and the page
offers exactly ``workflow.allowed_actions``; a form sent anyway (an old tab)
gets the workflow's refusal as an error page. Long plans are paged on the
server: ops, each tree, and each write's lines (read for the ops shown).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from sidecar.edge.downloads import download
from sidecar.edge.params import NUL_MESSAGE, Comment
from sidecar.edge.state import app_state
from sidecar.errors import UnknownPlan
from sidecar.service.plans import BadOp
from sidecar.web.cases import view
from sidecar.web.guard import PageRoute, Poster, Signed, Viewer
from sidecar.web.render import html
from sidecar.web.state import web_state
from sidecar.web.views import DIFF_LINES, OPS_PER_PAGE, ROWS_PER_PAGE, page
from sidecar.workflow import (
    OpComment,
    PartRefused,
    State,
    Verb,
    allowed_actions,
    counted_approvers,
    missing,
    op_needs,
)

router = APIRouter(prefix="/plans", route_class=PageRoute, include_in_schema=False)
PlanId = Annotated[str, Path(pattern="^[0-9a-f]{8,64}$")]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
CommentField = Annotated[str, Form(max_length=4000)]
DONE = {
    "approve": "You approved this plan.",
    "reject": "You rejected this plan.",
    "apply": "The plan was handed to the sidecar to apply.",
    "revert": "This is the plan that undoes the one you reverted. It needs approval like any other.",
    "part": "You approved the plan without the ops you left out: this is that part, derived from it. "
    "The original plan is superseded by it.",
    "changes": "You asked the author for changes.",
}
NOTE = re.compile(r"note-(\d{1,7})")  # a per-op comment's field: note-<0-based op index>


@router.get("/{plan_id}")
def plan_page(
    request: Request,
    who: Viewer,
    plan_id: PlanId,
    *,
    op: PageNumber = 1,
    bp: PageNumber = 1,
    ap: PageNumber = 1,
    changed: bool = False,
    d: Annotated[int, Query(ge=-1, le=1_000_000)] = -1,
    dp: PageNumber = 1,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    pages = {"op": op, "bp": bp, "ap": ap, "changed": changed, "d": d, "dp": dp}
    return _render(request, who, plan_id, pages, done=DONE.get(done, ""))


def _render(
    request: Request, who: Signed, plan_id: str, pages: dict[str, Any], *, done: str = "", error: str = ""
) -> Response:
    state = app_state(request)
    stored = state.services.plans.get(plan_id, who.principal)
    shown = view(request, stored)
    case, now, ttl = stored.case, state.clock(), state.settings.approval_ttl
    counted = set(counted_approvers(case, now=now, ttl=ttl))
    trees = shown.trees if not pages["changed"] else None
    before = shown.changed_before if trees is None else trees.before
    after = shown.changed_after if trees is None else trees.after
    outcome = state.services.audit.outcome(stored.digest) if case.state not in _UNDECIDED else None
    held = state.services.plans.held(stored) if case.state in (State.PENDING, State.APPROVED) else []
    mine = who.principal.name in case.authors
    actions = allowed_actions(case, who.principal, now, ttl=ttl)  # the workflow's answer, not a copy of it
    ops = page(shown.ops, pages["op"], OPS_PER_PAGE)
    contents = {  # read for the ops on this page only: a 10,000-op plan reads a page's worth
        found.index: (found, page(found.lines, pages["dp"] if found.index == pages["d"] else 1, DIFF_LINES))
        for found in state.services.plans.contents(stored.digest, who.principal, (r.index for r in ops.items))
    }

    def link(**changes: Any) -> str:
        query = {**pages, **changes}
        query["changed"] = int(bool(query["changed"]))
        return f"/plans/{stored.digest}?{urlencode(query)}"

    return html(
        web_state(request).templates,
        request,
        "plan.html",
        code=422 if error else 200,
        who=who,
        stored=stored,
        case=case,
        view=shown,
        summary=shown.summary,
        ops=ops,
        contents=contents,
        before=page(before, pages["bp"], ROWS_PER_PAGE),
        after=page(after, pages["ap"], ROWS_PER_PAGE),
        changed=bool(pages["changed"]),
        approvals=[(a, a.approver in counted) for a in case.approvals],
        outcome=outcome,
        progress=state.services.plans.progress(stored),
        incidents=state.services.audit.incidents(stored.digest) if outcome else [],
        held=held,
        mine=mine,
        approved_by_me=who.principal.name in counted,
        may_judge=Verb.REJECT in actions,
        may_approve=Verb.APPROVE in actions,
        may_apply=Verb.APPLY in actions,
        may_revert=Verb.REVERT in actions,
        grouped=bool(case.decision and case.decision.requirements),
        needs=op_needs(case, ops.total, now=now, ttl=ttl),
        needs_total=missing(case, now=now, ttl=ttl),
        undoes=_existing(request, who, stored.revert_of),
        undone_by=_existing(request, who, case.inverse_digest),
        versions=state.services.plans.versions(stored, who.principal),
        auto_apply=state.settings.auto_apply,
        link=link,
        done=done,
        error=error,
    )


_UNDECIDED = frozenset({State.PENDING, State.APPROVED, State.REJECTED})


def _existing(request: Request, who: Signed, digest: str | None) -> str | None:
    """``digest`` when a plan with it exists and ``who`` may see it: the only plans the page links to.

    An applied plan knows the digest of the plan that undoes it, but that plan
    exists only once someone asks for the revert.
    """
    if digest is None:
        return None
    try:
        return app_state(request).services.plans.get(digest, who.principal).digest
    except UnknownPlan:
        return None


def comment_or_refusal(text: str) -> tuple[str, str]:
    """The comment and "", or "" and why it cannot be taken."""
    try:
        return Comment.model_validate({"comment": text}).comment, ""
    except ValidationError:
        if "\x00" in text:
            return "", f"The comment {NUL_MESSAGE}: remove it and try again."
        return "", _NO_COMMENT


def _back(plan_id: str, done: str) -> Response:
    return RedirectResponse(f"/plans/{plan_id}?{urlencode({'done': done})}", status_code=303)


_NO_COMMENT = "Write a comment first: it says why, and it goes to the audit."
_DEFAULT_PAGES = {"op": 1, "bp": 1, "ap": 1, "changed": False, "d": -1, "dp": 1}


OpList = Annotated[list[int], Form(max_length=10_000)]


@router.post("/{plan_id}/approve")
def approve(
    request: Request,
    who: Poster,
    plan_id: PlanId,
    *,
    comment: CommentField = "",
    shown: OpList = [],  # noqa: B006  # FastAPI copies a default; the ops that had a checkbox
    keep: OpList = [],  # noqa: B006  # the ops whose box was ticked
) -> Response:
    """Approve the plan; with some ops unticked, approve the part without them (the page shows it)."""
    text, refused = comment_or_refusal(comment)
    if refused:
        return _render(request, who, plan_id, _DEFAULT_PAGES, error=refused)
    plans = app_state(request).services.plans
    without = sorted(set(shown) - set(keep))
    if not without:
        return _back(plans.approve(plan_id, who.principal, text).digest, "approve")
    try:
        part = plans.approve_part(plan_id, who.principal, text, without)
    except (PartRefused, BadOp) as error:  # nothing was approved: say why on the plan's page
        return _render(request, who, plan_id, _DEFAULT_PAGES, error=f"Nothing was approved: {error}.")
    return _back(part.digest, "part")


@router.post("/{plan_id}/request-changes")
async def request_changes(
    request: Request, who: Poster, plan_id: PlanId, comment: CommentField = ""
) -> Response:
    """Ask the author for changes: the overall comment, and what each op's field ``note-N`` says."""
    text, refused = comment_or_refusal(comment)
    form = await request.form()  # parsed once already (the fields above): read from its cache
    notes = [
        OpComment(int(found[1]), value.strip())
        for name, value in form.multi_items()
        if (found := NOTE.fullmatch(name)) and isinstance(value, str) and value.strip()
    ]
    if refused or any(comment_or_refusal(note.comment)[1] for note in notes):
        return await run_in_threadpool(
            _render, request, who, plan_id, _DEFAULT_PAGES, error=refused or _BAD_NOTE
        )
    plans = app_state(request).services.plans
    stored = await run_in_threadpool(plans.request_changes, plan_id, who.principal, text, notes)
    return _back(stored.digest, "changes")


_BAD_NOTE = "A comment on an op is too long or holds a character that cannot be stored: shorten it."


@router.post("/{plan_id}/reject")
def reject(request: Request, who: Poster, plan_id: PlanId, comment: CommentField = "") -> Response:
    text, refused = comment_or_refusal(comment)
    if refused:
        return _render(request, who, plan_id, _DEFAULT_PAGES, error=refused)
    stored = app_state(request).services.plans.reject(plan_id, who.principal, text)
    return _back(stored.digest, "reject")


@router.get("/{plan_id}/writes/{index}")
def write_content(
    request: Request, who: Viewer, plan_id: PlanId, index: Annotated[int, Path(ge=0, le=1_000_000)]
) -> Response:
    """What write op ``index`` puts in the store, whole, as a download (``sidecar.edge.downloads``)."""
    services, reader = app_state(request).services, who.principal
    stream = services.plans.write_content(plan_id, reader, index)
    return download(stream, lambda: services.reads.served(reader, stream.entry, stream.entry.size or 0, None))


@router.post("/{plan_id}/apply")
def apply(request: Request, who: Poster, plan_id: PlanId) -> Response:
    stored = app_state(request).services.plans.apply(plan_id, who.principal)
    return _back(stored.digest, "apply")


@router.post("/{plan_id}/revert")
def revert(request: Request, who: Poster, plan_id: PlanId) -> Response:
    inverse = app_state(request).services.plans.revert(plan_id, who.principal)
    return _back(inverse.digest, "revert")
