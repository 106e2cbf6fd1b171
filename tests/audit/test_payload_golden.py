"""Golden payloads: the canonical JSON (and chain hash) of each event kind's payload, pinned.

These bytes are hashed into the chain: if one changes, audits written before
it no longer verify. Each expected string was recorded from the code as it was
before the payloads were typed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from planner.core.entry import Entry
from planner.core.report import Code, Diagnostic
from sidecar.audit.chain import GENESIS, canonical, make_link
from sidecar.audit.payloads import (
    Approval,
    DocumentRead,
    HoldPlaced,
    HoldReleased,
    SecretBinding,
    TokenChange,
    Workflow,
    apply_payload,
    apply_record,
    approval_payload,
    decode,
    encode,
    incident_payload,
    plan_payload,
    workflow_payload,
)
from sidecar.audit.records import ApplyRecord, Incident, OpRecord, TrashedFile

T = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
DIGEST = "ab" * 32


def chain_hash(kind: str, payload: dict[str, object]) -> str:
    """The hash of the first event of a chain carrying ``payload``."""
    return make_link(
        seq=1, time=T, kind=kind, digest=DIGEST, actor="alice", payload=payload, prev=GENESIS
    ).hash


def applied() -> ApplyRecord:
    return ApplyRecord(
        digest=DIGEST,
        status="applied",
        actor="alice",
        started=T,
        finished=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
        ops=(
            OpRecord(0, "mkdir", "/a", after=Entry("/a", "dir")),
            OpRecord(
                1,
                "write",
                "/a/f.txt",
                before=Entry("/a/f.txt", "file", 3, "11" * 32, 7, 1.5),
                after=Entry("/a/f.txt", "file", 5, "22" * 32, None, None),
                trash="/.pva-trash/x/a/f.txt",
            ),
            OpRecord(2, "move", "/b/g", src="/a/g", before=None, after=Entry("/b/g", "file", 0, "33" * 32)),
            OpRecord(3, "delete", "/c", before=Entry("/c", "dir"), trash="/.pva-trash/x/c"),
        ),
        trashed=(
            TrashedFile("/a/f.txt", "/.pva-trash/x/a/f.txt", "11" * 32, 3),
            TrashedFile("/c/h", "/.pva-trash/x/c/h", None, None),
        ),
        diagnostics=(Diagnostic(code=Code.PRECONDITION_FAILED, op_index=1, path="/a/f.txt", message="Zoë"),),
        message="ok",
        store="local",
        recovered=True,
        attempt="att-1",
        inverse={"version": 1, "ops": []},
    )


def test_plan_recorded_payload_is_pinned() -> None:
    """A 'plan_recorded' payload: author, title, pending status."""
    typed = plan_payload("Tidy Zoë's files", author="alice")
    payload = encode(typed)
    assert decode("plan_recorded", payload) == typed
    assert canonical(payload) == PLAN
    assert chain_hash("plan_recorded", payload) == PLAN_HASH


def test_apply_payload_is_pinned() -> None:
    """An 'apply' payload: every field of the outcome, ops and trashed files compact (no nulls)."""
    typed = apply_payload(applied())
    payload = encode(typed)
    assert decode("apply", payload) == typed
    assert canonical(payload) == APPLY
    assert chain_hash("apply", payload) == APPLY_HASH


def test_a_bare_apply_payload_is_pinned() -> None:
    """A stale apply with nothing in it keeps its empty lists and null inverse."""
    record = ApplyRecord(digest=DIGEST, status="stale", actor="bob", started=T, finished=T)
    payload = encode(apply_payload(record))
    assert apply_record(DIGEST, "bob", payload) == record
    assert canonical(payload) == BARE_APPLY
    assert chain_hash("apply", payload) == BARE_APPLY_HASH


def test_incident_payload_is_pinned() -> None:
    """An 'incident' payload: the message and the paths."""
    typed = incident_payload(Incident(DIGEST, "store differs", ("/a", "/b")))
    payload = encode(typed)
    assert decode("incident", payload) == typed
    assert canonical(payload) == INCIDENT
    assert chain_hash("incident", payload) == INCIDENT_HASH


def test_approval_payload_is_pinned() -> None:
    """An 'approval' payload: approver, decision, comment, status."""
    payload = approval_payload("carol", "approved", "fine by me", "approved")
    assert canonical(payload) == APPROVAL
    assert decode("approval", payload) == Approval("carol", "approved", "fine by me", "approved")
    assert chain_hash("approval", payload) == APPROVAL_HASH


def test_workflow_payloads_are_pinned() -> None:
    """A 'workflow' payload: action, status, and the facts given that are not None."""
    submit = workflow_payload(
        "submit",
        "pending",
        errors=0,
        fingerprint="fp",
        outcome=None,
        rule=None,
        approvals_needed=2,
        reason="needs review",
    )
    assert canonical(submit) == WORKFLOW_SUBMIT
    assert chain_hash("workflow", submit) == WORKFLOW_SUBMIT_HASH
    assert canonical(workflow_payload("expire", "expired")) == '{"action":"expire","status":"expired"}'
    reverted = workflow_payload("revert_applied", "reverted", inverse="cd" * 32)
    assert canonical(reverted) == WORKFLOW_REVERT
    assert decode("workflow", reverted) == Workflow("revert_applied", "reverted", {"inverse": "cd" * 32})
    failed = workflow_payload("failed", "approved", message="disk full")
    assert canonical(failed) == '{"action":"failed","message":"disk full","status":"approved"}'


PLAN = '{"author":"alice","status":"pending","title":"Tidy Zoë\'s files"}'
PLAN_HASH = "496f05a0ba240b13e3f4748784dfd2a3fa5c69a4e33bb9fb9f30b24aa6b6660d"
APPLY = (
    '{"attempt":"att-1","diagnostics":[{"code":"precondition_failed","field":null,"message":"Zo'
    'ë","op_index":1,"path":"/a/f.txt","severity":"error"}],"finished":"2026-01-02T03:04:06.000'
    '000Z","inverse":{"ops":[],"version":1},"message":"ok","ops":[{"after":{"kind":"dir","path"'
    ':"/a"},"index":0,"kind":"mkdir","path":"/a"},{"after":{"kind":"file","path":"/a/f.txt","sh'
    'a256":"2222222222222222222222222222222222222222222222222222222222222222","size":5},"before'
    '":{"generation":7,"kind":"file","mtime":1.5,"path":"/a/f.txt","sha256":"111111111111111111'
    '1111111111111111111111111111111111111111111111","size":3},"index":1,"kind":"write","path":'
    '"/a/f.txt","trash":"/.pva-trash/x/a/f.txt"},{"after":{"kind":"file","path":"/b/g","sha256"'
    ':"3333333333333333333333333333333333333333333333333333333333333333","size":0},"index":2,"k'
    'ind":"move","path":"/b/g","src":"/a/g"},{"before":{"kind":"dir","path":"/c"},"index":3,"ki'
    'nd":"delete","path":"/c","trash":"/.pva-trash/x/c"}],"recovered":true,"started":"2026-01-0'
    '2T03:04:05.000006Z","status":"applied","store":"local","trashed":[{"path":"/a/f.txt","sha2'
    '56":"1111111111111111111111111111111111111111111111111111111111111111","size":3,"trash":"/'
    '.pva-trash/x/a/f.txt"},{"path":"/c/h","trash":"/.pva-trash/x/c/h"}]}'
)
APPLY_HASH = "428be761c5fed9e79326a3555eeb30b3bcfdc167d284a5e5c473d617fb35333a"
BARE_APPLY = (
    '{"attempt":"","diagnostics":[],"finished":"2026-01-02T03:04:05.000006Z","inverse":null,"me'
    'ssage":"","ops":[],"recovered":false,"started":"2026-01-02T03:04:05.000006Z","status":"sta'
    'le","store":"","trashed":[]}'
)
BARE_APPLY_HASH = "0bf560bbfa6812081b9a1d967d147717c9ab0fde966950d3dc3c27dbdaea4c7d"
INCIDENT = '{"message":"store differs","paths":["/a","/b"]}'
INCIDENT_HASH = "4879ee59195023e9b206a61ac9c0656d4b4856690512eab05a7ff727e57f3108"
APPROVAL = '{"approver":"carol","comment":"fine by me","decision":"approved","status":"approved"}'
APPROVAL_HASH = "a6e9b4c7d3a0e8773910e43622d3be8f93598285f2033054bdf4ee7a76d36811"
WORKFLOW_SUBMIT = (
    '{"action":"submit","approvals_needed":2,"errors":0,"fingerprint":"fp","reason":"needs revi'
    'ew","status":"pending"}'
)
WORKFLOW_SUBMIT_HASH = "7672c14231c3ae2f122d58f0a10063867ffed668c6c1b267e914d060bd8ba7f0"
WORKFLOW_REVERT = (
    '{"action":"revert_applied","inverse":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd'
    'cdcdcdcdcdcd","status":"reverted"}'
)


def test_token_payloads_are_pinned() -> None:
    """A 'token' payload: action, token, name, role; a 'created' one its scopes, secret check and expiry."""
    binding = SecretBinding("ef" * 32, None)
    created = TokenChange("created", "tok_1", "ci", "agent", ("/a", "/b"), binding)
    assert canonical(encode(created)) == (
        '{"action":"created","expires":null,"name":"ci","role":"agent","scopes":["/a","/b"],'
        '"secret_check":"efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef","token":"tok_1"}'
    )
    assert decode("token", encode(created)) == created
    revoked = TokenChange("revoked", "tok_1", "ci", "agent")
    assert canonical(encode(revoked)) == '{"action":"revoked","name":"ci","role":"agent","token":"tok_1"}'
    assert decode("token", encode(revoked)) == revoked


def test_read_payloads_are_pinned() -> None:
    """A 'read' payload: path, version and size; a range's part only when there is one."""
    whole = DocumentRead("matters/a.pdf", "cd" * 32, 10)
    assert canonical(encode(whole)) == f'{{"path":"matters/a.pdf","size":10,"version":"{"cd" * 32}"}}'
    assert decode("read", encode(whole)) == whole
    part = DocumentRead("matters/a.pdf", "generation:7", 2, "bytes=0-1")
    assert canonical(encode(part)) == (
        '{"part":"bytes=0-1","path":"matters/a.pdf","size":2,"version":"generation:7"}'
    )
    assert decode("read", encode(part)) == part


def test_hold_payloads_are_pinned() -> None:
    """'hold_placed' (id, matter, reason, paths) and 'hold_released' (id, reason) payloads and hashes."""
    paths = ("matters/acme/inbox", "matters/acme/mail")
    placed = HoldPlaced("hold_0123456789ab", "Smith v. Jones (2026-cv-0113)", "Preserve Zoë's mail", paths)
    assert canonical(encode(placed)) == HOLD_PLACED
    assert decode("hold_placed", encode(placed)) == placed
    assert chain_hash("hold_placed", encode(placed)) == HOLD_PLACED_HASH
    released = HoldReleased("hold_0123456789ab", "Case settled")
    assert canonical(encode(released)) == '{"hold":"hold_0123456789ab","reason":"Case settled"}'
    assert decode("hold_released", encode(released)) == released
    assert chain_hash("hold_released", encode(released)) == HOLD_RELEASED_HASH


HOLD_PLACED = (
    '{"hold":"hold_0123456789ab","matter":"Smith v. Jones (2026-cv-0113)","paths":["matters/acme/inbox",'
    '"matters/acme/mail"],"reason":"Preserve Zoë\'s mail"}'
)
HOLD_PLACED_HASH = "e0704c7d41018fb5b91c7c4caf1fb34329db44a691acf7e4929878e54b93a8ae"
HOLD_RELEASED_HASH = "74becada4cd68186b516bc935405887b03d953f241479267af3106edf7ddff59"
