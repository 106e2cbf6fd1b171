"""Tools for LLM function calling: definitions generated from the plan schema, and one dispatcher.

``definitions("openai" | "anthropic")`` gives the tools in each vendor's
format; the plan parameter *is* ``plan_json_schema()``, so the tools cannot
drift from the DSL. ``ToolBox.call(name, arguments)`` runs one tool call
through a ``PvaClient`` and returns a compact JSON-ready answer an LLM can
act on: diagnostics with their codes and a hint on how to fix each. A model's
mistake (unknown tool, malformed plan, a refusal by the sidecar) is an answer
with ``"ok": false``, never an exception. There is no approve or apply tool:
agents can only propose.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from planner.client.http_client import ClientError, PvaClient
from planner.client.models import PlanStatus
from planner.core.errors import PlanSyntaxError, TreeError
from planner.core.parse import parse_plan
from planner.core.plan import Plan
from planner.core.preview import media_type, readable_text
from planner.core.report import Code, Diagnostic, Report
from planner.core.schema import plan_json_schema
from planner.core.tree import Tree

Format = Literal["openai", "anthropic"]
FORMATS: tuple[Format, ...] = ("openai", "anthropic")
MAX_LISTED = 500  # entries of one folder returned to a model; more is noise in its context
READ_CAP, MAX_READ_CAP = 64 * 1024, 1024 * 1024  # bytes of a file a model reads: by default, at most
MAX_DIAGNOSTICS = 50  # the first ones; the count says how many more
BINARY_NEXT = "not text, so not shown: judge the file by its name, size and folder, or leave it for a person"

# How to fix each diagnostic, for a model that reads only the answer. Every code has one (tested).
HINTS: dict[Code, str] = {
    Code.INVALID_PATH: "Spell the path as plan-format.md says: relative, '/'-separated, no '.', '..', "
    "empty or reserved segments, no control characters, no names Windows or GCS cannot hold.",
    Code.OUT_OF_SCOPE: "Keep every path inside the plan's 'scope' (and your token's scope); "
    "add the subtree to 'scope' only if you may touch it.",
    Code.NOT_FOUND: "The path does not exist at that point of the plan: list the folder to find the "
    "right name, or create it with an earlier op.",
    Code.ALREADY_EXISTS: "The target exists: pick another name, or move it away first; overwrite a file "
    "only with 'overwrite': true and an 'expect' pinning its sha256.",
    Code.PARENT_NOT_FOUND: "Create the parent folder first: add a mkdir op (with 'parents': true) "
    "before this one.",
    Code.NOT_A_DIRECTORY: "A file stands where the path needs a folder: choose another folder.",
    Code.IS_A_DIRECTORY: "A folder stands where the op needs a file: name a file, or use move/delete "
    "for the folder itself.",
    Code.INTO_ITSELF: "A folder cannot be moved or copied into itself: choose a destination outside it.",
    Code.NAME_COLLISION: "A sibling differs only by case or Unicode normalisation: use that exact "
    "spelling, or a clearly different name.",
    Code.PRECONDITION_FAILED: "The store differs from your 'expect': list the folder again, take the "
    "current sha256 and size, and re-plan from what is there now.",
    Code.CONFLICT: "Two ops touch the same path: merge them into one op, or order them so that "
    "each acts on what the previous left.",
    Code.TOO_LARGE: "The plan or a write is over a limit: split it into smaller plans, or upload "
    "large content as a blob and use 'content_ref'.",
    Code.ON_HOLD: "A legal hold preserves this document: leave it where it is (you may copy it, or file "
    "new documents into its folder). List the holds with pva_list_holds; only counsel can release one.",
    Code.UNVERIFIED: "Not an error: a precondition could not be checked here (no hash known); "
    "the sidecar checks it against the live store.",
    Code.NO_INVERSE: "Not an error: this op cannot be undone by an inverse plan; state why in "
    "'reason' so the approver knows.",
}


@dataclass(frozen=True)
class Tool:
    """One tool: its name, what it does (for the model), and the JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


def _plan_parameter() -> dict[str, Any]:
    """The plan schema as one tool argument: ``$defs`` hoisted to the root, the op union as ``anyOf``.

    ``$id`` goes (it would move the base of every ``$ref``); the ``if``/``then``
    chain that gives sharp errors to validators becomes the plain union of op
    kinds, which tells a model the same thing more simply.
    """
    schema = json.loads(json.dumps(plan_json_schema()))  # a deep copy of the cached schema
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    defs = schema.pop("$defs")
    items = schema["properties"]["ops"]["items"]
    schema["properties"]["ops"]["items"] = {"anyOf": [rule["then"] for rule in items["allOf"]]}
    return {
        "type": "object",
        "properties": {"plan": schema},
        "required": ["plan"],
        "additionalProperties": False,
        "$defs": defs,
    }


def _submit_parameters(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan, and ``supersedes``: the id of the earlier version a revision replaces."""
    supersedes = {
        "type": "string",
        "pattern": "^[0-9a-f]{8,64}$",
        "description": "When this plan revises one you submitted (changes were requested, say): that "
        "plan's id. It becomes superseded, and the reviewer sees what changed and the discussion so far.",
    }
    return plan | {"properties": plan["properties"] | {"supersedes": supersedes}}


def _one_string(name: str, description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "string", "description": description}},
        "required": [name],
        "additionalProperties": False,
    }


def tools() -> list[Tool]:
    """The tools, vendor-neutral. There is no approve or apply tool: agents only propose."""
    plan = _plan_parameter()
    return [
        Tool(
            "pva_verify_plan",
            "Dry-run a plan/v1 against the live store. Stores nothing. Returns ok, every diagnostic "
            "with its code and a hint to fix it, and the effect. Verify before you submit.",
            plan,
        ),
        Tool(
            "pva_submit_plan",
            "Submit a plan/v1 for approval. It is verified again; the answer is its id and state: "
            "pending (a person reviews it), approved (by policy), or rejected with diagnostics. "
            "Submitting the same plan twice returns the same plan. To revise a plan of yours "
            "(changes requested), submit the new version with 'supersedes': the old plan's id.",
            _submit_parameters(plan),
        ),
        Tool(
            "pva_plan_status",
            "Where a submitted plan stands (pending, approved, rejected, applying, applied, failed, "
            "stale, reverted), with its diagnostics and the reviewer's decision.",
            _one_string("id", "The plan's id (its digest, or the first 8+ hex digits)."),
        ),
        Tool(
            "pva_list_folder",
            "List one folder of the store as the planner sees it: each entry's name, kind, size and "
            "sha256 (put the sha256 in 'expect' when you move or delete the file).",
            _one_string("path", "A folder relative to the store root, e.g. 'matters/acme/inbox'."),
        ),
        Tool(
            "pva_read_file",
            "Read a file of the store as text (UTF-8, or UTF-16 with a byte-order mark; undecodable "
            "bytes become U+FFFD), at most 'max_bytes' of it ('truncated' says if there was more). "
            "A binary file (a PDF, an image, an archive) is not shown: the answer says 'binary' and "
            "what it is. Read only what you need: every read is recorded in the audit.",
            {
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "A file's path, e.g. 'matters/acme/inbox/1.pdf'.",
                    },
                    "max_bytes": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_READ_CAP,
                        "description": f"The most bytes to return (default {READ_CAP}).",
                    },
                },
                "required": ["path"],
                "additionalProperties": False,
            },
        ),
        Tool(
            "pva_search_names",
            "Find files and folders below a folder whose name (or path below it) matches a glob, "
            "e.g. '*.pdf' or 'inbox/*invoice*'. Returns paths, kinds and sizes, at most 500.",
            {
                "type": "object",
                "properties": {
                    "pattern": {
                        "type": "string",
                        "description": "A glob: * ? [abc], matched case-insensitively.",
                    },
                    "path": {
                        "type": "string",
                        "description": "The folder to search below ('' for your scope's root).",
                    },
                },
                "required": ["pattern", "path"],
                "additionalProperties": False,
            },
        ),
        Tool(
            "pva_document_history",
            "A document's chain of custody: every applied op that created, moved, renamed or deleted "
            "it, who submitted and who approved, following moves to its current name.",
            _one_string("path", "A file's path, current or former."),
        ),
        Tool(
            "pva_list_holds",
            "The legal holds in your scope: the paths under each. Nothing under a held path may be "
            "moved, renamed, overwritten or deleted (an op that tries is on_hold); copying it and "
            "filing new documents into a held folder are allowed.",
            {"type": "object", "properties": {}, "additionalProperties": False},
        ),
    ]


def definitions(form: Format) -> list[dict[str, Any]]:
    """The tools in OpenAI (Chat Completions ``tools``) or Anthropic (Messages ``tools``) format."""
    if form == "openai":
        return [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in tools()
        ]
    if form == "anthropic":
        return [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools()]
    raise ValueError(f"unknown tool format {form!r}; use one of {', '.join(FORMATS)}")


# -- compact answers ------------------------------------------------------------------


def diagnostic_answer(diagnostic: Diagnostic) -> dict[str, Any]:
    """One diagnostic, with the hint for its code; empty fields left out."""
    body: dict[str, Any] = {
        "code": str(diagnostic.code),
        "severity": diagnostic.severity,
        "op": diagnostic.op_index,
        "field": diagnostic.field,
        "path": diagnostic.path,
        "message": diagnostic.message,
        "hint": HINTS[diagnostic.code],
    }
    return {key: value for key, value in body.items() if value is not None}


def _diagnostics(found: Iterable[Diagnostic]) -> dict[str, Any]:
    listed = list(found)
    body: dict[str, Any] = {"diagnostics": [diagnostic_answer(d) for d in listed[:MAX_DIAGNOSTICS]]}
    if len(listed) > MAX_DIAGNOSTICS:
        body["more_diagnostics"] = len(listed) - MAX_DIAGNOSTICS
    return body


def report_answer(report: Report) -> dict[str, Any]:
    """A verification, compact: ok, the digest, diagnostics with hints, and the effect in numbers."""
    effect = report.effect
    return {
        "ok": report.ok,
        "digest": report.digest,
        **_diagnostics(report.diagnostics),
        "effect": {
            "ops": effect.counts,
            "created": len(effect.created),
            "moved": len(effect.moved),
            "written": len(effect.written),
            "overwritten": len(effect.overwritten),
            "copied": len(effect.copied),
            "deleted": len(effect.deleted),
            "files_deleted": effect.files_deleted,
            "bytes_written": effect.bytes_written,
        },
        "next": "submit it with pva_submit_plan"
        if report.ok
        else "fix every error (see each hint) and verify again",
    }


NEXT_STEP = {
    "pending": "a person reviews it; check later with pva_plan_status",
    "approved": "approved; the sidecar applies it (check with pva_plan_status)",
    "applying": "being applied; check again with pva_plan_status",
    "applied": "done",
    "rejected": "rejected: read the diagnostics or the rejection, then submit a corrected plan",
    "failed": "the apply failed and nothing changed: read the diagnostics and submit a corrected plan",
    "stale": "the store changed under the plan: list the folders again and re-plan",
    "reverted": "it was applied and then undone",
    "changes_requested": (
        "an approver asked for changes: read the rejection's comments (per op), revise the plan and submit "
        "it with pva_submit_plan, 'supersedes' set to this plan's id"
    ),
    "superseded": "replaced by another version: follow 'superseded_by' with pva_plan_status",
}


def status_answer(status: PlanStatus) -> dict[str, Any]:
    """A submitted plan, compact: id, state, what decided it, diagnostics with hints, the next step."""
    body: dict[str, Any] = {
        "ok": True,
        "id": status.id,
        "title": status.title,
        "state": str(status.state),
        **_diagnostics(status.diagnostics),
        "next": NEXT_STEP.get(str(status.state), ""),
    }
    if status.decision is not None:
        body["decision"] = {"outcome": status.decision.outcome, "reason": status.decision.reason}
    if status.rejection is not None:
        body["rejection"] = {"by": status.rejection.actor, "comment": status.rejection.comment}
        if status.rejection.ops:  # a request for changes: what to change, op by op (0-based)
            body["rejection"]["ops"] = [{"op": c.op, "comment": c.comment} for c in status.rejection.ops]
    for name in ("supersedes", "superseded_by", "page"):  # page: where a person reviews it
        if getattr(status, name) is not None:
            body[name] = getattr(status, name)
    if status.derived is not None:  # a person approved only part of the original plan
        body["derived"] = {"original": status.derived.original, "without": status.derived.without}
    return body


def error_answer(code: str, message: str, problems: Iterable[Any] = (), hint: str = "") -> dict[str, Any]:
    """A tool call that could not be done: a stable code, the reason, and what to do about it."""
    body: dict[str, Any] = {"ok": False, "error": {"code": code, "message": message}}
    listed = [str(problem) for problem in problems]
    if listed:
        body["error"]["problems"] = listed[:MAX_DIAGNOSTICS]
    if hint:
        body["hint"] = hint
    return body


# -- dispatch -------------------------------------------------------------------------


class ToolBox:
    """Runs tool calls against one sidecar, as the agent's token.

    ``tree`` is what ``pva_list_folder`` lists (the agent's manifest or scan);
    without it, the sidecar lists the folder (``GET /v1/tree``). Files are
    read and names searched through the sidecar, inside the token's scope.
    """

    def __init__(self, client: PvaClient, *, tree: Tree | None = None) -> None:
        self.client = client
        self.tree = tree
        self._handlers: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "pva_verify_plan": self._verify,
            "pva_submit_plan": self._submit,
            "pva_plan_status": self._status,
            "pva_list_folder": self._list_folder,
            "pva_read_file": self._read_file,
            "pva_search_names": self._search_names,
            "pva_document_history": self._history,
            "pva_list_holds": self._holds,
        }

    @property
    def names(self) -> list[str]:
        return list(self._handlers)

    def call(self, name: str, arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
        """Run one tool call; ``arguments`` as the model sent them (a JSON string or an object)."""
        handler = self._handlers.get(name)
        if handler is None:
            return error_answer("unknown_tool", f"no tool named {name!r}", hint=f"use one of {self.names}")
        try:
            return handler(_arguments(arguments))
        except PlanSyntaxError as error:
            return error_answer(
                "invalid_plan",
                "the plan is not a valid plan/v1 document",
                error.problems,
                hint="fix each problem at its JSON location (plan-format.md); the schema is in the tool",
            )
        except ClientError as error:
            return error_answer(error.code, error.message, error.problems, hint=_client_hint(error))
        except ArgumentError as error:
            return error_answer("invalid_arguments", str(error), hint="send the arguments the schema names")

    def _verify(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return report_answer(self.client.verify(_plan(arguments)))

    def _submit(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        supersedes = _string(arguments, "supersedes") if arguments.get("supersedes") is not None else None
        return status_answer(self.client.submit(_plan(arguments), supersedes=supersedes))

    def _status(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return status_answer(self.client.get(_string(arguments, "id")))

    def _history(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return {"ok": True, **self.client.history(_string(arguments, "path"))}

    def _holds(self, _arguments: Mapping[str, Any]) -> dict[str, Any]:
        holds = [{"id": hold.id, "paths": hold.paths} for hold in self.client.holds()]
        return {"ok": True, "holds": holds, "next": "plan around them: no op may move or remove a held path"}

    def _list_folder(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        path = _string(arguments, "path", empty=True).strip("/")
        if self.tree is None:  # the sidecar lists it (GET /v1/tree): nothing is hashed to answer
            found = self.client.list_folder(path, all_pages=False, limit=MAX_LISTED + 1)
            keep = ("name", "kind", "size", "sha256")
            entries = [{k: e[k] for k in keep if e.get(k) is not None} for e in found[:MAX_LISTED]]
            return _listed(path, entries, len(found))
        try:
            names = self.tree.names(path)
        except TreeError as error:
            return error_answer("not_found", str(error), hint="list the parent folder to find the right name")
        entries = []
        for name in names[:MAX_LISTED]:
            entry = self.tree.stat(f"{path}/{name}" if path else name)
            assert entry is not None
            item = {"name": name, "kind": entry.kind, "size": entry.size, "sha256": entry.sha256}
            entries.append({key: value for key, value in item.items() if value is not None})
        return _listed(path, entries, len(names))

    def _read_file(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """A whole-file read, cut off after the cap: the sidecar records the read as a custody event."""
        path = _string(arguments, "path").strip("/")
        cap = arguments.get("max_bytes", READ_CAP)
        if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_READ_CAP:
            raise ArgumentError(f"'max_bytes' must be a whole number from 1 to {MAX_READ_CAP}")
        data = b""
        chunks = self.client.read_chunks(path)
        try:
            for chunk in chunks:
                data += chunk
                if len(data) > cap:
                    break
        finally:
            chunks.close()  # type: ignore[attr-defined]  # a generator: closing it ends the download
        truncated = len(data) > cap
        text = readable_text(data[:cap], cut=truncated)
        if text is None:  # a PDF, an image, an archive: as text it is noise that fills a model's context
            return {"ok": True, "path": path, "binary": True, "media": media_type(data), "next": BINARY_NEXT}
        return {"ok": True, "path": path, "text": text, "truncated": truncated}

    def _search_names(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        path = _string(arguments, "path", empty=True).strip("/")
        pattern = _string(arguments, "pattern").casefold()
        base = len(path) + 1 if path else 0
        found = []
        for line in itertools.islice(self.client.manifest(path), 1, None):
            entry = json.loads(line)
            rest = str(entry.get("path", ""))[base:]
            name = rest.rsplit("/", 1)[-1]
            if fnmatch.fnmatchcase(name.casefold(), pattern) or fnmatch.fnmatchcase(rest.casefold(), pattern):
                found.append({k: entry[k] for k in ("path", "kind", "size") if k in entry})
                if len(found) > MAX_LISTED:
                    break
        body: dict[str, Any] = {"ok": True, "path": path, "pattern": pattern, "matches": found[:MAX_LISTED]}
        if len(found) > MAX_LISTED:
            body["more_matches"] = True
        return body


def _listed(path: str, entries: list[dict[str, Any]], total: int) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": True, "path": path, "entries": entries}
    if total > len(entries):
        body["more_entries"] = total - len(entries)
    return body


class ArgumentError(ValueError):
    """The model's arguments do not match the tool's schema."""


def _arguments(arguments: Mapping[str, Any] | str | None) -> Mapping[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError as error:
            raise ArgumentError(f"the arguments are not JSON: {error}") from None
    if not isinstance(arguments, Mapping):
        raise ArgumentError("the arguments must be a JSON object")
    return arguments


def _string(arguments: Mapping[str, Any], name: str, *, empty: bool = False) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or (not value and not empty):
        raise ArgumentError(f"'{name}' must be a non-empty string")
    return value


def _plan(arguments: Mapping[str, Any]) -> Plan:
    """The 'plan' argument, parsed as strictly as any untrusted plan (a JSON string is accepted too)."""
    document = arguments.get("plan")
    if document is None:
        raise ArgumentError("'plan' is required: a plan/v1 document")
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    return parse_plan(text.encode("utf-8"))


def _client_hint(error: ClientError) -> str:
    if error.status == 403:
        return "your token may not do this, or not on these paths: stay inside your token's scope"
    if error.status == 404:
        return "no such plan or path: check the id or list the folder"
    if error.status == 422:
        return "the sidecar refused the request as malformed: fix each problem"
    if error.status is None or error.status >= 500:
        return "the sidecar is not available: try again later, and do not resubmit a changed plan meanwhile"
    return ""
