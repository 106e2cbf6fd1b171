"""PvaClient against the real sidecar app in process: every call, on a real store folder and SQLite."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from planner.client.http_client import PvaClient, WaitTimeout, plan_of
from planner.client.models import PlanStatus
from planner.core.manifest import read_manifest
from planner.core.parse import plan_from_document
from planner.core.states import PlanState
from sidecar.settings import Settings
from tests.client.conftest import FILE_IT, MISSING

Clients = dict[str, PvaClient]
PATIENCE = 120.0  # seconds: a bound on a hung apply worker, never on a slow one


def store_of(settings: Settings) -> Path:
    return Path(settings.store)


def test_verify_reports_without_storing(as_: Clients) -> None:
    """verify returns the sidecar's report for a Plan or a document, and records no plan."""
    plan = plan_from_document(FILE_IT)
    report = as_["agent"].verify(plan)
    assert report.ok
    assert report.digest == plan.digest()
    assert as_["agent"].verify(MISSING).errors[0].code == "not_found"
    assert as_["agent"].list() == []


def test_submit_is_pending_and_idempotent(as_: Clients) -> None:
    """submit makes a pending plan with the policy's decision and report; submitting again returns it."""
    first = as_["agent"].submit(FILE_IT)
    assert first.state is PlanState.PENDING
    assert first.id == plan_from_document(FILE_IT).digest()
    assert first.decision is not None
    assert first.approvals_needed == 1
    assert first.report is not None
    assert first.report.ok
    again = as_["agent"].submit(plan_from_document(FILE_IT))
    assert again.id == first.id
    assert again.state is PlanState.PENDING


def test_submit_of_a_broken_plan_is_rejected_with_diagnostics(as_: Clients) -> None:
    """A plan that fails verification comes back rejected, with the verifier's diagnostics."""
    status = as_["agent"].submit(MISSING)
    assert status.state is PlanState.REJECTED
    assert [d.code for d in status.errors] == ["not_found"]
    assert not status.undecided


def test_get_by_prefix_has_the_document_and_report(as_: Clients) -> None:
    """get accepts the first 8 hex digits and returns the plan document with its report."""
    submitted = as_["agent"].submit(FILE_IT)
    status = as_["agent"].get(submitted.id[:8])
    assert status.id == submitted.id
    assert status.plan is not None
    assert plan_from_document(status.plan).digest() == submitted.id
    assert status.report is not None


def test_list_filters_and_pages(as_: Clients) -> None:
    """list filters by state (one or several), author and path, and follows pages only when asked."""
    pending = as_["agent"].submit(FILE_IT)
    rejected = as_["agent"].submit(MISSING)
    third = as_["agent"].submit({**FILE_IT, "title": "Another", "ops": [{"op": "mkdir", "path": "m/b"}]})
    alice = as_["alice"]
    assert {p.id for p in alice.list(state="rejected")} == {rejected.id}
    assert {p.id for p in alice.list(state=["pending", PlanState.REJECTED])} == {
        pending.id,
        rejected.id,
        third.id,
    }
    assert alice.list(author="nobody") == []
    assert len(alice.list(path="m/b")) == 3  # every scope here is "m", which holds it
    assert alice.list(path="x") == []
    assert len(alice.list(limit=2)) == 2
    assert len(alice.list(limit=2, all_pages=True)) == 3


def test_approve_applies_the_plan(as_: Clients, settings: Settings) -> None:
    """An approver's approval makes the plan approved and, by default, applied to the store."""
    submitted = as_["agent"].submit(FILE_IT)
    answer = as_["alice"].approve(submitted.id, "custodian checked")
    assert answer.state is PlanState.APPLYING  # the approval queued the apply: a worker runs it
    status = as_["alice"].wait(submitted.id, timeout=PATIENCE)
    assert status.state is PlanState.APPLIED
    assert [(a.approver, a.comment) for a in status.approvals] == [("alice", "custodian checked")]
    assert (store_of(settings) / "m" / "alice" / "1.pdf").read_bytes() == b"contract"


def test_reject_is_final(as_: Clients, settings: Settings) -> None:
    """reject records who and why; the plan stays unapplied."""
    submitted = as_["agent"].submit(FILE_IT)
    status = as_["alice"].reject(submitted.id, "wrong custodian")
    assert status.state is PlanState.REJECTED
    assert status.rejection is not None
    assert (status.rejection.actor, status.rejection.comment) == ("alice", "wrong custodian")
    assert (store_of(settings) / "m" / "inbox" / "1.pdf").exists()


@pytest.mark.parametrize("auto_apply", [False])
def test_apply_applies_an_approved_plan_once(as_: Clients, settings: Settings) -> None:
    """Without auto-apply, apply runs an approved plan; applying again returns it as it is."""
    submitted = as_["agent"].submit(FILE_IT)
    assert as_["alice"].approve(submitted.id, "ok").state is PlanState.APPROVED
    assert as_["agent"].apply(submitted.id).state is PlanState.APPLYING
    applied = as_["agent"].wait(submitted.id, timeout=PATIENCE)
    assert applied.state is PlanState.APPLIED
    assert not (store_of(settings) / "m" / "notes.txt").exists()
    assert as_["agent"].apply(submitted.id).updated == applied.updated


def test_revert_submits_the_inverse(as_: Clients, settings: Settings) -> None:
    """revert submits the inverse (readable by plan_of); once approved it runs, the original is reverted."""
    original = as_["agent"].submit(FILE_IT)
    as_["alice"].approve(original.id, "ok")
    assert as_["alice"].wait(original.id, timeout=PATIENCE).state is PlanState.APPLIED
    inverse = as_["agent"].revert(original.id)
    assert inverse.state is PlanState.PENDING
    assert inverse.revert_of == original.id
    document = plan_of(as_["agent"].get(inverse.id))
    assert document is not None
    assert document.digest() == inverse.id
    as_["alice"].approve(inverse.id, "undo it")
    assert as_["alice"].wait(inverse.id, timeout=PATIENCE).state is PlanState.APPLIED
    assert as_["agent"].get(original.id).state is PlanState.REVERTED
    assert (store_of(settings) / "m" / "notes.txt").read_bytes() == b"old notes"


def test_wait_returns_once_the_plan_is_applied(as_: Clients) -> None:
    """wait polls until an approval made meanwhile has applied the plan."""
    submitted = as_["agent"].submit(FILE_IT)
    approver = threading.Timer(0.1, as_["alice"].approve, args=(submitted.id, "ok"))
    approver.start()
    seen: list[tuple[PlanState, object]] = []
    try:
        status = as_["agent"].wait(
            submitted.id, timeout=60, poll=0.02, on_change=lambda s: seen.append((s.state, s.progress))
        )
    finally:
        approver.join()
    assert status.state is PlanState.APPLIED
    states = [state for n, (state, _) in enumerate(seen) if n == 0 or seen[n - 1][0] != state]
    order = [PlanState.PENDING, PlanState.APPROVED, PlanState.APPLYING, PlanState.APPLIED]
    assert (states[0], states[-1]) == (PlanState.PENDING, PlanState.APPLIED)
    assert states == sorted(states, key=order.index)  # each state once, in order (some pass between looks)
    assert all(before != after for before, after in itertools.pairwise(seen))  # on a change only


def test_wait_times_out_with_the_last_status(as_: Clients) -> None:
    """wait raises WaitTimeout (exit code 1) carrying the still-pending plan once the timeout passes."""
    submitted = as_["agent"].submit(FILE_IT)
    with pytest.raises(WaitTimeout) as caught:
        as_["agent"].wait(submitted.id, timeout=0.05, poll=0.01)
    assert caught.value.last.state is PlanState.PENDING
    assert caught.value.exit_code == 1
    assert caught.value.code == "wait_timeout"


def test_wait_returns_at_once_for_a_decided_plan(as_: Clients) -> None:
    """wait on a plan that is already decided returns it without waiting."""
    submitted = as_["agent"].submit(MISSING)
    assert as_["agent"].wait(submitted.id, timeout=0).state is PlanState.REJECTED


def test_history_follows_the_move(as_: Clients) -> None:
    """history gives the document's chain of custody from its old name to its new one."""
    submitted = as_["agent"].submit(FILE_IT)
    as_["alice"].approve(submitted.id, "ok")
    as_["alice"].wait(submitted.id, timeout=PATIENCE)
    history = as_["agent"].history("m/inbox/1.pdf")
    assert history["version"] == "history/v1"
    assert history["current"] == ["m/alice/1.pdf"]
    assert [item["action"] for item in history["items"]] == ["moved"]


def test_audit_filters_and_pages(as_: Clients) -> None:
    """audit returns events in chain order, by plan, one page or every page."""
    submitted = as_["agent"].submit(FILE_IT)
    as_["alice"].approve(submitted.id, "ok")
    as_["alice"].wait(submitted.id, timeout=PATIENCE)
    events = as_["auditor"].audit(plan=submitted.id[:8])
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert {e["digest"] for e in events} == {submitted.id}
    assert "apply" in {e["kind"] for e in events}
    assert len(as_["auditor"].audit(limit=2)) == 2
    assert len(as_["auditor"].audit(limit=2, all_pages=True)) == len(as_["auditor"].audit(limit=1000))
    assert as_["auditor"].audit(actor="alice", since="2000-01-01T00:00:00Z")


def test_snapshot_streams_a_manifest(as_: Clients) -> None:
    """snapshot yields manifest/v1 lines of the live store below the prefix, header first."""
    lines = list(as_["agent"].snapshot("m"))
    assert '"manifest/v1"' in lines[0]
    tree = read_manifest(lines)
    assert {entry.path for entry in tree.walk()} >= {"m/inbox/1.pdf", "m/notes.txt"}


def test_plan_status_ignores_fields_it_does_not_know() -> None:
    """A newer sidecar's extra fields do not break the client's models."""
    body = {
        "id": "ab" * 32,
        "title": "t",
        "state": "pending",
        "author": "agent",
        "submitted": "2026-01-01T00:00:00Z",
        "updated": "2026-01-01T00:00:00Z",
        "revert_of": None,
        "priority": "high",
        "approvals": [{"approver": "a", "time": "2026-01-01T00:00:00Z", "comment": "c", "weight": 2}],
    }
    assert PlanStatus.model_validate(body).approvals[0].approver == "a"
