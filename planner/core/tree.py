"""The in-memory tree of a store: folders and files with their metadata.

It is the simulation target of the op interpreter and the oracle of the tests.
Folders are persistent nodes shared between trees: a tree changes a folder
only after copying it (and its ancestors) unless it owns it, so ``fork()`` is
O(1), verifying never copies the store, and moving a folder is one detach and
one attach whatever it holds. Invariant: a node whose ``owner`` is not this
tree's token is never mutated by this tree.

Memory: a file is a 3-tuple (size, sha256 digest bytes, generation) in its
folder's dict, about 250 bytes per entry with its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from planner.core.entry import Blob, Entry, Kind
from planner.core.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound, TreeError
from planner.core.paths import fold, is_strictly_inside, join, split

FileNode = tuple[int | None, bytes | None, int | None]  # size, sha256 digest, generation
_FOLDER_CACHE = 4096  # cached folder paths per tree; cleared wholesale when full


class Dir:
    """A folder node: children by exact name, and a lazy case/normalisation index."""

    __slots__ = ("_folds", "children", "deepest", "owner")

    def __init__(self, owner: object, children: dict[str, Node] | None = None) -> None:
        self.children: dict[str, Node] = {} if children is None else children
        self.owner = owner
        self._folds: dict[str, str | tuple[str, ...]] | None = None
        # Bytes of the longest relative path below; cached only once the node is
        # shared, because shared nodes never change.
        self.deepest: int | None = None

    def clone(self, owner: object) -> Dir:
        copy = Dir(owner, dict(self.children))
        if self._folds is not None:
            copy._folds = dict(self._folds)
        return copy

    def spellings(self, name: str) -> tuple[str, ...]:
        """Every child name that folds to the same key as ``name``."""
        if self._folds is None:
            folds: dict[str, str | tuple[str, ...]] = {}
            for child in self.children:
                _fold_add(folds, child)
            self._folds = folds
        found = self._folds.get(fold(name), ())
        return (found,) if isinstance(found, str) else found

    def attach(self, name: str, node: Node) -> None:
        self.children[name] = node
        if self._folds is not None:
            _fold_add(self._folds, name)

    def detach(self, name: str) -> Node:
        node = self.children.pop(name)
        if self._folds is not None:
            key = fold(name)
            rest = tuple(n for n in self.spellings(name) if n != name)
            if rest:
                self._folds[key] = rest[0] if len(rest) == 1 else rest
            else:
                del self._folds[key]
        return node


Node = Dir | FileNode


def _fold_add(folds: dict[str, str | tuple[str, ...]], name: str) -> None:
    key = fold(name)
    found = folds.get(key)
    if found is None:
        folds[key] = name
    elif isinstance(found, str):
        folds[key] = (found, name)
    else:
        folds[key] = (*found, name)


def _segments(path: str) -> list[str]:
    return path.split("/") if path else []


def file_node(size: int | None, sha256: str | None, generation: int | None = None) -> FileNode:
    """Build a file node from public metadata (hex sha256)."""
    return (size, bytes.fromhex(sha256) if sha256 else None, generation)


def _entry(path: str, node: Node) -> Entry:
    if isinstance(node, Dir):
        return Entry(path, "dir")
    size, digest, generation = node
    return Entry(path, "file", size, digest.hex() if digest else None, generation)


class Tree:
    """A store's namespace in memory; implements the file-operations protocol."""

    def __init__(self, root: Dir | None = None) -> None:
        self._token = object()
        self._root = root if root is not None else Dir(self._token)
        # Folder path -> the node currently at that path. Valid until a folder
        # node is replaced (cloned) or detached; both clear it.
        self._folders: dict[str, Dir] = {}

    # -- sharing ---------------------------------------------------------

    def fork(self) -> Tree:
        """Return an independent tree sharing all nodes; O(1).

        Both trees take fresh tokens, so neither mutates a node the other sees.
        The folder cache stays valid: forking replaces no node.
        """
        self._token = object()
        return Tree(self._root)

    def _disown(self) -> None:
        """Treat every node as shared again (after a node was placed twice)."""
        self._token = object()

    # -- reading ---------------------------------------------------------

    def _node(self, path: str) -> Node | None:
        if not path:
            return self._root
        parent, _, name = path.rpartition("/")
        folder = self._folder(parent)
        return None if folder is None else folder.children.get(name)

    def _folder(self, path: str) -> Dir | None:
        """The folder at ``path`` (None if absent or a file), through the cache."""
        folder = self._folders.get(path)
        if folder is not None:
            return folder
        node = self._root
        for name in _segments(path):
            child = node.children.get(name)
            if not isinstance(child, Dir):
                return None
            node = child
        if len(self._folders) >= _FOLDER_CACHE:
            self._folders.clear()
        self._folders[path] = node
        return node

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path``, or None when nothing is there."""
        node = self._node(path)
        return None if node is None else _entry(path, node)

    def kind(self, path: str) -> Kind | None:
        node = self._node(path)
        if node is None:
            return None
        return "dir" if isinstance(node, Dir) else "file"

    def collision(self, path: str, *, besides: str | None = None) -> str | None:
        """An existing sibling spelled differently but folding to the same name (not ``besides``)."""
        parent, name = split(path)
        node = self._node(parent)
        if not isinstance(node, Dir):
            return None
        for other in node.spellings(name):
            if other != name and join(parent, other) != besides:
                return join(parent, other)
        return None

    def names(self, path: str) -> list[str]:
        """The sorted child names of the folder at ``path``."""
        node = self._node(path)
        if node is None:
            raise NotFound(path, f"{path!r} does not exist")
        if not isinstance(node, Dir):
            raise NotADirectory(path, f"{path!r} is a file, not a folder")
        return sorted(node.children)

    def walk(self, path: str = "") -> Iterator[Entry]:
        """Every entry at and below ``path`` (the root itself excluded), parents first."""
        node = self._node(path)
        if node is None:
            return
        if path:
            yield _entry(path, node)
        if isinstance(node, Dir):
            yield from _walk_children(path, node)

    def deepest(self, path: str) -> int:
        """Bytes of the longest path below the folder ``path``, relative to it (0 if none)."""
        node = self._node(path)
        return self._deepest(node) if isinstance(node, Dir) else 0

    def _deepest(self, folder: Dir) -> int:
        """Depth-first with a stack, not recursion: a valid path may have 512 segments."""
        depths: dict[int, int] = {}  # id(folder) -> its depth, for folders this tree owns
        stack: list[tuple[Dir, bool]] = [(folder, False)]
        while stack:
            node, expanded = stack.pop()
            if _depth(node, depths) is not None:
                continue
            if not expanded:
                stack.append((node, True))
                stack.extend(
                    (child, False)
                    for child in node.children.values()
                    if isinstance(child, Dir) and child.children and _depth(child, depths) is None
                )
                continue
            best = 0
            for name, child in node.children.items():
                length = len(name.encode())
                if isinstance(child, Dir) and child.children:
                    length += 1 + (_depth(child, depths) or 0)
                best = max(best, length)
            if node.owner is self._token:
                depths[id(node)] = best  # an owned folder may still change: not cached on it
            else:
                node.deepest = best
        return _depth(folder, depths) or 0

    def __len__(self) -> int:
        return sum(1 for _ in self.walk())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tree):
            return NotImplemented
        return list(self.walk()) == list(other.walk())

    __hash__ = None  # type: ignore[assignment]  # mutable

    # -- writing ---------------------------------------------------------

    def _owned_dir(self, path: str) -> Dir:
        """The folder at ``path``, made owned (copying it and its ancestors if shared)."""
        cached = self._folders.get(path)
        if cached is not None and cached.owner is self._token:
            return cached
        if self._root.owner is not self._token:
            self._root = self._root.clone(self._token)
            self._folders.clear()
        node = self._root
        for name in _segments(path):
            child = node.children.get(name)
            if child is None:
                raise NotFound(path, f"folder {path!r} does not exist")
            if not isinstance(child, Dir):
                raise NotADirectory(path, f"{path!r} is a file, not a folder")
            if child.owner is not self._token:
                child = child.clone(self._token)
                node.children[name] = child  # same name: the fold index is unchanged
                self._folders.clear()
            node = child
        self._folders[path] = node
        return node

    def _free_slot(self, path: str, *, replace: bool = False) -> tuple[Dir, str]:
        parent, name = split(path)
        folder = self._owned_dir(parent)
        existing = folder.children.get(name)
        if existing is not None:
            if not replace:
                raise AlreadyExists(path, f"{path!r} already exists")
            if isinstance(existing, Dir):
                raise IsADirectory(path, f"{path!r} is a folder; only files are replaced")
        return folder, name

    def make_dir(self, path: str) -> None:
        """Create an empty folder; the parent must exist, the path must not."""
        folder, name = self._free_slot(path)
        folder.attach(name, Dir(self._token))

    def put_file(
        self,
        path: str,
        size: int | None,
        sha256: str | None,
        generation: int | None = None,
        *,
        replace: bool = False,
    ) -> None:
        """Create (or with ``replace``, replace) the file at ``path``."""
        folder, name = self._free_slot(path, replace=replace)
        folder.attach(name, file_node(size, sha256, generation))

    def move(self, src: str, dst: str, *, replace: bool = False) -> None:
        """Move the file or folder at ``src`` to ``dst``; O(1) in what it holds."""
        if self._node(src) is None:
            raise NotFound(src, f"{src!r} does not exist")
        if is_strictly_inside(src, dst):
            raise TreeError(dst, f"cannot move {src!r} into itself")
        folder, name = self._free_slot(dst, replace=replace)
        parent, src_name = split(src)
        node = self._owned_dir(parent).detach(src_name)
        if isinstance(node, Dir):
            self._folders.clear()  # every cached path below src is stale
        if replace and name in folder.children:
            folder.detach(name)
        folder.attach(name, node)

    def write_file(self, path: str, blob: Blob, *, replace: bool = False) -> None:
        """Create (or replace) a file with ``blob``'s metadata; the tree keeps no bytes."""
        self.put_file(path, blob.size, blob.sha256, replace=replace)

    def copy(self, src: str, dst: str) -> None:
        """Copy the file or folder at ``src`` to ``dst``; folders are shared, O(1)."""
        node = self._node(src)
        if node is None:
            raise NotFound(src, f"{src!r} does not exist")
        if is_strictly_inside(src, dst):
            raise TreeError(dst, f"cannot copy {src!r} into itself")
        folder, name = self._free_slot(dst)
        folder.attach(name, node)
        if isinstance(node, Dir):
            self._disown()  # one node in two places: both must copy before changing

    def delete(self, path: str) -> None:
        """Remove the file or folder at ``path`` and everything below it (a tree has no trash)."""
        parent, name = split(path)
        folder = self._owned_dir(parent)
        if name not in folder.children:
            raise NotFound(path, f"{path!r} does not exist")
        if isinstance(folder.detach(name), Dir):
            self._folders.clear()


def _depth(folder: Dir, depths: dict[int, int]) -> int | None:
    return folder.deepest if folder.deepest is not None else depths.get(id(folder))


def _walk_children(path: str, folder: Dir) -> Iterator[Entry]:
    """Parents first, names sorted; a stack of iterators, not recursion (512 levels may occur)."""
    stack: list[tuple[str, Iterator[str], Dir]] = [(path, iter(sorted(folder.children)), folder)]
    while stack:
        parent, names, node = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            continue
        child = node.children[name]
        child_path = join(parent, name)
        yield _entry(child_path, child)
        if isinstance(child, Dir):
            stack.append((child_path, iter(sorted(child.children)), child))


class TreeBuilder:
    """Builds a tree from entries streamed in any order, fastest when parents come first.

    Missing ancestors are created as folders, as object stores imply them.
    """

    def __init__(self) -> None:
        self.tree = Tree()
        self._token = self.tree._token  # noqa: SLF001  # the builder owns the new tree
        self._last_parent = ""
        self._last_dir = self.tree._root  # noqa: SLF001

    def _folder(self, parent: str) -> Dir:
        if parent == self._last_parent:
            return self._last_dir
        node = self.tree._root  # noqa: SLF001
        for name in _segments(parent):
            child = node.children.get(name)
            if child is None:
                child = Dir(self._token)
                node.attach(name, child)
            elif not isinstance(child, Dir):
                raise NotADirectory(parent, f"{parent!r} is a file but has entries below it")
            node = child
        self._last_parent, self._last_dir = parent, node
        return node

    def add_dir(self, path: str) -> None:
        parent, name = split(path)
        folder = self._folder(parent)
        existing = folder.children.get(name)
        if existing is None:
            folder.attach(name, Dir(self._token))
        elif not isinstance(existing, Dir):
            raise AlreadyExists(path, f"{path!r} is listed as a file and a folder")

    def add_file(self, path: str, node: FileNode) -> None:
        parent, name = split(path)
        folder = self._folder(parent)
        if name in folder.children:
            raise AlreadyExists(path, f"{path!r} is listed twice")
        folder.attach(name, node)

    def add(self, entries: Iterable[Entry]) -> TreeBuilder:
        for entry in entries:
            if entry.is_dir:
                self.add_dir(entry.path)
            else:
                self.add_file(entry.path, file_node(entry.size, entry.sha256, entry.generation))
        return self

    def build(self) -> Tree:
        return self.tree


def tree_of(entries: Iterable[Entry]) -> Tree:
    """Build a tree from entries (parents may be implied)."""
    return TreeBuilder().add(entries).build()
