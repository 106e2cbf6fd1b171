"""``python -m bench.figures``: the latest results as a Markdown table, for bench/README.md.

Reads every ``bench/results/<name>.json`` that a run left (``profile`` excluded)
and prints one row per figure, so the published numbers are never retyped.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from bench.harness import FULL, RESULTS, number

ORDER = ("verify", "sandbox", "load", "memory", "bigmove")


def table() -> str:
    lines = ["| benchmark | figure | value | goal | |", "| --- | --- | --- | --- | --- |"]
    for name in ORDER:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        body = json.loads(path.read_text(encoding="utf-8"))
        label = name if body["sizes"] == asdict(FULL) else f"{name} (not full sizes)"
        for figure in body["figures"]:
            verdict = {None: "", True: "met", False: "**missed**"}[figure["met"]]
            value = f"{number(figure['value'])} {figure['unit']}".rstrip()
            lines.append(f"| {label} | {figure['metric']} | {value} | {figure['goal'] or ''} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
