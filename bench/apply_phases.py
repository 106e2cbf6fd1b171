"""Where one apply spends its wall time, measured from outside the engine.

The engine takes its backend, audit log and journals as arguments, so the
benchmark hands it timing wrappers that delegate every call and add its
seconds to a phase; no engine code is touched or patched. The pure work
between reading the live state and writing the journal's intent (verify,
compile the steps, build the intent) is the gap between those two calls.
Whatever no wrapper saw (recovery's scan, the footprint, locks, plan digests,
building the outcome record, comparing the read-back) is "other".
"""

from __future__ import annotations

import cProfile
import pstats
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sidecar.apply.journal import FileJournal, FileJournals, Journal
from sidecar.apply.journal_records import Intent, JournalRecord

# Phases in the order an apply meets them; the table lists them so.
PHASES = (
    "audit: record the plan, look up an earlier outcome",
    "read the live state (read_tree)",
    "verify, compile steps, build the intent (pure)",
    "journal: write the intent (fsync)",
    "staging: stage new content, make folders",
    "steps: renames and mkdirs",
    "syncs (syncfs per batch)",
    "journal: append records (fsync each)",
    "audit: record the outcome",
    "read back and compare with the prediction",
    "clean up and archive the journal",
    "other: recovery scan, footprint, locks, digests, outcome, compare",
)
_BACKEND_PHASES = {
    "rename": PHASES[5],
    "mkdir": PHASES[5],
    "sync": PHASES[6],
    "ensure_dir": PHASES[4],
    "stage_bytes": PHASES[4],
    "stage_copy": PHASES[4],
}
_AUDIT_PHASES = {"record_plan": PHASES[0], "outcome": PHASES[0], "record_apply": PHASES[8]}


class Phases:
    """Seconds per phase for one apply, and the two marks that bound the pure gap."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the last apply: each apply is measured on its own."""
        self.seconds: dict[str, float] = defaultdict(float)
        self.read_done: float | None = None  # end of the first read_tree
        self.intent_start: float | None = None  # start of the journal's creation
        self.reads = 0  # read_tree calls: the first reads the live state, the second reads back
        self.discards = 0  # discard calls: the first clears old staging, later ones clean up

    def timed(self, phase: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - start

        return wrapper

    def split(self, total: float) -> dict[str, float]:
        """Every phase's seconds for an apply that took ``total``; 'other' is what is left."""
        found = dict(self.seconds)
        if self.read_done is not None and self.intent_start is not None:
            found[PHASES[2]] = self.intent_start - self.read_done
        found[PHASES[11]] = total - sum(found.values())
        return {phase: found.get(phase, 0.0) for phase in PHASES}


class TimedBackend:
    """A backend that delegates every call and times the ones the engine's phases are made of."""

    def __init__(self, backend: Any, phases: Phases) -> None:
        self._backend = backend
        self.phases = phases

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._backend, name)
        phase = _BACKEND_PHASES.get(name)
        if phase is not None:
            return self.phases.timed(phase, attribute)
        return attribute

    @property
    def name(self) -> str:
        return str(self._backend.name)

    def read_tree(self, reads: Any) -> Any:
        phases = self.phases
        phases.reads += 1
        phase = PHASES[1] if phases.reads == 1 else PHASES[9]
        result = phases.timed(phase, self._backend.read_tree)(reads)
        if phases.reads == 1:
            phases.read_done = time.perf_counter()
        return result

    def discard(self, path: str) -> None:
        self.phases.discards += 1
        phase = PHASES[4] if self.phases.discards == 1 else PHASES[10]
        self.phases.timed(phase, self._backend.discard)(path)


class TimedAudit:
    """An audit log that delegates every call and times the engine's three audit calls."""

    def __init__(self, audit: Any, phases: Phases) -> None:
        self._audit = audit
        self.phases = phases

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._audit, name)
        phase = _AUDIT_PHASES.get(name)
        return attribute if phase is None else self.phases.timed(phase, attribute)


class _TimedJournal:
    """A held journal whose appends are timed; everything else is the real journal's."""

    def __init__(self, journal: FileJournal, phases: Phases) -> None:
        self._journal = journal
        self.phases = phases

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)

    def append(self, record: JournalRecord) -> None:
        self.phases.timed(PHASES[7], self._journal.append)(record)


class TimedJournals(FileJournals):
    """``FileJournals`` whose creation, appends and archiving are timed into ``phases``."""

    def __init__(self, root: Any, phases: Phases) -> None:
        super().__init__(root)
        self.phases = phases

    @contextmanager
    def create(self, name: str, intent: Intent, lease: Any = None) -> Iterator[FileJournal]:
        self.phases.intent_start = time.perf_counter()
        start = self.phases.intent_start
        with super().create(name, intent, lease) as journal:
            self.phases.seconds[PHASES[3]] += time.perf_counter() - start
            yield _TimedJournal(journal, self.phases)  # type: ignore[misc]  # quacks like a Journal

    def retire(self, journal: Journal, *args: Any) -> None:
        self.phases.timed(PHASES[10], super().retire)(journal, *args)


def hot_spots(action: Callable[[], object]) -> list[dict[str, Any]]:
    """cProfile one call of ``action``: every function's own and inside time, as shares of the whole."""
    profiler = cProfile.Profile()
    profiler.runcall(action)
    entries = pstats.Stats(profiler).stats.items()  # type: ignore[attr-defined]  # not in the stubs
    total = max(cumtime for _, (_, _, _, cumtime, _) in entries)
    rows = [
        {
            "function": _label(file, line, name),
            "calls": calls,
            "tottime": tottime,
            "cumtime": cumtime,
            "tottime_share": tottime / total,
            "cumtime_share": cumtime / total,
        }
        for (file, line, name), (_, calls, tottime, cumtime, _) in entries
    ]
    return sorted(rows, key=lambda row: row["tottime"], reverse=True)


def _label(file: str, line: int, name: str) -> str:
    """``sidecar/backends/fd.py:120 renameat2``, or ``posix.fsync`` for a built-in."""
    if file == "~":
        method = re.fullmatch(r"<method '(\w+)' of '([\w.]+)' objects>", name)
        if method:
            return f"{method[2].rsplit('.', 1)[-1]}.{method[1]}"
        return name.removeprefix("<built-in method ").removesuffix(">")
    for marker in ("/planner/", "/sidecar/", "/bench/", "/site-packages/", "/python3.11/"):
        if marker in file:
            return f"{marker.strip('/')}/{file.split(marker, 1)[1]}:{line} {name}"
    return f"{file}:{line} {name}"
