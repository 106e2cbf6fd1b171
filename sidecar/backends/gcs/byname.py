"""A folder's listing put back in order by name, from a bucket's listing in order by object name.

A bucket lists a folder's children by object name, where a folder is its
placeholder ``x/``: so the folder ``DOC`` (``DOC/``) comes after the file
``DOC-1.pdf``, though by name it comes first ('-' sorts before '/'). Only
folders move this way, and only ahead of names they are a prefix of
(``_shadows``). ``by_name`` holds each entry back until no folder that
comes before it can still come later in the listing: it reads on a little,
then asks about the folders still in doubt directly.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")  # what a file is listed with (None: a folder)


def by_name(
    listing: Iterable[tuple[str, T | None]],
    after: str | None,
    is_folder: Callable[[str], bool],
    *,
    lookahead: int,
) -> Iterator[tuple[str, T | None]]:
    """The children past the name ``after``, by name, from ``listing`` in the bucket's order.

    ``listing`` gives (key, file) pairs: a file's key is its name, a folder's
    its name and '/' (with None). A name listed as a file and as a folder is
    the folder. Up to ``lookahead`` entries are read on while a folder is in
    doubt; then ``is_folder(name)`` is asked for each one still in doubt.
    """
    rest = iter(listing)
    held: dict[str, T | None] = {}  # read, not given yet: name -> its file (None: a folder)
    queue: list[str] = []  # the names held, as a heap
    asked: set[str] = set()
    given, reached = after, ""  # the last name given (those up to it are skipped); the last key read
    ended, ahead = False, 0
    while queue or not ended:
        if queue:
            first = queue[0]
            doubtful = [
                name
                for name in _shadows(first, is_file=held[first] is not None)
                if (given is None or name > given) and name not in asked and name + "/" > reached
            ]
            if not doubtful or ended:
                given = heapq.heappop(queue)
                yield first, held.pop(first)
                ahead = 0
                continue
            if ahead >= lookahead:
                asked.update(doubtful)
                for name in filter(is_folder, doubtful):
                    _hold(held, queue, name, None)
                continue
        try:
            reached, found = next(rest)
        except StopIteration:
            ended = True
            continue
        ahead += 1
        name = reached.removesuffix("/")
        if given is None or name > given:  # a folder can come twice (its placeholder and its prefix)
            _hold(held, queue, name, None if reached.endswith("/") else found)


def _shadows(name: str, *, is_file: bool) -> list[str]:
    """Folders that come before ``name`` by name but after it in a bucket's listing.

    Its prefixes followed by a character that sorts before '/' (``DOC`` of
    ``DOC-1.pdf``: ``DOC/`` > ``DOC-1.pdf``); a file's own name too, as a
    folder of that name hides it. Never '.' or '..', which are no names.
    """
    found = [name[:end] for end in range(1, len(name)) if name[end] < "/" and name[:end] not in (".", "..")]
    return [*found, name] if is_file else found


def _hold(held: dict[str, T | None], queue: list[str], name: str, found: T | None) -> None:
    """Keep ``name`` until its turn; a folder and a file of one name are the folder."""
    if name not in held:
        heapq.heappush(queue, name)
        held[name] = found
    elif found is None:
        held[name] = None
