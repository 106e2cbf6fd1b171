"""The states of a submitted plan: a public contract of the sidecar's workflow and its clients. Pure."""

from __future__ import annotations

from enum import StrEnum


class PlanState(StrEnum):
    """Where a submitted plan stands (BRIEF: the plan states)."""

    PENDING = "pending"  # waiting for approvals
    APPROVED = "approved"  # enough approvals, or approved by policy
    REJECTED = "rejected"  # by verification, by policy, or by a person
    APPLYING = "applying"  # the engine has it
    APPLIED = "applied"  # every op took effect
    FAILED = "failed"  # the apply stopped and nothing changed
    STALE = "stale"  # the store changed under it; re-verify and submit again
    REVERTED = "reverted"  # its inverse plan was applied
    CHANGES_REQUESTED = "changes_requested"  # a person asked for changes (per op): revise and submit anew
    SUPERSEDED = "superseded"  # replaced by a revision (``supersedes``) or by the part a person approved
