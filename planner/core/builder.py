"""PlanBuilder: write plans fluently in Python, validated like any other plan.

plan = (
    PlanBuilder("File inbox", scope=["matters/acme"])
    .mkdir("matters/acme/alice", parents=True)
    .move("matters/acme/inbox/1.pdf", "matters/acme/alice/1.pdf", reason="From: Alice")
    .build()
)

Given ``upload`` (``PvaClient.upload``, or ``PvaClient.builder`` wires it),
``write`` hands content over ``inline_limit`` bytes to it and names the
returned sha256 as ``content_ref``: the plan stays small, whatever it writes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

from planner.core.entry import Entry
from planner.core.parse import plan_from_document
from planner.core.plan import PLAN_VERSION, Expect, Plan

ExpectLike = Expect | Mapping[str, Any] | Entry | None
Uploader = Callable[[bytes], str]  # content -> the sha256 it is stored under (a content_ref)
INLINE_LIMIT = 1024 * 1024  # bytes written inline; larger goes to the uploader, when there is one


class PlanBuilder:
    """Accumulates ops; ``build()`` validates them into a ``Plan``."""

    def __init__(
        self,
        title: str,
        *,
        scope: Sequence[str],
        upload: Uploader | None = None,
        inline_limit: int = INLINE_LIMIT,
    ) -> None:
        self._title = title
        self._scope = list(scope)
        self._ops: list[dict[str, Any]] = []
        self._upload = upload
        self._inline_limit = inline_limit

    def _add(self, op: str, reason: str | None, expect: ExpectLike, **fields: Any) -> Self:
        body: dict[str, Any] = {"op": op}
        body.update({k: v for k, v in fields.items() if v is not None and v is not False})
        if reason is not None:
            body["reason"] = reason
        if expect is not None:
            body["expect"] = _expect(expect)
        self._ops.append(body)
        return self

    def mkdir(
        self, path: str, *, parents: bool = False, reason: str | None = None, expect: ExpectLike = None
    ) -> Self:
        return self._add("mkdir", reason, expect, path=path, parents=parents)

    def move(
        self,
        src: str,
        dst: str,
        *,
        reason: str | None = None,
        expect: ExpectLike = None,
        overwrite: bool = False,
        expect_dst: ExpectLike = None,
    ) -> Self:
        pinned = _expect(expect_dst) if expect_dst is not None else None
        return self._add("move", reason, expect, src=src, dst=dst, overwrite=overwrite, expect_dst=pinned)

    def rename(self, path: str, name: str, *, reason: str | None = None, expect: ExpectLike = None) -> Self:
        return self._add("rename", reason, expect, path=path, name=name)

    def write(
        self,
        path: str,
        content: str | bytes | None = None,
        *,
        content_ref: str | None = None,
        overwrite: bool = False,
        reason: str | None = None,
        expect: ExpectLike = None,
    ) -> Self:
        """Write text (UTF-8), bytes (sent as base64) or an uploaded blob's sha256.

        With an uploader, content over the inline limit is uploaded here and named by ``content_ref``.
        """
        encoding = None
        if content is not None and self._upload is not None:
            data = content.encode("utf-8") if isinstance(content, str) else content
            if len(data) > self._inline_limit:
                content, content_ref = None, self._upload(data)
        if isinstance(content, bytes):
            content, encoding = base64.b64encode(content).decode("ascii"), "base64"
        return self._add(
            "write",
            reason,
            expect,
            path=path,
            content=content,
            encoding=encoding,
            content_ref=content_ref,
            overwrite=overwrite,
        )

    def copy(self, src: str, dst: str, *, reason: str | None = None, expect: ExpectLike = None) -> Self:
        return self._add("copy", reason, expect, src=src, dst=dst)

    def delete(self, path: str, *, reason: str | None = None, expect: ExpectLike = None) -> Self:
        return self._add("delete", reason, expect, path=path)

    def document(self) -> dict[str, Any]:
        """The plan as a JSON-ready dict, before validation."""
        return {"pva": PLAN_VERSION, "title": self._title, "scope": self._scope, "ops": self._ops}

    def build(self) -> Plan:
        """Validate and return the plan; raise PlanSyntaxError when it is malformed."""
        return plan_from_document(self.document())


def _expect(value: ExpectLike) -> dict[str, Any]:
    """Accept an Expect, a dict, or an Entry (pins its hash, size and generation)."""
    if isinstance(value, Expect):
        return value.model_dump(exclude_none=True)
    if isinstance(value, Entry):
        pinned = {"sha256": value.sha256, "size": value.size, "generation": value.generation}
        return {k: v for k, v in pinned.items() if v is not None}
    return dict(value or {})
