"""Opt-in persistence of the memory (memory.py) between sessions, per workspace.

Off unless `memory.persist` is on. The pairs the memory learned from a workspace's documents
(predicted vectors as float16, and the words) are kept in one file per workspace under the
user's data directory, `$XDG_DATA_HOME/nextword` (else `~/.local/share/nextword`):

    workspaces/<sha256 of the workspace URI, 32 hex digits>.npz

Files are written atomically (a temporary file in the same directory, then `os.replace`) with
mode 0600 in directories of mode 0700, and never outside the data directory. They hold words the
user wrote, so forgetting is one command: the LSP command `nextword.forget` (this workspace, or
every workspace with the argument "all") or `nextword forget [--workspace URI | --all]`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from nextword.server.memory.blocks import MemoryBlock, make_block

log = logging.getLogger(__name__)

SUFFIX = ".npz"
MAX_PERSISTED_PAIRS = 20_000


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "nextword"


def workspace_file(workspace_uri: str, base: Path | None = None) -> Path:
    digest = hashlib.sha256(workspace_uri.encode("utf-8")).hexdigest()[:32]
    return (base or data_dir()) / "workspaces" / f"{digest}{SUFFIX}"


def _inside(path: Path, base: Path) -> bool:
    return path.resolve().is_relative_to(base.resolve())


def block_rows(block: MemoryBlock) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """The block's pairs as (vectors, word, spelling, token before) per row."""
    counts = np.diff(block.starts).tolist()
    words = [word for word, count in zip(block.words, counts) for _ in range(count)]
    written = [spelled for spelled, count in zip(block.written, counts) for _ in range(count)]
    previous = [block.tokens[i] if i >= 0 else "" for i in block.previous.tolist()]
    return block.vectors, words, written, previous


def merge_blocks(old: MemoryBlock | None, new: MemoryBlock, max_pairs: int) -> MemoryBlock:
    """The new pairs and as many old ones as fit in `max_pairs` (the new ones win)."""
    vectors, words, written, previous = block_rows(new)
    if old is not None and len(old) and len(words) < max_pairs:
        room = max_pairs - len(words)
        old_vectors, old_words, old_written, old_previous = block_rows(old)
        vectors = np.concatenate([old_vectors[-room:], vectors])
        words, written = old_words[-room:] + words, old_written[-room:] + written
        previous = old_previous[-room:] + previous
    last = slice(-max_pairs, None)
    return make_block(vectors[last], words[last], written[last], previous[last])


def save_block(path: Path, block: MemoryBlock, base: Path | None = None) -> None:
    """Write the block atomically with mode 0600; refuses a path outside the data directory."""
    base = base or data_dir()
    if not _inside(path, base):
        raise ValueError(f"refusing to write {path}: outside {base}")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _, words, written, previous = block_rows(block)
    handle, temporary = tempfile.mkstemp(prefix=".memory-", suffix=SUFFIX, dir=path.parent)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as out:
            np.savez(
                out,
                vectors=block.vectors.astype(np.float16),
                words=np.asarray(words, dtype=str),
                written=np.asarray(written, dtype=str),
                previous=np.asarray(previous, dtype=str),
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_block(path: Path) -> MemoryBlock | None:
    """The stored block, or None when there is none (or it cannot be read: logged)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            vectors = data["vectors"].astype(np.float32)
            words, written = data["words"].tolist(), data["written"].tolist()
            previous = data["previous"].tolist() if "previous" in data else None
    except (OSError, ValueError, KeyError) as error:
        log.warning("ignoring the stored memory %s: %s", path, error)
        return None
    if len(vectors) != len(words) or len(words) != len(written):
        log.warning("ignoring the stored memory %s: columns differ in length", path)
        return None
    return make_block(vectors, words, written, previous)


def delete_stored(workspace_uri: str | None = None, base: Path | None = None) -> list[Path]:
    """Delete one workspace's stored memory (every workspace's when None); the files removed."""
    base = base or data_dir()
    folder = base / "workspaces"
    if workspace_uri is not None:
        targets = [workspace_file(workspace_uri, base)]
    else:
        targets = sorted(folder.glob(f"*{SUFFIX}")) + sorted(folder.glob(f".memory-*{SUFFIX}"))
    removed = []
    for target in targets:
        if _inside(target, base) and target.is_file():
            target.unlink()
            removed.append(target)
    return removed
