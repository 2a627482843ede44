"""The bytes of a whole folder tree, to show that a refused command changed nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path


def tree_hash(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `root` (folders are listed too, with an empty hash)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
            for p in sorted(Path(root).rglob("*"))}
