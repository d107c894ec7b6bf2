"""Where what was learned from the user's writing is kept, and how it is read back.

Under the user's data directory (memory/persist.py: `$XDG_DATA_HOME/nextword`, folders 0700,
files 0600, written atomically), one folder per model bundle, so counts learned with one bundle
are never mixed into another's completions:

    learned/<bundle id>/sources/<sha256 of the source>.npz   one per `nextword learn` source
    learned/<bundle id>/combined.npz                         all sources together (the server
                                                             reads this one, and re-reads it
                                                             when it changes)
    learned/<bundle id>/typed/<sha256 of the workspace>.npz  sentences typed in a workspace

Every file records its format, the bundle and its source. One that cannot be read, or was
made by another format or bundle, is set aside as `<name>.damaged` with one warning.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nextword.server.memory.persist import (
    SET_ASIDE_SUFFIX,
    SUFFIX,
    data_dir,
    set_aside,
    workspace_key,
    write_private_npz,
)
from nextword.server.personal.table import ORDERS, Level, PersonalTable

log = logging.getLogger(__name__)

FORMAT = 1
COMBINED = "combined" + SUFFIX
WHAT = "the learned words"
LEVEL_FIELDS = ("keys", "counts", "contexts", "totals", "distinct")


class LearnedFileError(ValueError):
    """A learned file that cannot be used (the reason)."""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def bundle_folder(bundle_id: str, base: Path | None = None) -> Path:
    return (base or data_dir()) / "learned" / bundle_id[:16]


def source_file(folder: Path, source: str) -> Path:
    return folder / "sources" / f"{digest(source)}{SUFFIX}"


def typed_file(folder: Path, workspace: str) -> Path:
    return folder / "typed" / f"{digest(workspace)}{SUFFIX}"


def _joined(strings: list[str]) -> np.ndarray:
    """Strings as one UTF-8 byte array (a fixed-width numpy string array of 100k tokens would
    be as wide as the longest)."""
    data = "\n".join(strings).encode("utf-8", "surrogateescape")
    return np.frombuffer(data, np.uint8)


def _split(array: np.ndarray, count: int) -> list[str]:
    strings = array.tobytes().decode("utf-8", "surrogateescape").split("\n") if count else []
    if len(strings) != count:
        raise LearnedFileError(f"it lists {len(strings)} spellings for {count} tokens")
    return strings


def save_table(
    path: Path, table: PersonalTable, bundle_id: str, source: str, base: Path | None = None
) -> None:
    arrays: dict[str, np.ndarray] = {
        "format": np.asarray([FORMAT], np.int64),
        "bundle": np.asarray(bundle_id, dtype=str),
        "source": np.asarray(source, dtype=str),
        "saved": np.asarray([time.time()], np.float64),
        "count": np.asarray([len(table.tokens)], np.int64),
        "tokens": _joined(table.tokens),
        "written": _joined(table.written),
        "unigram": table.unigram,
    }
    for order, level in zip(ORDERS, table.levels):
        for name in LEVEL_FIELDS:
            arrays[f"n{order}_{name}"] = getattr(level, name)
    write_private_npz(path, arrays, base or data_dir(), prefix=".learned-")


def read_table(path: Path, bundle_id: str) -> tuple[PersonalTable, str]:
    """(the table, its source); raises LearnedFileError or numpy's errors when unusable."""
    with np.load(path, allow_pickle=False) as data:
        if "format" not in data or int(data["format"][0]) != FORMAT:
            raise LearnedFileError(f"it is not in format {FORMAT} (made by another version)")
        if str(data["bundle"]) != bundle_id:
            raise LearnedFileError("it was learned with another model bundle")
        count = int(data["count"][0])
        tokens, written = _split(data["tokens"], count), _split(data["written"], count)
        unigram = data["unigram"].astype(np.float32)
        levels = [Level(*(data[f"n{order}_{name}"] for name in LEVEL_FIELDS)) for order in ORDERS]
        source = str(data["source"])
    check(tokens, unigram, levels)
    return PersonalTable(tokens, written, unigram, (levels[0], levels[1])), source


def check(tokens: list[str], unigram: np.ndarray, levels: list[Level]) -> None:
    """Raise LearnedFileError where the arrays do not fit together."""
    size = max(len(tokens), 1)
    if tokens != sorted(tokens) or len(set(tokens)) != len(tokens):
        raise LearnedFileError("its tokens are not sorted and distinct")
    if len(unigram) != len(tokens) or not np.isfinite(unigram).all():
        raise LearnedFileError("its word counts do not fit its tokens")
    for order, level in zip(ORDERS, levels):
        keys, contexts = level.keys, level.contexts
        if keys.dtype != np.uint64 or contexts.dtype != np.uint64:
            raise LearnedFileError("its keys are not uint64")
        lengths = {len(level.totals), len(level.distinct), len(contexts)}
        if len(level.counts) != len(keys) or len(lengths) != 1:
            raise LearnedFileError("its count arrays differ in length")
        if not (np.isfinite(level.counts).all() and np.isfinite(level.totals).all()):
            raise LearnedFileError("its counts hold non-finite values")
        if len(keys) and (np.any(np.diff(keys) == 0) or np.any(keys[1:] < keys[:-1])):
            raise LearnedFileError("its phrases are not sorted")
        if len(keys) and int(keys[-1]) >= size**order:
            raise LearnedFileError("its phrases name tokens it does not have")


def load_table(path: Path, bundle_id: str) -> tuple[PersonalTable | None, str | None]:
    """(the table or None, a warning for the user or None). A file that cannot be used is set
    aside; a missing one is no warning."""
    if not path.is_file():
        return None, None
    try:
        table, _ = read_table(path, bundle_id)
        return table, None
    # numpy's npz reader fails on damaged input in many ways: whatever it is, set it aside.
    except Exception as error:
        return None, set_aside(path, f"{type(error).__name__}: {error}", WHAT)


@dataclass
class SourceInfo:
    source: str
    words: int
    tokens: int
    bytes: int
    path: Path


def sources(folder: Path, bundle_id: str) -> list[SourceInfo]:
    """What `nextword learn` learned for this bundle (unreadable files left out)."""
    found = []
    for path in sorted((folder / "sources").glob(f"*{SUFFIX}")):
        try:
            table, source = read_table(path, bundle_id)
        except Exception as error:  # status lists what it can read
            log.warning("cannot read %s: %s", path, error)
            continue
        found.append(
            SourceInfo(source, int(table.words), len(table.tokens), path.stat().st_size, path)
        )
    return found


def learned_files(base: Path | None = None) -> list[Path]:
    """Every file learning wrote, for every bundle (set-aside and temporary ones included)."""
    root = (base or data_dir()) / "learned"
    patterns = (f"*{SUFFIX}", f"*{SET_ASIDE_SUFFIX}", f".learned-*{SUFFIX}")
    return sorted({path for pattern in patterns for path in root.rglob(pattern)})


def forget_typed(workspace: str, base: Path | None = None) -> list[Path]:
    """Delete the sentences typed in a workspace (a folder path or URI), for every bundle."""
    key = workspace_key(workspace)
    removed = []
    for path in sorted(((base or data_dir()) / "learned").glob(f"*/typed/*{SUFFIX}*")):
        try:
            with np.load(path, allow_pickle=False) as data:
                recorded = str(data["source"])
        except Exception:  # noqa: BLE001 - a damaged file names no workspace: kept
            continue
        if workspace_key(recorded) == key:
            path.unlink()
            removed.append(path)
    return removed
