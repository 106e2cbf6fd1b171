"""``python -m bench.audit_history``: history and plan-ops latency on an audit of 1,000,000 op records.

Fills a fresh audit database (a SQLite file, then a fresh PostgreSQL
database) with 10,000 plans of 100 ops each, recorded and applied in a
simulated store of 1,000 matters: documents written, moved between custodian
folders, renamed, copied, overwritten, deleted, and custodian folders renamed,
so documents have histories of several steps through folder moves. Rows are
made by the store's own payload and chain functions and inserted in large
batches (the chain is valid: ``audit verify`` passes, and its time is
reported; on PostgreSQL the fill is followed by ``ANALYZE``, as autovacuum
would do on a live server). Then 200 ``history(path)`` queries for random documents (half by
their first name, half by their last) and 200 ``plan_ops(digest)`` listings:
median and p95 latency. Goal: at most 20 ms each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import make_url

from planner.core.entry import Entry
from planner.core.paths import contains, rebase, split
from sidecar import db
from sidecar.audit import chain, payloads
from sidecar.audit.chain import GENESIS, Link
from sidecar.audit.records import ApplyRecord, OpRecord, TrashedFile
from sidecar.audit.store import SqlAuditStore, event_row
from sidecar.audit.tables import EventRow, OpRecordRow, PlanRow, PlanScopeRow, TrashedFileRow

RESULTS = Path(__file__).parent / "results" / "audit_history.json"
DATA = Path(os.environ.get("PVA_BENCH_DATA") or Path(tempfile.gettempdir()) / "pva-bench")
POSTGRES = os.environ.get("PVA_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GOAL_MS = 20.0
QUERIES = 200
BATCH = 250  # plans per insert transaction
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sizes:
    """How many matters, plans per matter and ops per plan."""

    matters: int
    plans_per_matter: int
    ops_per_plan: int = 100

    @property
    def plans(self) -> int:
        return self.matters * self.plans_per_matter


FULL = Sizes(matters=1000, plans_per_matter=10)
QUICK = Sizes(matters=100, plans_per_matter=10)


# -- the simulated store ----------------------------------------------------------


@dataclass
class Doc:
    """A document of the simulated store: its first name, where it is now, its content."""

    first: str
    path: str
    sha256: str
    size: int
    alive: bool = True


@dataclass
class Matter:
    """One matter's documents and custodian folders, changed op by op."""

    root: str
    rng: random.Random
    docs: list[Doc] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    made: int = 0

    def alive(self) -> list[Doc]:
        return [doc for doc in self.docs if doc.alive]

    def new_name(self, folder: str) -> str:
        self.made += 1
        return f"{folder}/DOC-{self.root[-4:]}-{self.made:05d}.pdf"


def content(seed: str) -> tuple[str, int]:
    return hashlib.sha256(seed.encode()).hexdigest(), 20_000 + int(seed.encode().hex()[-4:], 16)


class Op:
    """One op: its plan-DSL form and the OpRecord the apply engine would report (trash filled later)."""

    def __init__(self, body: dict[str, Any], record: OpRecord, trashed: TrashedFile | None = None) -> None:
        self.body, self.record, self.trashed = body, record, trashed


def next_op(matter: Matter, index: int, plan_no: int) -> Op:  # noqa: PLR0911  # one branch per op kind
    rng, alive = matter.rng, matter.alive()
    roll = rng.random()
    if not matter.folders or roll < 0.04:
        folder = f"{matter.root}/custodians/c{len(matter.folders):02d}"
        matter.folders.append(folder)
        return Op({"op": "mkdir", "path": folder, "parents": True}, OpRecord(index, "mkdir", folder))
    if len(alive) < 20 or roll < 0.22:
        return write_new(matter, index, plan_no)
    doc = rng.choice(alive)
    if roll < 0.50:
        return move(matter, doc, index)
    if roll < 0.70:
        return rename(doc, index, plan_no)
    if roll < 0.78:
        return copy(matter, doc, index)
    if roll < 0.88:
        return overwrite(doc, index, plan_no)
    if roll < 0.93:
        return rename_folder(matter, index, plan_no)
    return delete(doc, index)


def entry(doc: Doc) -> Entry:
    return Entry(doc.path, "file", doc.size, doc.sha256)


def write_new(matter: Matter, index: int, plan_no: int) -> Op:
    path = matter.new_name(f"{matter.root}/inbox")
    sha, size = content(f"{path}:{plan_no}")
    doc = Doc(path, path, sha, size)
    matter.docs.append(doc)
    body = {"op": "write", "path": path, "content_ref": sha}
    return Op(body, OpRecord(index, "write", path, after=entry(doc)))


def move(matter: Matter, doc: Doc, index: int) -> Op:
    folder = matter.rng.choice(matter.folders)
    src, dst = doc.path, f"{folder}/{split(doc.path)[1]}"
    if dst == src or any(d.alive and d.path == dst for d in matter.docs):
        dst = matter.new_name(folder)
    doc.path = dst
    return Op({"op": "move", "src": src, "dst": dst}, OpRecord(index, "move", dst, src, after=entry(doc)))


def rename(doc: Doc, index: int, plan_no: int) -> Op:
    parent, name = split(doc.path)
    new = f"{name.removesuffix('.pdf')} r{plan_no}.pdf"
    src, doc.path = doc.path, f"{parent}/{new}"
    return Op(
        {"op": "rename", "path": src, "name": new}, OpRecord(index, "rename", doc.path, src, after=entry(doc))
    )


def copy(matter: Matter, doc: Doc, index: int) -> Op:
    dst = matter.new_name(f"{matter.root}/review")
    clone = Doc(dst, dst, doc.sha256, doc.size)
    matter.docs.append(clone)
    return Op(
        {"op": "copy", "src": doc.path, "dst": dst},
        OpRecord(index, "copy", dst, doc.path, after=entry(clone)),
    )


def overwrite(doc: Doc, index: int, plan_no: int) -> Op:
    old = entry(doc)
    doc.sha256, doc.size = content(f"{doc.path}:{plan_no}:v")
    body = {"op": "write", "path": doc.path, "content_ref": doc.sha256, "overwrite": True}
    body["expect"] = {"sha256": old.sha256}
    trashed = TrashedFile(doc.path, "", old.sha256, old.size)
    return Op(body, OpRecord(index, "write", doc.path, before=old, after=entry(doc), trash=""), trashed)


def rename_folder(matter: Matter, index: int, plan_no: int) -> Op:
    position = matter.rng.randrange(len(matter.folders))
    old = matter.folders[position]
    new_name = f"{split(old)[1]}-{plan_no}"
    new = f"{split(old)[0]}/{new_name}"
    matter.folders[position] = new
    for doc in matter.docs:
        if doc.alive and contains(old, doc.path):
            doc.path = rebase(doc.path, old, new)
    record = OpRecord(index, "rename", new, old, after=Entry(new, "dir"))
    return Op({"op": "rename", "path": old, "name": new_name}, record)


def delete(doc: Doc, index: int) -> Op:
    doc.alive = False
    old = entry(doc)
    trashed = TrashedFile(doc.path, "", old.sha256, old.size)
    return Op(
        {"op": "delete", "path": doc.path}, OpRecord(index, "delete", doc.path, before=old, trash=""), trashed
    )


# -- plans and rows -----------------------------------------------------------------


@dataclass
class Rows:
    """Rows of a batch of plans, for executemany."""

    events: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    scopes: list[dict[str, Any]] = field(default_factory=list)
    ops: list[dict[str, Any]] = field(default_factory=list)
    trashed: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Chain:
    """The chain being built: the last seq and hash."""

    seq: int = 0
    prev: str = GENESIS

    def append(self, kind: str, digest: str, actor: str, payload: dict[str, Any]) -> Link:
        self.seq += 1
        when = START + timedelta(seconds=self.seq)
        link = chain.make_link(
            seq=self.seq, time=when, kind=kind, digest=digest, actor=actor, payload=payload, prev=self.prev
        )
        self.prev = link.hash
        return link


def trash_of(ops: list[Op], digest: str) -> tuple[tuple[OpRecord, ...], tuple[TrashedFile, ...]]:
    """Fill in the trash paths, which depend on the plan's digest (as the engine's StepRecorder does)."""
    records, trashed = [], []
    for op in ops:
        record = op.record
        if op.trashed is not None:
            where = f".pva/trash/{digest}/{len(trashed)}/{split(record.path)[1]}"
            record = OpRecord(
                record.index, record.kind, record.path, record.src, record.before, record.after, where
            )
            trashed.append(TrashedFile(op.trashed.path, where, op.trashed.sha256, op.trashed.size))
        records.append(record)
    return tuple(records), tuple(trashed)


def add_plan(rows: Rows, links: Chain, matter: Matter, plan_no: int, sizes: Sizes) -> str:
    ops = [next_op(matter, index, plan_no) for index in range(sizes.ops_per_plan)]
    title = f"File {matter.root} (pass {plan_no})"
    body = {"pva": "plan/v1", "title": title, "scope": [matter.root], "ops": [op.body for op in ops]}
    text = chain.canonical(body)
    digest = hashlib.sha256(text.encode()).hexdigest()
    author = f"agent-{plan_no % 7}"
    recorded = links.append("plan_recorded", digest, author, payloads.plan_payload(title, author=author))
    rows.events.append(event_row(recorded))
    rows.plans.append(
        payloads.plan_row(digest, text, payloads.plan_payload(title, author=author), recorded.time)
    )
    rows.scopes += payloads.scope_rows(digest, body)
    records, trashed = trash_of(ops, digest)
    when = recorded.time
    outcome = ApplyRecord(
        digest, "applied", f"operator-{plan_no % 3}", when, when, records, trashed, store="bench"
    )
    payload = payloads.apply_payload(outcome)
    applied = links.append("apply", digest, outcome.actor, payload)
    rows.events.append(event_row(applied))
    rows.ops += payloads.op_rows(applied.seq, digest, applied.time, payload)
    rows.trashed += payloads.trashed_rows(applied.seq, digest, payload)
    rows.plans[-1]["status"] = "applied"
    return digest


def batches(sizes: Sizes, matters: list[Matter]) -> Iterator[tuple[Rows, list[str]]]:
    """The whole audit, a batch of plans at a time; matters take turns, as agents would."""
    links, rows, digests = Chain(), Rows(), []
    for plan_no in range(sizes.plans_per_matter):
        for matter in matters:
            digests.append(add_plan(rows, links, matter, plan_no, sizes))
            if len(rows.plans) == BATCH:
                yield rows, digests
                rows, digests = Rows(), []
    if rows.plans:
        yield rows, digests


def fill(engine: Engine, sizes: Sizes, matters: list[Matter]) -> tuple[list[str], int]:
    """Insert every batch; return the plan digests and the op count."""
    all_digests, count = [], 0
    for rows, digests in batches(sizes, matters):
        with engine.begin() as connection:
            connection.execute(insert(EventRow), rows.events)
            connection.execute(insert(PlanRow), rows.plans)
            connection.execute(insert(PlanScopeRow), rows.scopes)
            connection.execute(insert(OpRecordRow), rows.ops)
            if rows.trashed:
                connection.execute(insert(TrashedFileRow), rows.trashed)
        all_digests += digests
        count += len(rows.ops)
    return all_digests, count


# -- measuring ---------------------------------------------------------------------


def latencies(action: Callable[[Any], object], inputs: list[Any]) -> list[float]:
    action(inputs[0])  # warm the connection and the caches of the query compiler
    seconds = []
    for value in inputs:
        start = time.perf_counter()
        action(value)
        seconds.append(time.perf_counter() - start)
    return seconds


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"median_ms": statistics.median(ms), "p95_ms": ms[int(len(ms) * 0.95) - 1], "max_ms": ms[-1]}


def measure(url: str, sizes: Sizes) -> dict[str, Any]:
    db.upgrade(url)
    engine = db.make_engine(url)
    matters = [Matter(f"matters/m{n:04d}", random.Random(n)) for n in range(sizes.matters)]
    started = time.perf_counter()
    digests, ops = fill(engine, sizes, matters)
    filled = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        # Planner statistics, as autovacuum gathers them after a large insert on a live server.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    rng = random.Random(7)
    docs = rng.sample([doc for matter in matters for doc in matter.docs], QUERIES)
    paths = [doc.first if n % 2 else doc.path for n, doc in enumerate(docs)]
    store = SqlAuditStore.open(url)
    try:
        found = [len(store.history(path).items) for path in paths[:20]]
        history = latencies(store.history, paths)
        listing = latencies(store.plan_ops, rng.sample(digests, QUERIES))
        started = time.perf_counter()
        report = store.check_chain()
        verified = time.perf_counter() - started
    finally:
        store.close()
    assert report.broken is None, report.broken
    return {
        "op_records": ops,
        "plans": len(digests),
        "events": report.events,
        "fill_s": round(filled, 1),
        "verify_s": round(verified, 1),
        "history": summary(history),
        "history_items_median": statistics.median(found),
        "plan_ops": summary(listing),
    }


@contextmanager
def postgres_database() -> Iterator[str]:
    admin = make_url(POSTGRES)
    name = f"pva_bench_{secrets.token_hex(4)}"
    with psycopg.connect(
        admin.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    ) as c:
        c.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_sqlite(sizes: Sizes) -> dict[str, Any]:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / "audit_history.db"
    for leftover in DATA.glob("audit_history.db*"):
        leftover.unlink()
    try:
        return measure(f"sqlite:///{path}", sizes)
    finally:
        for leftover in DATA.glob("audit_history.db*"):
            leftover.unlink()


def run_postgres(sizes: Sizes) -> dict[str, Any]:
    with postgres_database() as url:
        return measure(url, sizes)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print(f"\naudit history: {QUERIES} queries each; goal <= {GOAL_MS:.0f} ms (median and p95)")
    head = f"{'database':12} {'op records':>11} {'fill s':>7} {'verify s':>9}  {'query':10}"
    print(f"{head} {'median ms':>10} {'p95 ms':>8}  goal")
    for name, figures in results.items():
        for query in ("history", "plan_ops"):
            stats = figures[query]
            met = "met" if stats["p95_ms"] <= GOAL_MS else "MISSED"
            print(
                f"{name:12} {figures['op_records']:>11,} {figures['fill_s']:>7} {figures['verify_s']:>9}  "
                f"{query:10} {stats['median_ms']:>10.2f} {stats['p95_ms']:>8.2f}  {met}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_history", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes (smoke run)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    results: dict[str, dict[str, Any]] = {}
    for name, run in (("sqlite", run_sqlite), ("postgresql", run_postgres)):
        if args.only in (None, name):
            print(f"{name}: filling {sizes.plans:,} plans x {sizes.ops_per_plan} ops ...", flush=True)
            results[name] = run(sizes)
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "audit_history",
        "sizes": {"plans": sizes.plans, "ops_per_plan": sizes.ops_per_plan, "queries": QUERIES},
        "goal_ms": GOAL_MS,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": results,
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
