"""Text from plans and the audit, made safe to show on a terminal.

Titles, reasons, comments and messages may hold any character JSON allows:
ESC, CR, LF, bidi overrides. Printed raw, an escape sequence or a carriage
return could rewrite what an auditor sees, and a newline could forge a line.
``one_line`` escapes every such character in a value a view puts on a line;
``terminal`` is what every human view prints through (it keeps the view's own
line breaks and escapes every other control), so a field a view forgot still
cannot reach the terminal raw.
"""

from __future__ import annotations

import unicodedata

# Controls (C0, DEL, C1), format characters (bidi overrides, zero-width), line and
# paragraph separators, surrogates, private use.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _hidden(char: str) -> bool:
    return not (" " <= char <= "~") and unicodedata.category(char) in _HIDDEN


def one_line(value: object) -> str:
    """``value`` as text with every control, newline and invisible format character escaped."""
    text = str(value)
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escaped(char) if _hidden(char) else char for char in text)


def terminal(view: str) -> str:
    """A rendered view with its line breaks kept and every other control or format character escaped."""
    return "\n".join(one_line(line) for line in view.split("\n"))
