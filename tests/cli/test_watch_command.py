"""pva watch as a command: changes made behind pva's back, printed one line each (--json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli.main import main


def test_watch_json_prints_each_change_on_one_line_whatever_its_name(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file added under a name holding U+2028 (a store may hold one) is one JSON line, as is each change."""
    options = ["--store", site["store"], "--db", site["db"]]
    assert main(["watch", "--json", *options]) == 0  # the first scan: the baseline
    capsys.readouterr()
    odd = "m/a\u2028b\x85c.pdf"
    (Path(site["store"]) / odd).write_bytes(b"added behind pva's back")
    (Path(site["store"]) / "m" / "notes.txt").unlink()
    assert main(["watch", "--json", *options]) == 0
    changes = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(change["change"], change["path"]) for change in changes} == {
        ("added", odd),
        ("deleted", "m/notes.txt"),
    }
    assert {change["version"] for change in changes} == {"outside-change/v1"}


def test_watch_shows_a_name_holding_a_newline_on_one_line_escaped(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file named to forge a change line (a store may hold any name) is shown on one line, escaped."""
    options = ["--store", site["store"], "--db", site["db"]]
    assert main(["watch", *options]) == 0
    capsys.readouterr()
    (Path(site["store"]) / "m" / "y\nedited: fake.pdf").write_bytes(b"added behind pva's back")
    assert main(["watch", *options]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "added: m/y\\nedited: fake.pdf",
        "1 outside change recorded",
    ]


def test_watch_of_a_store_that_lists_nothing_exits_3_unless_allowed(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An emptied (or unmounted) store is refused, exit 3, nothing recorded; --allow-empty records it."""
    options = ["--store", site["store"], "--db", site["db"]]
    assert main(["watch", *options]) == 0
    files = [path for path in Path(site["store"]).rglob("*") if path.is_file()]
    for path in files:
        path.unlink()
    capsys.readouterr()
    assert main(["watch", *options]) == 3
    assert "is it mounted?" in capsys.readouterr().err
    assert main(["watch", "--allow-empty", *options]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{len(files)} outside changes recorded"
