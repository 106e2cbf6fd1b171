"""Store path rules: what a path in a plan may be, containment, and collision keys.

Every rule about path *spelling* lives here, so the verifier, the backends and
the sidecar agree on it. A store path is relative to the store root,
``/``-separated, NFC, and every segment is a name that Windows, POSIX and GCS
can all hold. Containment is decided segment by segment, never by prefix.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 1024
RESERVED_ROOT = ".pva"  # the store's own namespace: journal, staging, trash

# Characters Windows cannot hold in a name (besides controls and the separators).
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*')
# Device names Windows reserves with or without an extension ("nul.txt").
# The superscript digits are reserved too on current Windows.
_WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul", "conin$", "conout$"]
    + [f"{dev}{n}" for dev in ("com", "lpt") for n in "0123456789¹²³"]
)
# Unicode categories that must never appear in a name: controls (Cc), format
# characters (Cf: bidi overrides, zero-width, BOM), line and paragraph
# separators, unassigned code points, private use and surrogates.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})
# Characters that pass for a path separator in a listing: a name holding one
# reads as a folder that does not exist.
_LOOK_ALIKES = {
    **dict.fromkeys("\u2215\u2044\uff0f\u29f8\u2571\u27cb\u1735\u3033", "'/'"),
    **dict.fromkeys("\u2216\uff3c\ufe68\u29f5\u29f9\u2572\u27cd", "'\\'"),
}
# Characters that pass for dots. Only a name made of nothing else is refused
# (it reads as '.' or '..'); "Notes on the call\u2026.docx" is a real name.
_DOT_LOOK_ALIKES = frozenset("\u2024\u2025\u2026\ufe52\uff0e")
# Characters that print as nothing visible though they are not format characters.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_DOTS = "." + "".join(sorted(_DOT_LOOK_ALIKES))
_SAFE_ASCII_NAME = re.compile(r"[A-Za-z0-9 _.,;'()&!#$%+=@\[\]{}^~`-]+")


class PathRuleError(ValueError):
    """A path or name breaks a spelling rule; ``str(error)`` says which."""


def check_name(name: str) -> None:
    """Raise PathRuleError unless ``name`` is a valid single path segment."""
    problem = _name_problem(name)
    if problem is not None:
        raise PathRuleError(problem)


def _name_problem(name: str) -> str | None:  # noqa: PLR0911  # one return per rule reads clearest
    if name in ("", ".", ".."):
        return f"{name!r} is not a file or folder name" if name else "empty segment ('//')"
    if "/" in name:
        return f"name {name!r} contains '/'"
    if not name.strip(_DOTS):  # only dots and look-alikes (str.strip: the loop in C)
        return f"name {name!r} is only dots and characters that look like dots: it reads as '.' or '..'"
    if not _SAFE_ASCII_NAME.fullmatch(name):
        problem = _character_problem(name)
        if problem is not None:
            return problem
    if len(name.encode("utf-8")) > MAX_SEGMENT_BYTES:
        return f"name {name[:40]!r}... is longer than {MAX_SEGMENT_BYTES} bytes"
    if name[-1] in ". ":
        return f"name {name!r} ends with a dot or a space (Windows cannot hold it)"
    # Windows ignores spaces before the extension ("CON   .txt" is CON), however many.
    # casefold never shortens, so a stem longer than every device name is not one.
    stem = name.split(".", 1)[0].rstrip(" ")
    if len(stem) <= 7 and stem.casefold() in _WINDOWS_DEVICES:
        return f"name {name!r} is a reserved Windows device name"
    return None


def _character_problem(name: str) -> str | None:  # noqa: PLR0911  # one return per rule reads clearest
    """Backslashes, Windows-forbidden characters, controls, look-alikes, blanks, non-NFC."""
    for char in name:
        if char == "\\":
            return f"name {name!r} contains a backslash"
        if char in _WINDOWS_FORBIDDEN:
            return f"name {name!r} contains {char!r} (Windows cannot hold it)"
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return f"name {name!r} contains the control or invisible character U+{ord(char):04X}"
        if char in _LOOK_ALIKES:
            return f"name {name!r} contains U+{ord(char):04X}, which looks like {_LOOK_ALIKES[char]}"
    if unicodedata.category(name[0]).startswith("M"):
        return f"name {name!r} starts with the combining mark U+{ord(name[0]):04X}, a lone accent"
    if all(_is_blank(char) for char in name):
        return f"name {name!r} is only blank characters"
    if _is_blank(name[-1]):
        return f"name {name!r} ends with the blank character U+{ord(name[-1]):04X}"
    if not unicodedata.is_normalized("NFC", name):
        return f"name {name!r} is not in Unicode NFC form"
    return None


def _is_blank(char: str) -> bool:
    """A space of any width (Unicode Zs) or a letter that prints as nothing (Hangul fillers)."""
    return unicodedata.category(char) == "Zs" or char in _BLANK_LETTERS


def check_path(path: str) -> None:
    """Raise PathRuleError unless ``path`` is a valid relative store path."""
    if not path:
        raise PathRuleError("the path is empty")
    if path.startswith("/"):
        raise PathRuleError(f"path {path!r} is absolute; paths are relative to the store root")
    if path.endswith("/"):
        raise PathRuleError(f"path {path!r} ends with '/'")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise PathRuleError(f"path {path[:40]!r}... is longer than {MAX_PATH_BYTES} bytes")
    problem = _segments_problem(path)
    if problem is not None:
        raise PathRuleError(f"path {path!r}: {problem}")


def _segments_problem(path: str) -> str | None:
    """The deepest bad segment of a non-empty path, checking it and its parents through a cache.

    A loop, not recursion: a valid path may have 512 segments, and a plan must
    never reach the interpreter's recursion limit.
    """
    unchecked: list[str] = []  # the path and its uncached ancestors, deepest first
    current = path
    problem: str | None = None
    while current:
        if current in _verdicts:
            problem = _verdicts[current]
            break
        unchecked.append(current)
        current = current.rpartition("/")[0]
    for prefix in reversed(unchecked):  # shallowest first: a parent's verdict is known
        _, slash, name = prefix.rpartition("/")
        own = _name_problem(name)
        if own is None and not slash and fold(name) == RESERVED_ROOT:
            own = f"it is inside the store's reserved '{RESERVED_ROOT}/' area"
        problem = own if own is not None else problem
        _remember(prefix, problem)
    return problem


# Plans name the same folders over and over, and the footprint, the verifier
# and the apply check the same paths in turn; a verdict depends only on the
# string, so it is cached (bounded, cleared wholesale when full) and only the
# segments below the deepest known path are checked anew.
_PATH_CACHE = 1 << 17
_verdicts: dict[str, str | None] = {}


def _remember(path: str, problem: str | None) -> None:
    if len(_verdicts) >= _PATH_CACHE:
        _verdicts.clear()
    _verdicts[path] = problem


def path_problem(path: str) -> str | None:
    """Return why ``path`` is invalid, or None when it is a valid store path."""
    try:
        check_path(path)
    except PathRuleError as error:
        return str(error)
    return None


def is_utf8(name: str) -> bool:
    """A name the file system gave (``os.listdir``'s, undecodable bytes surrogate-escaped) is UTF-8.

    One that is not (an old archive's Latin-1) can be no store path: every
    listing leaves it out.
    """
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def read_path_problem(path: str) -> str | None:  # noqa: PLR0911  # one return per rule reads clearest
    """Why ``path`` cannot name an entry of the store to read, or None.

    Only the rules that keep a read inside the store and out of its reserved
    area: relative, no empty, '.' or '..' segment, UTF-8, no NUL, and the
    byte limits of plans (a bucket's names stop at 1,024 bytes, a file
    system's names at 255). What a plan may name is stricter (``path_problem``), but a store holds names
    made elsewhere ("Minutes 10:30.pdf", "CON.txt") that agents must still
    list past and read.
    """
    if not path:
        return "the path is empty"
    if path.startswith("/"):
        return f"path {path!r} is absolute; paths are relative to the store root"
    if "\x00" in path:
        return f"path {path!r} holds a NUL character"
    try:
        encoded = path.encode()
    except UnicodeEncodeError:
        return f"path {path!r} is not valid Unicode (a lone surrogate)"
    if len(encoded) > MAX_PATH_BYTES:
        return f"path {path[:40]!r}... is longer than {MAX_PATH_BYTES} bytes"
    if any(len(name) > MAX_SEGMENT_BYTES for name in encoded.split(b"/")):
        return f"path {path[:40]!r}... has a name longer than {MAX_SEGMENT_BYTES} bytes"
    segments = path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return f"path {path!r} has an empty, '.' or '..' segment"
    if fold(segments[0]) == RESERVED_ROOT:
        return f"path {path!r} is inside the store's reserved '{RESERVED_ROOT}/' area"
    return None


def split(path: str) -> tuple[str, str]:
    """Split a valid path into (parent, name); the parent of a top-level name is ''."""
    parent, _, name = path.rpartition("/")
    return parent, name


def join(parent: str, name: str) -> str:
    """Join a parent path ('' for the root) and a name."""
    return f"{parent}/{name}" if parent else name


def contains(ancestor: str, path: str) -> bool:
    """True when ``path`` is ``ancestor`` or lies below it, segment by segment.

    ``contains("matters/acme", "matters/acme-evil")`` is False: containment is
    never a string-prefix test. The root ('') contains every path.
    """
    if not ancestor:
        return True
    return path == ancestor or path.startswith(ancestor + "/")


def is_strictly_inside(ancestor: str, path: str) -> bool:
    """True when ``path`` lies below ``ancestor`` (and is not ``ancestor`` itself)."""
    return path != ancestor and contains(ancestor, path)


def rebase(path: str, old: str, new: str) -> str:
    """Return ``path`` with its ``old`` ancestor replaced by ``new``."""
    return new + path[len(old) :]


def fold(name: str) -> str:
    """Return the collision key of a name or path: equal keys mean one name.

    Two spellings collide when they differ only by case or Unicode
    normalisation (canonical caseless matching, Unicode 3.13 D145).
    """
    if name.isascii():
        return name.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())
