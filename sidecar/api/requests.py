"""Reading request bodies as dependencies: a plan, or a comment, decoded strictly and within limits.

Parsing runs in the thread pool: a 100,000-op plan takes most of a second,
and the event loop must keep answering other requests meanwhile.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from planner.core.errors import PlanSyntaxError, SchemaProblem
from planner.core.parse import plan_from_document
from planner.core.plan import Plan
from sidecar.edge.body import read_json
from sidecar.edge.params import (
    ApprovalRequest,
    ChangesRequest,
    Comment,
    HoldRelease,
    HoldRequest,
    storable_problems,
)
from sidecar.edge.state import app_state

M = TypeVar("M", bound=BaseModel)


async def plan_body(request: Request) -> Plan:
    raw = await request.body()
    limits = app_state(request).limits
    plan = await run_in_threadpool(lambda: plan_from_document(read_json(raw, limits, what="plan")))
    problems = storable_problems(plan)
    if problems:
        raise PlanSyntaxError(problems)
    return plan


async def comment_body(request: Request) -> Comment:
    return await json_body(request, Comment)


async def approval_body(request: Request) -> ApprovalRequest:
    return await json_body(request, ApprovalRequest)


async def changes_body(request: Request) -> ChangesRequest:
    return await json_body(request, ChangesRequest)


async def hold_body(request: Request) -> HoldRequest:
    return await json_body(request, HoldRequest)


async def release_body(request: Request) -> HoldRelease:
    return await json_body(request, HoldRelease)


async def json_body(request: Request, kind: type[M]) -> M:
    """A small JSON body, strictly decoded within limits and validated as ``kind`` (422 otherwise)."""
    document = read_json(await request.body(), app_state(request).limits)
    try:
        return kind.model_validate(document)
    except ValidationError as error:
        problems = [
            SchemaProblem(
                "/" + "/".join(str(part) for part in item["loc"]), item["msg"].removeprefix("Value error, ")
            )
            for item in error.errors()
        ]
        raise PlanSyntaxError(problems, what="request body") from None


PlanBody = Annotated[Plan, Depends(plan_body)]
CommentBody = Annotated[Comment, Depends(comment_body)]
ApprovalBody = Annotated[ApprovalRequest, Depends(approval_body)]
ChangesBody = Annotated[ChangesRequest, Depends(changes_body)]
HoldBody = Annotated[HoldRequest, Depends(hold_body)]
ReleaseBody = Annotated[HoldRelease, Depends(release_body)]


def body_schema(name: str) -> dict[str, object]:
    """The OpenAPI ``requestBody`` of a route whose body a dependency reads (schema ``name``)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    }
