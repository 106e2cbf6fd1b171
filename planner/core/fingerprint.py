"""The fingerprint of a tree: one hash that names the state a plan was verified against.

An approval binds to a plan's digest and to this fingerprint: when the
fingerprint of the live state differs, the approval no longer counts. Pure.
"""

from __future__ import annotations

import hashlib
import json

from planner.core.tree import Tree

FINGERPRINT_VERSION = b"pva-state/v1\n"


def fingerprint(tree: Tree) -> str:
    """Lowercase hex sha256 over the canonical listing of ``tree``.

    The listing is ``tree.walk()`` (parents first, names sorted), one JSON
    array ``[path, kind, size, sha256, generation]`` per line: exactly the
    fields the apply engine compares when it looks for drift, so two trees
    have one fingerprint when the engine would see no change between them.
    ``mtime`` is left out: it is informational and never compared. Non-ASCII
    is escaped, so any name a tree can hold encodes. Compute it
    over the same reads the engine makes (``footprint(plan)``), so that a
    change outside what the plan reads does not void its approvals.
    """
    digest = hashlib.sha256(FINGERPRINT_VERSION)
    for entry in tree.walk():
        row = [entry.path, entry.kind, entry.size, entry.sha256, entry.generation]
        digest.update(json.dumps(row, separators=(",", ":")).encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()
