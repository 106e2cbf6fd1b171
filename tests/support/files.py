"""Files on disk for a test: a store folder written from a mapping of paths to contents, and read back."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path


def write_files(root: Path, files: Mapping[str, bytes | None]) -> Path:
    """Write each ``path: content`` below ``root`` (``None``: a folder), making parents; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        target = root / path
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return root


def store_state(root: Path) -> dict[str, str]:
    """Every store entry outside .pva/, read from disk: path -> sha256 of a file, or 'dir'."""
    state: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        if rel.parts[:1] == (".pva",):
            continue
        state.update({str(rel / d): "dir" for d in dirs if not (rel == Path() and d == ".pva")})
        state.update(
            {str(rel / f): hashlib.sha256((Path(folder) / f).read_bytes()).hexdigest() for f in files}
        )
    return state
