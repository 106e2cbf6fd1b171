"""Entry, the value every store speaks: its hand-written constructor behaves as the dataclass's would."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from planner.core.entry import Entry


def test_the_constructor_takes_every_field_in_order_with_the_dataclass_defaults() -> None:
    """Entry's __init__ names the dataclass's fields in their order, with their defaults."""
    parameters = list(inspect.signature(Entry).parameters.values())
    fields = dataclasses.fields(Entry)
    assert [p.name for p in parameters] == [f.name for f in fields]
    assert [p.default for p in parameters] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]


def test_every_field_given_is_the_field_read_back() -> None:
    """Positional and keyword construction set each field to what was given, and equal entries hash alike."""
    given = {"path": "a/b.pdf", "kind": "file", "size": 3, "sha256": "ab" * 32, "generation": 7, "mtime": 1.5}
    by_keyword = Entry(**given)  # type: ignore[arg-type]  # the dict's values are the fields' types
    by_position = Entry(*given.values())  # type: ignore[arg-type]
    assert dataclasses.asdict(by_keyword) == given
    assert by_position == by_keyword
    assert hash(by_position) == hash(by_keyword)
    assert dataclasses.replace(by_keyword, sha256=None).sha256 is None
    assert Entry("a", "dir") == Entry("a", "dir", None, None, None, None)


def test_an_entry_cannot_be_changed() -> None:
    """Entry stays frozen: assigning or deleting a field raises."""
    entry = Entry("a", "file", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.size = 2  # type: ignore[misc]  # the point of the test
    with pytest.raises(dataclasses.FrozenInstanceError):
        del entry.path
    assert entry.size == 1
