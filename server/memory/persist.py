"""Opt-in persistence of the document cache (memory/) between sessions, per workspace.

Off unless `memory.persist` is on. The pairs the memory learned from a workspace's documents
(predicted vectors as float16, and the words) are kept in one file per workspace under the
user's data directory, `$XDG_DATA_HOME/nextword` (else `~/.local/share/nextword`):

    workspaces/<sha256 of the workspace URI, 32 hex digits>.npz

Each file records the bundle it was learned with (the sha256 of its manifest) and the editor's
workspace URI. A file that cannot be read, or that belongs to another bundle or has the wrong
width, is set aside as `<name>.damaged` with one logged warning, and the server goes on without it.

Files are written atomically (a temporary file in the same directory, then `os.replace`) with
mode 0600 in directories of mode 0700, and never outside the data directory. They hold words the
user wrote, so forgetting is one command: the LSP command `nextword.forget` (this workspace, or
every workspace with the argument "all") or `nextword forget [--workspace URI | --all]`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import tempfile
from pathlib import Path

import numpy as np

from nextword.server.memory.blocks import MemoryBlock, make_block

log = logging.getLogger(__name__)

SUFFIX = ".npz"
SET_ASIDE_SUFFIX = ".damaged"
MAX_PERSISTED_PAIRS = 20_000


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "nextword"


def workspace_file(workspace_uri: str, base: Path | None = None) -> Path:
    digest = hashlib.sha256(workspace_uri.encode("utf-8")).hexdigest()[:32]
    return (base or data_dir()) / "workspaces" / f"{digest}{SUFFIX}"


def _inside(path: Path, base: Path) -> bool:
    try:
        return path.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return False


def make_private_dir(folder: Path) -> None:
    """Create `folder` (and its parents) and make it 0700: it holds what the user wrote."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != 0o700:
        folder.chmod(0o700)


_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")


def workspace_key(workspace: str) -> str:
    """A workspace folder as a comparable key: a file URI decoded to its path (editors
    percent-encode characters such as `(`, `)` and spaces differently), symbolic links resolved;
    another URI as it is. (No urllib: the server imports no network module, see test_no_network.)"""
    if workspace.startswith("file://"):
        host, slash, path = workspace.removeprefix("file://").partition("/")
        if host not in ("", "localhost"):
            return workspace
        encoded = (slash + path).split("?")[0].split("#")[0].encode("utf-8", "surrogateescape")
        decoded = _PERCENT.sub(lambda match: bytes([int(match.group(1), 16)]), encoded)
        workspace = decoded.decode("utf-8", "surrogateescape")
    elif "://" in workspace:
        return workspace
    return os.path.realpath(os.path.expanduser(workspace))


def stored_workspace(path: Path) -> str | None:
    """The workspace URI a stored memory records, if it can be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data["workspace"]) if "workspace" in data else None
    except Exception:  # a damaged file records nothing usable (see load_block)
        return None


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


def write_private_npz(
    path: Path, arrays: dict[str, np.ndarray], base: Path | None = None, prefix: str = ".memory-"
) -> None:
    """Write `arrays` to `path` (npz) atomically with mode 0600, in folders of mode 0700;
    refuses a path outside the data directory `base`. The temporary file's name starts with
    `prefix`."""
    base = base or data_dir()
    if not _inside(path, base):
        raise ValueError(f"refusing to write {path}: outside {base}")
    make_private_dir(base)
    if path.parent.is_relative_to(base):
        for folder in reversed(path.parent.relative_to(base).parents):  # base/a, base/a/b, ...
            make_private_dir(base / folder)
    make_private_dir(path.parent)
    handle, temporary = tempfile.mkstemp(prefix=prefix, suffix=SUFFIX, dir=path.parent)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_block(
    path: Path,
    block: MemoryBlock,
    base: Path | None = None,
    bundle: str = "",
    workspace_uri: str = "",
) -> None:
    """Write the block atomically with mode 0600; refuses a path outside the data directory.
    `bundle`: the identity of the bundle it was learned with; `workspace_uri`: as the editor
    sent it."""
    _, words, written, previous = block_rows(block)
    arrays = {
        "vectors": block.vectors.astype(np.float16),
        "words": np.asarray(words, dtype=str),
        "written": np.asarray(written, dtype=str),
        "previous": np.asarray(previous, dtype=str),
        "bundle": np.asarray(bundle, dtype=str),
        "workspace": np.asarray(workspace_uri, dtype=str),
    }
    write_private_npz(path, arrays, base)


def set_aside(path: Path, reason: str, what: str = "the stored memory") -> str:
    """Rename a stored file that cannot be used out of the way (one warning), so it is neither
    read again nor overwritten. The warning, for the user."""
    target = path.with_name(path.name + SET_ASIDE_SUFFIX)
    try:
        os.replace(path, target)
    except OSError as error:
        message = f"ignoring {what} {path}: {reason} (not set aside: {error})"
    else:
        message = f"ignoring {what} {path}: {reason}; set aside as {target.name}"
    log.warning("%s", message)
    return message


def read_block(path: Path, bundle: str | None, dim: int | None) -> MemoryBlock:
    """The stored block; raises ValueError (the reason) when it is foreign or malformed."""
    with np.load(path, allow_pickle=False) as data:
        stored_bundle = str(data["bundle"]) if "bundle" in data else None
        if bundle and stored_bundle is not None and stored_bundle != bundle:
            raise ValueError("it was learned with another model bundle")
        vectors = data["vectors"]
        if vectors.ndim != 2 or (dim is not None and vectors.shape[1] != dim):
            raise ValueError(f"its vectors are {list(vectors.shape)}, expected [pairs, {dim}]")
        vectors = vectors.astype(np.float32)
        words, written = data["words"].tolist(), data["written"].tolist()
        previous = data["previous"].tolist() if "previous" in data else None
    columns = [words, written] + ([previous] if previous is not None else [])
    if any(not isinstance(column, list) or len(column) != len(vectors) for column in columns):
        raise ValueError("its columns differ in length")
    if not np.isfinite(vectors).all():
        raise ValueError("its vectors hold non-finite values")
    return make_block(vectors, words, written, previous)


def load_block(path: Path, bundle: str | None = None, dim: int | None = None) -> MemoryBlock | None:
    """The stored block, or None when there is none. A file that is damaged, or was learned with
    another bundle (`bundle`, width `dim`), is set aside (logged) and None returned."""
    if not path.is_file():
        return None
    try:
        return read_block(path, bundle, dim)
    # numpy's npz reader fails on damaged input in many ways (EOFError, BadZipFile, IndexError,
    # KeyError, ValueError, OSError, ...): whatever it is, the file cannot be used.
    except Exception as error:
        set_aside(path, f"{type(error).__name__}: {error}")
        return None


def delete_stored(workspace: str | None = None, base: Path | None = None) -> list[Path]:
    """Delete one workspace's stored memory (every workspace's when None); the files removed.

    `workspace`: a folder path or URI. A file is that workspace's when it is stored under that
    URI's name or records a workspace URI naming the same folder (`workspace_key`)."""
    base = base or data_dir()
    folder = base / "workspaces"
    everything = sorted(folder.glob(f"*{SUFFIX}")) + sorted(folder.glob(f"*{SET_ASIDE_SUFFIX}"))
    if workspace is None:
        targets = everything + sorted(folder.glob(f".memory-*{SUFFIX}"))
    else:
        key = workspace_key(workspace)
        uri = workspace if "://" in workspace else Path(workspace).expanduser().absolute().as_uri()
        named = workspace_file(uri, base)
        targets = [
            path
            for path in everything
            if path == named
            or path.name == named.name + SET_ASIDE_SUFFIX
            or (path.suffix == SUFFIX and workspace_key(stored_workspace(path) or "") == key)
        ]
    removed = []
    for target in targets:
        if _inside(target, base) and target.is_file():
            target.unlink()
            removed.append(target)
    return removed
