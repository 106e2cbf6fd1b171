"""The folder model on a bucket: which objects are files, which are folders, and which pva can see.

A store path ``a/b.txt`` is the object ``PREFIX + "a/b.txt"``; a folder
``a`` is the placeholder object ``PREFIX + "a/"`` (empty), as gcsfuse and the
Cloud Console write them. The store root is the prefix itself and needs no
placeholder. pva always writes placeholders, so what it makes looks the same
with and without gcsfuse's ``--implicit-dirs``. Reading follows the flag the
mount uses (``implicit``), so pva sees exactly the files the agents saw:

- explicit (gcsfuse's default): a folder exists only with its placeholder,
  and an object below a folder without one is invisible (gcsfuse cannot
  reach it either);
- implicit (``--implicit-dirs``): every prefix of an object is a folder too.

The reserved area (``.pva/``) is always explicit, so that a folder copied
into staging appears whole or not at all: its placeholder is written last.
When a name is both an object and a placeholder (``x`` and ``x/``), the
folder wins, as it does in gcsfuse's listing.
"""

from __future__ import annotations

from collections.abc import Iterator

from planner.core.entry import Kind
from planner.core.paths import fold, join
from sidecar.backends.base import RESERVED
from sidecar.backends.gcs.byname import by_name
from sidecar.backends.gcs.objects import Obj, Objects

Memo = dict[str, "Kind | None"]
Listing = dict[str, "Obj | None"]  # name -> the file's object, or None for a folder
LOOKAHEAD = 100  # entries a listing reads on before it asks about a folder in doubt directly


def reserved(path: str) -> bool:
    return fold(path.split("/", 1)[0]) == RESERVED


def _plain(name: str) -> bool:
    return name not in ("", ".", "..")


class Folders:
    """Store paths to object names and back, and the kinds and listings the model gives them."""

    def __init__(self, objects: Objects, prefix: str, *, implicit: bool) -> None:
        self.objects = objects
        self.prefix = prefix  # "" or ends with "/"
        self.implicit = implicit

    def name(self, path: str) -> str:
        """The object name of the file ``path``."""
        return self.prefix + path

    def folder(self, path: str) -> str:
        """The placeholder name (and listing prefix) of the folder ``path``; the prefix for the root."""
        return self.prefix + path + "/" if path else self.prefix

    def path_of(self, name: str) -> str:
        return name[len(self.prefix) :]

    def _implicit(self, path: str) -> bool:
        return self.implicit and not reserved(path)

    def own_kind(self, path: str) -> Kind | None:
        """What ``path`` is by its own objects, whatever its parent is."""
        if not path or self._is_folder(path):
            return "dir"
        return "file" if self.objects.get(self.name(path)) is not None else None

    def _is_folder(self, path: str) -> bool:
        """``path`` has a placeholder or, read implicitly, any object below it."""
        if self.objects.get(self.folder(path)) is not None:
            return True
        return self._implicit(path) and self.objects.any_below(self.folder(path))

    def kind(self, path: str, memo: Memo | None = None) -> Kind | None:
        """What ``path`` is as the model shows it: None unless every ancestor is a folder."""
        memo = {} if memo is None else memo
        if path in memo:
            return memo[path]
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        found = self.own_kind(path) if not path or self.kind(parent, memo) == "dir" else None
        if path:
            memo[path] = found
        return found

    def children(self, path: str) -> Listing:
        """The folder's entries by name (the folder itself must exist; callers check)."""
        start = self.folder(path)
        objects, prefixes = self.objects.list(start, delimiter="/")
        found: Listing = {}
        for obj in objects:
            rest = obj.name[len(start) :]
            if rest.endswith("/"):
                if _plain(rest[:-1]):
                    found[rest[:-1]] = None
            elif _plain(rest) and rest not in found:
                found[rest] = obj
        if self._implicit(join(path, "x")):
            for below in prefixes:
                name = below[len(start) : -1]
                if _plain(name):
                    found[name] = None
        return found

    def children_after(
        self, path: str, after: str | None = None, *, lookahead: int = LOOKAHEAD, page_size: int | None = None
    ) -> Iterator[tuple[str, Obj | None]]:
        """The folder's entries by name past the name ``after``, as ``children`` gives them, lazily.

        Listed from ``after`` on, not from the folder's start, so a page of a
        long folder costs what it shows; ``by_name`` restores the order by
        name, reading on up to ``lookahead`` entries before it looks a folder
        up directly (``page_size``: entries a request, for tests).
        """
        start = self.folder(path)
        implicit = self._implicit(join(path, "x"))
        origin = None if after is None else start + after
        listed = (
            (name[len(start) :], obj)
            for name, obj in self.objects.scan(start, start=origin, page_size=page_size)
            if (obj is not None or implicit) and _plain(name[len(start) :].removesuffix("/"))
        )
        return by_name(listed, after, lambda name: self._is_folder(join(path, name)), lookahead=lookahead)

    def descend(
        self, path: str, cursor: tuple[str, ...], depth: int | None, *, lookahead: int = LOOKAHEAD
    ) -> Iterator[tuple[str, Obj | None]]:
        """What lies below the folder ``path`` past the ``cursor`` (segments below it), ``depth`` deep.

        (path, object or None for a folder), parents first, by name: each
        folder's ``children_after``, depth first, so a page lists the folders
        it shows from where it starts, never the whole subtree (``below``).
        The folders on the cursor's path are entered, not shown again.
        """
        stack: list[tuple[str, Iterator[tuple[str, Obj | None]], int]] = []
        folder = path
        for level, name in enumerate([*cursor, None], start=1):  # resume in each folder on the cursor's path
            if depth is not None and level > depth:
                break
            if level > 1:  # entered; the cursor itself too, as what a folder holds comes after it
                entered = cursor[level - 2]
                folder = join(folder, entered)
                if not _plain(entered) or reserved(folder) or self.own_kind(folder) != "dir":
                    break
            stack.append((folder, self.children_after(folder, name, lookahead=lookahead), level))
        while stack:
            folder, children, level = stack[-1]
            found = next(children, None)
            if found is None:
                stack.pop()
                continue
            name, obj = found
            child = join(folder, name)
            if reserved(child):
                continue
            yield child, obj
            if obj is None and (depth is None or level < depth):
                stack.append((child, self.children_after(child, lookahead=lookahead), level + 1))

    def below(self, path: str) -> list[tuple[str, Obj | None]]:
        """Everything visible below the folder ``path``: (relative path, object or None for a folder)."""
        start = self.folder(path)
        folders: set[str] = set()
        files: dict[str, Obj] = {}
        implied: set[str] = set()  # the folders above each name, up to any part that is no name
        for obj in self.objects.iterate(start):
            rest = obj.name[len(start) :]
            if not rest or (not path and reserved(rest)):
                continue
            placeholder = rest.endswith("/")
            parts = (rest[:-1] if placeholder else rest).split("/")
            shown = next((index for index, part in enumerate(parts) if not _plain(part)), len(parts))
            implied.update("/".join(parts[:depth]) for depth in range(1, min(shown + 1, len(parts))))
            if shown < len(parts):
                continue  # an empty, '.' or '..' part: not shown (a listing of its folder agrees)
            if placeholder:
                folders.add(rest[:-1])
            else:
                files[rest] = obj
        if self._implicit(join(path, "x")):
            folders |= implied

        def seen(rest: str) -> bool:
            parts = rest.split("/")
            return all("/".join(parts[:depth]) in folders for depth in range(1, len(parts)))

        entries: list[tuple[str, Obj | None]] = [(rest, None) for rest in folders if seen(rest)]
        entries += [(rest, obj) for rest, obj in files.items() if rest not in folders and seen(rest)]
        return entries
