"""The document cache's pairs as blocks: rows sorted by word, so a typed prefix's rows are one
slice, and each word's cache mass is one sum over its rows.

`make_block` builds a block from pairs in text order; `extended_block` makes the same block from
one whose window moved on, without re-sorting the kept rows.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from nextword.server.settings import MemorySettings
from nextword.server.text.tokenizer import folded_prefix_range


@dataclass(frozen=True)
class MemoryBlock:
    """Pairs ready for scoring: rows sorted by word, so a prefix's rows are one slice."""

    vectors: np.ndarray
    """float32 [pairs, dim], unit length."""
    words: list[str]
    """Sorted distinct folded words."""
    written: list[str]
    """Each word as last written."""
    starts: np.ndarray
    """Row where each word's pairs start (len(words) + 1 entries)."""
    previous: np.ndarray
    """Per row, the index in `tokens` of the token before the word (-1: unknown)."""
    tokens: list[str]
    """Sorted distinct tokens before the words."""
    positions: np.ndarray
    """Per row, the pair's index in text order (what `extended_block` drops and appends by)."""

    def __len__(self) -> int:
        return len(self.vectors)

    def word_range(self, typed: str) -> tuple[int, int]:
        return folded_prefix_range(self.words, typed)

    def masses(
        self, query: np.ndarray, typed: str, previous: str, settings: MemorySettings
    ) -> tuple[int, np.ndarray]:
        """(lo, sums): the cache mass of words[lo + i] is sums[i], for the words starting with
        `typed` (folded)."""
        lo, hi = self.word_range(typed)
        if lo == hi:
            return lo, np.zeros(0)
        first, last = int(self.starts[lo]), int(self.starts[hi])
        similarity = self.vectors[first:last] @ query
        weights = np.exp(settings.theta * (similarity.astype(np.float64) - 1.0))
        previous_id = bisect.bisect_left(self.tokens, previous)
        if previous_id == len(self.tokens) or self.tokens[previous_id] != previous:
            previous_id = -2
        if settings.same_previous != 1.0 and previous_id >= 0:
            same = self.previous[first:last] == previous_id
            weights = np.where(same, weights * settings.same_previous, weights)
        return lo, np.add.reduceat(weights, self.starts[lo:hi] - first)


def empty_block(dim: int) -> MemoryBlock:
    empty = np.zeros(0, np.int64)
    vectors = np.zeros((0, dim), np.float32)
    return MemoryBlock(vectors, [], [], np.zeros(1, np.int64), empty, [], empty)


def make_block(
    vectors: np.ndarray,
    words: list[str],
    written: list[str],
    previous: list[str] | None = None,
    out: np.ndarray | None = None,
) -> MemoryBlock:
    """A block from pairs in text order (the last spelling of a word wins); `previous`: the
    token before each word ("" where unknown); `out`: float32 memory of at least as many rows
    for the block's vectors."""
    if not words:
        return empty_block(vectors.shape[1] if vectors.ndim == 2 else 0)
    previous = previous or [""] * len(words)
    distinct = sorted(set(words))
    number = {word: i for i, word in enumerate(distinct)}
    codes = np.fromiter(map(number.__getitem__, words), dtype=np.int64, count=len(words))
    order = np.argsort(codes, kind="stable")
    spelling = dict(zip(words, written))  # the last spelling of each word
    starts = np.zeros(len(distinct) + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=len(distinct)), out=starts[1:])
    if out is None:
        rows = np.ascontiguousarray(vectors[order], dtype=np.float32)
    else:
        rows = out[: len(words)]
        np.take(vectors.astype(np.float32, copy=False), order, axis=0, out=rows, mode="clip")
    tokens = sorted(set(previous) - {""})
    number_of = {token: i for i, token in enumerate(tokens)}
    before = np.fromiter(map(number_of.get, previous, repeat(-1)), np.int64, len(previous))
    spelled = [spelling[word] for word in distinct]
    return MemoryBlock(rows, distinct, spelled, starts, before[order], tokens, order)


def extended_block(
    block: MemoryBlock,
    drop: int,
    vectors: np.ndarray,
    words: list[str],
    written: list[str],
    previous: list[str],
    out: np.ndarray | None = None,
) -> MemoryBlock:
    """make_block(the block's pairs after its first `drop`, then the given pairs), equal to it
    array for array, without re-sorting the kept rows: they are in order already, so only the
    new pairs are placed and the vectors are copied once (into `out[:rows]` when given, which
    must not overlap the block). With a full window this is what every ~50 words typed cost (a
    piece becomes stable, or the window's start moves), and rebuilding 2,000 rows took 1.5-5 ms
    of the keystroke."""
    if not len(block):
        return make_block(vectors, words, written, previous, out)
    counts = np.diff(block.starts)
    row_codes = np.repeat(np.arange(len(block.words)), counts)
    if drop:
        kept_rows = np.flatnonzero(block.positions >= drop)
        counts = np.bincount(row_codes[kept_rows], minlength=len(block.words))
    else:
        kept_rows = np.arange(len(block))
    alive = np.flatnonzero(counts)
    kept_words = list(itertools.compress(block.words, counts.tolist()))
    final_words, shift = _with_inserted(kept_words, set(words))
    spelling = list(itertools.compress(block.written, counts.tolist()))
    for index in shift.insertions:
        spelling.insert(index, "")
    number = {word: bisect.bisect_left(final_words, word) for word in set(words)}
    for word, spelled in zip(words, written):
        spelling[number[word]] = spelled  # the last spelling wins, as in make_block
    new_code = np.full(len(block.words), -1, np.int64)
    new_code[alive] = shift.moved(len(kept_words))
    codes = np.concatenate(
        [new_code[row_codes[kept_rows]], np.fromiter(map(number.__getitem__, words), np.int64)]
    )
    order = np.argsort(codes, kind="stable")
    destination = np.empty_like(order)
    destination[order] = np.arange(len(order))
    source = np.zeros(len(order), np.int64)
    source[destination[: len(kept_rows)]] = kept_rows
    if out is None:
        out = np.empty((len(order), block.vectors.shape[1]), np.float32)
    rows = out[: len(order)]
    block.vectors.take(source, axis=0, out=rows, mode="clip")  # "raise" would copy via a buffer
    rows[destination[len(kept_rows) :]] = vectors

    names = block.tokens
    if drop:  # the tokens still used (np.unique's first call in a process takes ~8 ms)
        present = np.bincount(block.previous[kept_rows] + 1, minlength=len(names) + 1)[1:] > 0
        used = np.flatnonzero(present)
        kept_tokens = list(itertools.compress(names, present.tolist()))
    else:
        used, kept_tokens = np.arange(len(names)), names
    tokens, token_shift = _with_inserted(kept_tokens, set(previous) - {""})
    token_code = np.full(len(names) + 1, -1, np.int64)  # the last entry maps -1 to -1
    token_code[used] = token_shift.moved(len(kept_tokens))
    before = np.concatenate(
        [
            token_code[block.previous[kept_rows]],
            np.asarray(
                [bisect.bisect_left(tokens, token) if token else -1 for token in previous],
                np.int64,
            ),
        ]
    )
    positions = np.concatenate(
        [block.positions[kept_rows] - drop, np.arange(len(kept_rows), len(order))]
    )
    starts = np.zeros(len(final_words) + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=len(final_words)), out=starts[1:])
    return MemoryBlock(rows, final_words, spelling, starts, before[order], tokens, positions[order])


@dataclass(frozen=True)
class _Insertions:
    insertions: list[int]
    """Where each new item went in the merged list (ascending)."""
    at: np.ndarray
    """Where each new item went in the old list."""

    def moved(self, old: int) -> np.ndarray:
        """The merged index of each of the `old` items."""
        steps = np.arange(old)
        return steps + np.searchsorted(self.at, steps, side="right")


def _with_inserted(items: list[str], more: set[str]) -> tuple[list[str], _Insertions]:
    """(sorted items with the new ones of `more` merged in, where they went); `items` sorted."""
    new = sorted(item for item in more if not _holds(items, item))
    at = [bisect.bisect_left(items, item) for item in new]
    merged = list(items)
    for index, (where, item) in enumerate(zip(at, new)):
        merged.insert(where + index, item)
    insertions = [where + index for index, where in enumerate(at)]
    return merged, _Insertions(insertions, np.asarray(at, np.int64))


def _holds(items: list[str], item: str) -> bool:
    index = bisect.bisect_left(items, item)
    return index < len(items) and items[index] == item
