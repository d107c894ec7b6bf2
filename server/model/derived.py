"""What the server derives from a bundle once and keeps in the user's cache directory.

The corpus counts ship compressed and delta-coded (`ngrams.npz`, ngrams.py): decoding and
checking them took ~0.3 s of every start and left 17 MB of arrays in memory. Once decoded and
checked, their arrays are written as plain `.npy` files under
`$XDG_CACHE_HOME/nextword/ngrams/<sha256 of the npz>/` and later starts map them into memory:
no decoding, and only the pages a lookup reads become resident (and the kernel may drop them
again). The folder is named by the file's sha256 from the manifest, which `load_bundle` checks,
so a changed bundle never reads another's arrays. A folder that cannot be written or read is
passed over: the counts are decoded as before.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np

from nextword.server.model.ngrams import Level, NgramTable

log = logging.getLogger(__name__)

FORMAT = 1
"""Of the cached folder's layout; a folder of another format is decoded again."""
META = "meta.json"


def cache_home() -> Path:
    """The user's cache directory ($XDG_CACHE_HOME, else ~/.cache); it may not exist."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def ngram_folder(sha256: str) -> Path | None:
    """Where the counts file of this sha256 is kept decoded; None for a malformed digest."""
    if re.fullmatch("[0-9a-f]{64}", sha256) is None:
        return None
    return cache_home() / "nextword" / "ngrams" / sha256


def read_ngrams(folder: Path, vocab_size: int, n_words: int) -> NgramTable | None:
    """The cached table, memory-mapped; None when the folder is missing, of another format, or
    its arrays do not fit together."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("words") != [vocab_size, n_words]:
            return None
        levels = [_read_level(folder, index) for index in range(int(meta["levels"]))]
    except (OSError, ValueError, KeyError, TypeError) as error:
        if not isinstance(error, FileNotFoundError):
            log.info("cached counts in %s not used (%s)", folder, error)
        return None
    return NgramTable(vocab_size, levels) if all(levels) else None


def _read_level(folder: Path, index: int) -> Level | None:
    arrays = {  # plain arrays over the mappings (a memmap's operations cost more)
        field.name: np.asarray(np.load(folder / f"{index}_{field.name}.npy", mmap_mode="r"))
        for field in fields(Level)
    }
    level = Level(**arrays)
    contexts, words = len(level.context), len(level.next_ids)
    fits = (
        len(level.total) == len(level.kept_sum) == contexts
        and len(level.offsets) == contexts + 1
        and len(level.counts) == words
        and (not contexts or int(level.offsets[-1]) == words)
        and all(array.ndim == 1 for array in arrays.values())
    )
    return level if fits else None


def write_ngrams(folder: Path, table: NgramTable, n_words: int) -> None:
    """Keep the decoded table's arrays in `folder` (written whole or not at all)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=folder.parent))
    except OSError as error:
        log.info("decoded counts not cached (%s)", error)
        return
    try:
        for index, level in enumerate(table.levels):
            for field in fields(Level):
                np.save(staging / f"{index}_{field.name}.npy", getattr(level, field.name))
        words = [table.vocab_size, n_words]
        meta = {"format": FORMAT, "words": words, "levels": len(table.levels)}
        (staging / META).write_text(json.dumps(meta), encoding="utf-8")
        staging.rename(folder)
    except OSError as error:  # another server wrote it first, or the disk is full
        log.info("decoded counts not cached in %s (%s)", folder, error)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
