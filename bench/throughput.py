"""Benchmark ``verify``: a 100,000-op plan against a 1,000,000-entry tree, versus a flat dict.

Two mixes: file ops only (an honest per-op comparison) and the same filing
with folder renames and moves (where the flat dict pays for every entry
below the folder). Plan construction is timed apart from verification.
"""

from __future__ import annotations

from bench.corpus import loaded_tree
from bench.flatdict import FlatStore
from bench.harness import Goal, Result, Sizes, median, repeat, timed
from bench.plans import build_plan, filing_ops, mix, plan_builder, take
from planner.core.parse import parse_plan
from planner.core.plan import Plan
from planner.core.tree import Tree
from planner.core.verify import verify

RATIO_GOAL = Goal(0.5, at_least=True)  # pva at least half as fast as the flat dict
STEP_GOAL = Goal(0.1, at_least=True)  # issue 15's step towards it, on the file-only plan


def run(sizes: Sizes) -> Result:
    tree, load_seconds = loaded_tree(sizes.big)
    result = Result("verify", f"{sizes.verify_ops:,}-op plan on a {sizes.big.entry_count:,}-entry tree")
    result.data["tree_entries"] = sizes.big.entry_count
    result.data["tree_load_seconds"] = load_seconds
    result.data["plan_construction"] = _construction(result, sizes)
    for label, with_dirs in (("files only", False), ("with folder moves", True)):
        result.data[label] = _compare(result, label, tree, sizes, with_dirs=with_dirs)
    return result


def _construction(result: Result, sizes: Sizes) -> dict[str, float]:
    """Seconds to make the files-only plan a ``Plan``, three ways (not part of verify)."""
    ops = take(filing_ops(sizes.big, with_dirs=False), sizes.verify_ops)
    builder = plan_builder("File inboxes", ops)
    document = builder.document()
    text = Plan.model_validate(document).to_json(indent=None)
    seconds = {
        "PlanBuilder.build() (JSON Schema + models)": timed(builder.build),
        "Plan.model_validate(dict) (models only)": timed(lambda: Plan.model_validate(document)),
        "parse_plan(JSON text) (the sidecar's path)": timed(lambda: parse_plan(text)),
    }
    for how, value in seconds.items():
        result.add(f"plan construction: {how}", value, "s")
    return seconds


def _compare(result: Result, label: str, tree: Tree, sizes: Sizes, *, with_dirs: bool) -> dict[str, object]:
    ops = take(filing_ops(sizes.big, with_dirs=with_dirs), sizes.verify_ops)
    plan = build_plan(f"File inboxes ({label})", ops)
    pva = _time_pva(plan, tree, sizes.repeats)
    flat = _time_flat(plan, sizes, indexed=with_dirs)
    pva_rate, flat_rate = len(ops) / pva["median"], len(ops) / flat["median"]
    result.add(f"[{label}] pva verify", pva["median"], "s")
    result.add(f"[{label}] pva verify rate", pva_rate, "ops/s")
    result.add(f"[{label}] flat dict (A) rate", flat_rate, "ops/s")
    result.add(f"[{label}] ratio pva / A", pva_rate / flat_rate, "x", RATIO_GOAL)
    if not with_dirs:
        result.add(f"[{label}] the same ratio, against issue 15's step", pva_rate / flat_rate, "x", STEP_GOAL)
    return {
        "ops": len(ops),
        "mix": mix(ops),
        "pva": pva,
        "flat_dict": flat,
        "pva_ops_per_second": pva_rate,
        "flat_dict_ops_per_second": flat_rate,
        "ratio": pva_rate / flat_rate,
    }


def _time_pva(plan: Plan, tree: Tree, times: int) -> dict[str, object]:
    reports = [None]  # only the last report is kept alive

    def check() -> None:
        reports[0] = verify(plan, tree)

    seconds = repeat(check, times)
    report = reports[0]
    assert report is not None
    if not report.ok:
        raise AssertionError(f"the benchmark plan should be valid: {report.errors[:3]}")
    digest_seconds = median(repeat(plan.digest, times))
    return {"seconds": seconds, "median": median(seconds), "of_which_digest": digest_seconds}


def _time_flat(plan: Plan, sizes: Sizes, *, indexed: bool) -> dict[str, object]:
    """Time baseline A on a fresh copy each run; making the copy (its input must not change) is untimed."""
    base = FlatStore.of(sizes.big.entries(), indexed=indexed)
    current = [base.copy()]  # one copy alive at a time

    def fresh() -> None:
        current[0] = base.copy()

    copy_seconds = timed(fresh)
    seconds = repeat(lambda: current[0].run(plan), sizes.repeats, setup=fresh)
    store = current[0]
    if store.errors:
        raise AssertionError(f"the flat dict found errors in a valid plan: {store.errors[:3]}")
    return {
        "seconds": seconds,
        "median": median(seconds),
        "indexed": indexed,
        "copy_seconds_not_counted": copy_seconds,
        "entries_rekeyed": store.rekeyed,
    }
