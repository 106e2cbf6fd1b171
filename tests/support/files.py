"""Files on disk for a test: a store folder written from a mapping of paths to contents."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_files(root: Path, files: Mapping[str, bytes | None]) -> Path:
    """Write each ``path: content`` below ``root`` (``None``: a folder), making parents; returns ``root``."""
    for path, content in files.items():
        target = root / path
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return root
