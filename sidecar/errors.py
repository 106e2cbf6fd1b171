"""The sidecar's exceptions: a branch of ``planner.core.errors.PvaError``.

Backends raise the tree errors of ``planner.core.errors`` (``NotFound``,
``AlreadyExists``, ``NotADirectory``, ``IsADirectory``) exactly as the
in-memory tree does, so one conformance suite holds for both. No ``OSError``
and no third-party exception escapes a backend: they are translated here::

    PvaError
    ├── TreeError ...            (planner.core.errors) the state makes the operation impossible
    ├── StoreError               a backend could not do what was asked
    │   ├── Refused              confinement: a symlink, a hard link, a special file
    │   ├── NotInStore           a read names no such file or folder (the read endpoints: 404)
    │   ├── StoreFault           the storage failed (EIO, ENOSPC, EACCES, ...); errno kept
    │   └── ContentMismatch      a stored copy (trash, blob) no longer holds the content its sha256 names
    ├── ApplyError               the apply engine stopped
    │   ├── LockTimeout          the plan's paths stayed locked by another apply
    │   ├── LeaseLost            a replica's lock lease ran out while it held it (sidecar.apply.leases)
    │   ├── CommittedError       the plan is applied (past its commit point), but what follows stopped
    │   └── RecoveryError        recovery found a state it cannot explain: an operator must look
    ├── AuditError               the audit database
    │   ├── NotMigrated          the database is not at the current migration (run pva db upgrade)
    │   ├── BadDatabaseUrl       the URL is unparseable, or names neither SQLite nor PostgreSQL
    │   ├── DamagedRow           a row holds a value pva never writes (a time that is no time)
    │   ├── CheckpointError      (sidecar.audit.checkpoints) a checkpoint key or file that cannot be used
    │   └── UnknownPlan          no plan with that digest
    ├── TokenError               (sidecar.tokens) a token request was refused
    │   ├── InvalidTokenRequest  a bad role, name, scope or expiry
    │   ├── TokenNameTaken       names stay taken, even after a revoke
    │   └── UnknownToken         no token with that id or name
    ├── WorkflowError            (sidecar.workflow) a plan's state does not allow the action
    │   ├── IllegalTransition    the state machine has no such move
    │   ├── NotAllowed           this actor may not (the author approving, a token out of scope)
    │   └── NotApproved          the plan lacks the approvals its policy requires
    └── PolicyError              (sidecar.policy) the policy file is invalid; the message names the rule

The token, workflow and policy errors live beside the code that raises them;
each kind carries the ``exit_code`` the ``pva`` command exits with.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from planner.core.errors import PvaError


class StoreError(PvaError):
    """A backend could not do what was asked."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


class Refused(StoreError):
    """The path crosses a symlink, or names a hard-linked or special file: pva will not touch it."""


class NotInStore(StoreError):
    """A read names no file (or no folder) of the store: HTTP 404 from the read endpoints."""

    exit_code = 2  # the user named the path


class StoreFault(StoreError):
    """The storage itself failed; ``errno`` says how (None where the backend has no errno)."""

    def __init__(self, path: str, message: str, *, errno: int | None = None) -> None:
        self.errno = errno
        super().__init__(path, message)


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn an OSError on the sidecar's own files (journals, locks, a move journal) into a StoreFault."""
    try:
        yield
    except OSError as error:
        raise StoreFault(where, f"{where}: {error.strerror}", errno=error.errno) from None


class ContentMismatch(StoreError):
    """No stored copy of a content_ref holds that content any more (an altered trash copy): never restored.

    ``altered`` lists the reserved paths whose bytes differ from their recorded sha256.
    """

    def __init__(self, path: str, message: str, *, altered: tuple[str, ...] = ()) -> None:
        self.altered = altered
        super().__init__(path, message)


class ApplyError(PvaError):
    """The apply engine stopped."""


class LockTimeout(ApplyError):
    """The plan's paths stayed locked by another apply past the timeout."""


class LeaseLost(ApplyError):
    """A lock lease ran out while its holder held it: another replica may own the paths now.

    The holder must write nothing more (its journal refuses to); whoever takes
    the paths next settles the apply from its journal.
    """


class CommittedError(ApplyError):
    """The plan is applied (its commit record is durable), but the audit or the clean-up after it stopped.

    Recovery finishes it; the message says whether the outcome is audited yet.
    """


class RecoveryError(ApplyError):
    """Recovery found a state it cannot explain; it changed nothing and an operator must look."""


class AuditError(PvaError):
    """The audit database refused or failed."""


class NotMigrated(AuditError):
    """The audit database is not at the current migration."""

    exit_code = 2  # the fix is a command the user runs: pva db upgrade

    def __init__(self, message: str = "the audit database is not migrated: run 'pva db upgrade'") -> None:
        super().__init__(message)


class BadDatabaseUrl(AuditError):
    """The database URL cannot be used (unparseable, or not SQLite or PostgreSQL)."""

    exit_code = 2  # the user gave it


class DamagedRow(AuditError):
    """An audit row holds a value pva never writes (edited behind its back); ``seq`` names the event."""

    def __init__(self, seq: int | None, problem: str) -> None:
        self.seq, self.problem = seq, problem  # seq: None when the row is not known (a column read)
        where = "" if seq is None else f" at seq {seq}"
        super().__init__(f"the audit database is damaged{where}: {problem} (see 'pva audit verify')")


class UnknownPlan(AuditError):
    """No plan with that digest is recorded."""

    exit_code = 2  # the user named the plan
