"""Group steps into batches whose steps touch pairwise unrelated paths.

Within a batch no step's path is, contains or lies inside another step's
path, so after a crash each step's fate can be read from the store on its
own (``compile.took_effect``). The engine makes each batch durable with one
barrier instead of one fsync per step. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from sidecar.apply.compile import Step, step_paths


def ancestors(path: str) -> list[str]:
    """Every proper ancestor of a path, nearest last ('a/b/c' -> ['a', 'a/b'])."""
    parts = path.split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts))]


def plan_batches(steps: Sequence[Step]) -> list[tuple[int, int]]:
    """Split ``steps`` into consecutive [start, end) batches of unrelated steps."""
    batches: list[tuple[int, int]] = []
    start = 0
    touched: set[str] = set()
    above: set[str] = set()  # every ancestor of a touched path
    for index, step in enumerate(steps):
        paths = step_paths(step)
        if any(_related(path, touched, above) for path in paths):
            batches.append((start, index))
            start, touched, above = index, set(), set()
        for path in paths:
            touched.add(path)
            above.update(ancestors(path))
    if start < len(steps):
        batches.append((start, len(steps)))
    return batches


def _related(path: str, touched: set[str], above: set[str]) -> bool:
    if path in touched or path in above:
        return True
    return any(ancestor in touched for ancestor in ancestors(path))
