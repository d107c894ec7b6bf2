"""Word bigram and trigram counts from the training corpus, layered over the network.

A small recurrent network that predicts one vector cannot say "gentlemen" after "Ladies and"
when most of what follows "and" looks like "women" and "ladies": the phrase is too rare to move
the vector, but its counts are unambiguous (15 of 18 times in the corpus). The bundle may carry
the counts (`ngrams.npz`, written by `nextword ngrams`), and the ranking then uses interpolated
absolute discounting with the network as the lowest order:

    p(w | a b) = max(c(a b w) - D, 0) / c(a b) + backoff(a b) * p(w | b)
    p(w | b)   = max(c(b w) - D, 0) / c(b)     + backoff(b)   * p_network(w)

backoff(h) = 1 - sum over kept continuations of (c(h w) - D) / c(h), so the pieces sum to one
although continuations seen fewer than `min_count` times were not kept. An unseen context has
backoff 1. Contexts are the last two ids of the network's input (`Engine.context_key`: a
paragraph or continue marker, then the tokens since), counted over the training corpus cut
exactly as the network was trained, so both read the same contexts. Only words are predicted:
c(h) counts the vocabulary words that followed h, not punctuation or unknown words.

`evidence` returns the explicit part (the discounted counts, mixed through the two levels) for
the words in a prefix's id range and the coefficient left for the network; the engine does the
rest (`Engine.rank`).

File layout (`numpy.savez_compressed`), for each order in ("bigram", "trigram"):
    {order}_context  uint32 [C]      sorted context keys (bigram: b; trigram: a * vocab + b)
    {order}_total    uint32 [C]      c(h): word tokens seen after the context
    {order}_offsets  uint32 [C + 1]  the context's continuations are next[offsets[i]:offsets[i+1]]
    {order}_next     uint16 [E]      continuation word ids, ascending within a context
    {order}_count    uint16 [E]      their counts (clipped at 65535)
and `vocab_size` int64 [1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ORDERS = ("bigram", "trigram")
FILE_NAME = "ngrams.npz"


class NgramError(ValueError):
    """The counts file is unreadable or does not fit the bundle."""


@dataclass(frozen=True)
class Evidence:
    """What the counts say after a context, for the words of one prefix range."""

    ids: np.ndarray
    """Word ids in the range that the counts know after this context (int64, ascending)."""
    explicit: np.ndarray
    """Their explicit probability, float64: the discounted counts through both levels."""
    network_share: float
    """What is left for the network: p(w) = explicit(w) + network_share * p_network(w)."""


@dataclass
class _Level:
    context: np.ndarray
    total: np.ndarray
    offsets: np.ndarray
    next_ids: np.ndarray
    counts: np.ndarray
    kept_sum: np.ndarray
    kept_types: np.ndarray

    def find(self, key: int) -> int:
        """The context's row, or -1."""
        row = int(np.searchsorted(self.context, key))
        if row < len(self.context) and int(self.context[row]) == key:
            return row
        return -1

    def backoff(self, row: int, discount: float) -> float:
        discounted = float(self.kept_sum[row]) - discount * float(self.kept_types[row])
        return 1.0 - discounted / float(self.total[row])

    def in_range(self, row: int, lo: int, hi: int, discount: float) -> tuple[np.ndarray, ...]:
        begin, end = int(self.offsets[row]), int(self.offsets[row + 1])
        ids = self.next_ids[begin:end]
        first, last = np.searchsorted(ids, [lo, hi])
        chosen = slice(begin + int(first), begin + int(last))
        probabilities = (self.counts[chosen].astype(np.float64) - discount) / float(self.total[row])
        return self.next_ids[chosen].astype(np.int64), probabilities


class NgramTable:
    def __init__(self, vocab_size: int, levels: dict[str, _Level]) -> None:
        self.vocab_size = vocab_size
        self.bigram = levels["bigram"]
        self.trigram = levels["trigram"]

    @property
    def nbytes(self) -> int:
        return sum(
            array.nbytes for level in (self.bigram, self.trigram) for array in vars(level).values()
        )

    def evidence(self, context: tuple[int, ...], lo: int, hi: int, discount: float) -> Evidence:
        """The counts' view of the words in [lo, hi) after `context` (the network's input ids)."""
        discount = min(max(discount, 0.0), 0.999)
        none = Evidence(np.empty(0, np.int64), np.empty(0, np.float64), 1.0)
        row = self.bigram.find(context[-1]) if context else -1
        if row < 0:
            return none  # a trigram's (b, w) is a bigram too: no bigram, no trigram either
        ids, explicit = self.bigram.in_range(row, lo, hi, discount)
        share = self.bigram.backoff(row, discount)
        row = -1
        if len(context) > 1:
            row = self.trigram.find(context[-2] * self.vocab_size + context[-1])
        if row >= 0:
            backoff = self.trigram.backoff(row, discount)
            more_ids, more = self.trigram.in_range(row, lo, hi, discount)
            # Every kept trigram's word is among its bigram's (checked at load): add in place.
            where = np.searchsorted(ids, more_ids)
            explicit = backoff * explicit
            explicit[where] += more
            share *= backoff
        return Evidence(ids, explicit, share)


def _level(arrays: dict[str, np.ndarray], order: str) -> _Level:
    def get(name: str, kinds: tuple[type, ...]) -> np.ndarray:
        key = f"{order}_{name}"
        if key not in arrays:
            raise NgramError(f"{FILE_NAME} has no {key}")
        array = arrays[key]
        if array.ndim != 1 or array.dtype not in [np.dtype(kind) for kind in kinds]:
            raise NgramError(f"{FILE_NAME}: {key} is {array.dtype}{list(array.shape)}")
        return array

    context = get("context", (np.uint32, np.uint64))
    total = get("total", (np.uint32, np.uint64))
    offsets = get("offsets", (np.uint32, np.uint64))
    next_ids = get("next", (np.uint16, np.uint32))
    counts = get("count", (np.uint16, np.uint32))
    if len(total) != len(context) or len(offsets) != len(context) + 1:
        raise NgramError(f"{FILE_NAME}: the {order} arrays disagree in length")
    if len(counts) != len(next_ids) or (len(offsets) and int(offsets[-1]) != len(next_ids)):
        raise NgramError(f"{FILE_NAME}: the {order} offsets do not cover its continuations")
    if len(context) and (np.any(np.diff(offsets.astype(np.int64)) <= 0) or int(offsets[0])):
        raise NgramError(f"{FILE_NAME}: the {order} offsets are not increasing from 0")
    if np.any(np.diff(context.astype(np.int64)) <= 0):
        raise NgramError(f"{FILE_NAME}: the {order} contexts are not sorted")
    starts = offsets[:-1].astype(np.int64)
    kept_sum = np.add.reduceat(counts.astype(np.int64), starts) if len(starts) else starts
    kept_types = np.diff(offsets.astype(np.int64)).astype(np.uint32)
    if np.any(kept_sum > total) or np.any(total == 0):
        raise NgramError(f"{FILE_NAME}: the {order} totals are smaller than their counts")
    return _Level(context, total, offsets, next_ids, counts, kept_sum.astype(np.uint32), kept_types)


def load_ngrams(path: Path, vocab_size: int, n_words: int) -> NgramTable:
    """Read `ngrams.npz`; raises NgramError with a one-line reason."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError) as error:
        raise NgramError(f"{FILE_NAME} is not a readable archive ({error})") from None
    return table_from_arrays(arrays, vocab_size, n_words)


def table_from_arrays(arrays: dict[str, np.ndarray], vocab_size: int, n_words: int) -> NgramTable:
    """The table from the file's arrays (see the module docstring), every one checked."""
    stored_size = arrays.get("vocab_size")
    if stored_size is None or stored_size.shape != (1,) or int(stored_size[0]) != vocab_size:
        raise NgramError(f"{FILE_NAME} was counted for another vocabulary")
    levels = {order: _level(arrays, order) for order in ORDERS}
    for order, level in levels.items():
        if len(level.next_ids) and int(level.next_ids.max()) >= n_words:
            raise NgramError(f"{FILE_NAME}: a {order} continuation is not a word id")
    bigrams, trigrams = (_pairs(levels[order], vocab_size) for order in ORDERS)
    # A trigram (a, b, w) was counted with its bigram (b, w), which was seen at least as often:
    # `evidence` relies on it to add the two levels without a merge.
    tails = (trigrams // vocab_size) % vocab_size * vocab_size + trigrams % vocab_size
    where = np.minimum(np.searchsorted(bigrams, tails), max(len(bigrams) - 1, 0))
    if len(tails) and (not len(bigrams) or not np.array_equal(bigrams[where], tails)):
        raise NgramError(f"{FILE_NAME}: a trigram's last two words are not a kept bigram")
    return NgramTable(vocab_size, levels)


def _pairs(level: _Level, vocab_size: int) -> np.ndarray:
    """context * vocab_size + word for every kept continuation, ascending, int64."""
    contexts = np.repeat(level.context.astype(np.int64), level.kept_types)
    return contexts * vocab_size + level.next_ids.astype(np.int64)
