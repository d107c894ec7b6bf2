"""Word n-gram counts from the training corpus (bigrams, trigrams, optionally 4-grams), layered
over the network.

A small recurrent network that predicts one vector cannot say "gentlemen" after "Ladies and"
when most of what follows "and" looks like "women" and "ladies": the phrase is too rare to move
the vector, but its counts are unambiguous (15 of 18 times in the corpus). The bundle may carry
the counts (`ngrams.npz`, written by `nextword ngrams`), and the ranking then uses interpolated
absolute discounting with the network as the lowest order:

    p(w | a b) = max(c(a b w) - D, 0) / c(a b) + backoff(a b) * p(w | b)
    p(w | b)   = max(c(b w) - D, 0) / c(b)     + backoff(b)   * p_network(w)

and likewise p(w | z a b) over p(w | a b) when the file has 4-grams. backoff(h) = 1 - sum over
kept continuations of (c(h w) - D) / c(h), so the pieces sum to one although the exporter kept
only some continuations (see `nextword.exporter.ngrams` for which). An unseen context has
backoff 1. Contexts are the last ids of the network's input (`Engine.context_key`: a paragraph
or continue marker, then the tokens since), counted over the training corpus cut exactly as the
network was trained, so both read the same contexts. Only words are predicted: c(h) counts the
vocabulary words that followed h, not punctuation or unknown words.

`evidence` returns the explicit part (the discounted counts, mixed through the levels) for the
words in a prefix's id range and the coefficient left for the network; the engine does the
rest (`Engine.rank`).

File layout (`numpy.savez_compressed`), `format` int64 [1] = 2, `vocab_size` int64 [1],
`order` int64 [1] (3 or 4), and for each level in LEVELS[:order - 1] (a level's context has
1, 2, 3 ids, as the key sum(id_i * vocab_size ** (k - 1 - i)) over its k ids):
    {level}_context  uint32/uint64 [C]  the sorted context keys, as the first key and then the
                                        (positive) differences between neighbours
    {level}_total    uint32 [C]         c(h): word tokens seen after the context
    {level}_kept     uint16/uint32 [C]  how many of its continuations were kept (>= 1)
    {level}_next     uint16/uint32 [E]  continuation word ids, ascending within a context, as
                                        the first id and then the (positive) differences
    {level}_count    uint16 [E]         their counts (>= 1, clipped at 65535)
Differences make the arrays small numbers, which compress to about half. Files without `format`
(format 1: bigrams and trigrams with absolute `context`, `next` and `offsets` [C + 1] instead of
`kept`) are read too.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEVELS = ("bigram", "trigram", "fourgram")
"""Level k + 1 (an n-gram of k context ids and the word) is LEVELS[k - 1]."""
FILE_NAME = "ngrams.npz"
FORMAT = 2


class NgramError(ValueError):
    """The counts file is unreadable or does not fit the bundle."""


@dataclass(frozen=True)
class Evidence:
    """What the counts say after a context, for the words of one prefix range."""

    ids: np.ndarray
    """Word ids in the range that the counts know after this context (int64, ascending)."""
    explicit: np.ndarray
    """Their explicit probability, float64: the discounted counts through every level."""
    network_share: float
    """What is left for the network: p(w) = explicit(w) + network_share * p_network(w)."""


@dataclass
class Level:
    """One order's kept n-grams, as the server searches them (decoded from the file)."""

    context: np.ndarray  # sorted keys, uint32 or uint64
    total: np.ndarray  # uint32
    offsets: np.ndarray  # [C + 1] uint32: the context's continuations are next_ids[offsets[i]:]
    next_ids: np.ndarray  # uint16 or uint32
    counts: np.ndarray  # uint16
    kept_sum: np.ndarray  # uint32: the kept continuations' counts, summed per context

    def find(self, key: int) -> int:
        """The context's row, or -1."""
        if not len(self.context) or not 0 <= key <= int(self.context[-1]):
            return -1
        row = int(_search(self.context, key))
        return row if int(self.context[row]) == key else -1

    def backoff(self, row: int, discount: float) -> float:
        kept = int(self.offsets[row + 1]) - int(self.offsets[row])
        return 1.0 - (float(self.kept_sum[row]) - discount * kept) / float(self.total[row])

    def in_range(self, row: int, lo: int, hi: int, discount: float) -> tuple[np.ndarray, ...]:
        begin, end = int(self.offsets[row]), int(self.offsets[row + 1])
        ids = self.next_ids[begin:end]
        fits = hi < 1 << (8 * ids.itemsize)  # lo < hi <= n_words: only hi may not fit
        first = int(_search(ids, lo))
        last = int(_search(ids, hi)) if fits else len(ids)
        chosen = slice(begin + first, begin + last)
        probabilities = (self.counts[chosen].astype(np.float64) - discount) / float(self.total[row])
        return self.next_ids[chosen].astype(np.int64), probabilities

    def pairs(self, vocab_size: int) -> np.ndarray:
        """context * vocab_size + word for every kept continuation, ascending (uint64)."""
        kept = np.diff(self.offsets.astype(np.int64))
        contexts = np.repeat(self.context.astype(np.uint64), kept)
        return contexts * np.uint64(vocab_size) + self.next_ids.astype(np.uint64)


def _search(array: np.ndarray, value: int) -> np.intp:
    """np.searchsorted for one value, given as an array of the array's own type: a Python int
    or a numpy scalar makes numpy convert the whole array first (~2 ms for 230k uint64)."""
    return array.searchsorted(np.asarray([value], dtype=array.dtype))[0]


class NgramTable:
    def __init__(self, vocab_size: int, levels: list[Level]) -> None:
        self.vocab_size = vocab_size
        self.levels = levels

    @property
    def context_length(self) -> int:
        """How many of the last context ids the evidence depends on."""
        return len(self.levels)

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for level in self.levels for array in vars(level).values())

    def evidence(self, context: tuple[int, ...], lo: int, hi: int, discount: float) -> Evidence:
        """The counts' view of the words in [lo, hi) after `context` (the network's input ids)."""
        discount = min(max(discount, 0.0), 0.999)
        ids, explicit, share = np.empty(0, np.int64), np.empty(0, np.float64), 1.0
        key = 0
        for length, level in enumerate(self.levels[: len(context)], start=1):
            key += context[-length] * self.vocab_size ** (length - 1)
            row = level.find(key)
            if row < 0:
                break  # every longer context ends with this one: none of them is kept either
            more_ids, more = level.in_range(row, lo, hi, discount)
            backoff = level.backoff(row, discount)
            if length == 1:
                ids, explicit = more_ids, more
            else:
                # Every kept n-gram's word is among its tail's (checked at load): add in place.
                explicit = backoff * explicit
                explicit[np.searchsorted(ids, more_ids)] += more
            share *= backoff
        return Evidence(ids, explicit, share)


def encode_level(
    context: np.ndarray, total: np.ndarray, kept: np.ndarray, next_ids: np.ndarray,
    counts: np.ndarray, n_words: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """One level's arrays as the file stores them (see the module docstring), names unprefixed:
    sorted contexts with their totals and kept numbers, the kept words ascending per context."""
    starts = np.cumsum(kept, dtype=np.int64) - kept
    next_gaps = np.diff(next_ids.astype(np.int64), prepend=0)
    next_gaps[starts] = next_ids[starts]
    gaps = np.diff(context.astype(np.uint64), prepend=np.uint64(0))
    return {
        "context": gaps.astype(np.uint64 if int(gaps.max(initial=0)) >> 32 else np.uint32),
        "total": total.astype(np.uint32),
        "kept": kept.astype(np.uint16 if int(kept.max(initial=0)) >> 16 == 0 else np.uint32),
        "next": next_gaps.astype(np.uint16 if n_words <= 1 << 16 else np.uint32),
        "count": np.minimum(counts, 65535).astype(np.uint16),
    }


def load_ngrams(path: Path, vocab_size: int, n_words: int) -> NgramTable:
    """Read `ngrams.npz`; raises NgramError with a one-line reason."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError) as error:
        raise NgramError(f"{FILE_NAME} is not a readable archive ({error})") from None
    except (zipfile.BadZipFile, zlib.error) as error:  # a damaged member
        raise NgramError(f"{FILE_NAME} is damaged ({error})") from None
    return table_from_arrays(arrays, vocab_size, n_words)


def table_from_arrays(arrays: dict[str, np.ndarray], vocab_size: int, n_words: int) -> NgramTable:
    """The table from the file's arrays (see the module docstring), every one checked."""
    if _scalar(arrays, "vocab_size") != vocab_size:
        raise NgramError(f"{FILE_NAME} was counted for another vocabulary")
    version = _scalar(arrays, "format") if "format" in arrays else 1
    if version not in (1, FORMAT):
        raise NgramError(f"{FILE_NAME} has format {version}, not {FORMAT}")
    order = _scalar(arrays, "order") if version == FORMAT else 3
    if not 3 <= order <= len(LEVELS) + 1:
        raise NgramError(f"{FILE_NAME} holds {order}-grams (3 or 4 expected)")
    if vocab_size**order >= 1 << 64:
        raise NgramError(f"{FILE_NAME}: {order}-grams of {vocab_size} ids do not fit 64 bits")
    decode = _decode if version == FORMAT else _decode_format_1
    levels = []
    for length, name in enumerate(LEVELS[: order - 1], start=1):
        raw = decode(_Reader(arrays, name))
        levels.append(_checked_level(raw, name, vocab_size**length, n_words))
    for length, (name, level, lower) in enumerate(zip(LEVELS[1:], levels[1:], levels), start=2):
        # An n-gram (a, ..., w) was counted with its tail (..., w), which was seen at least as
        # often: `evidence` relies on it to add the levels without a merge.
        tails = np.sort(level.pairs(vocab_size) % np.uint64(vocab_size**length))  # sorted: a
        # search in order reads the kept tails from one end to the other, several times faster
        kept_tails = lower.pairs(vocab_size)
        where = np.minimum(np.searchsorted(kept_tails, tails), max(len(kept_tails) - 1, 0))
        if len(tails) and (not len(kept_tails) or not np.array_equal(kept_tails[where], tails)):
            lower_name = LEVELS[length - 2]
            raise NgramError(f"{FILE_NAME}: a {name}'s last words are not a kept {lower_name}")
    return NgramTable(vocab_size, levels)


def _scalar(arrays: dict[str, np.ndarray], name: str) -> int:
    value = arrays.get(name)
    if value is None or value.shape != (1,) or value.dtype.kind not in "iu":
        raise NgramError(f"{FILE_NAME} has no {name} (one integer)")
    return int(value[0])


class _Reader:
    """One level's arrays from the file, each checked for presence, shape and type."""

    def __init__(self, arrays: dict[str, np.ndarray], level: str) -> None:
        self.arrays, self.level = arrays, level

    def get(self, name: str, *kinds: type) -> np.ndarray:
        key = f"{self.level}_{name}"
        if key not in self.arrays:
            raise NgramError(f"{FILE_NAME} has no {key}")
        array = self.arrays[key]
        if array.ndim != 1 or array.dtype not in [np.dtype(kind) for kind in kinds]:
            raise NgramError(f"{FILE_NAME}: {key} is {array.dtype}{list(array.shape)}")
        return array


Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""A level as decoded: contexts (uint64), totals, offsets [C + 1], word ids, counts (int64)."""


def _decode(reader: _Reader) -> Raw:
    """Format 2: contexts and continuations as differences, the kept number per context."""
    gaps = reader.get("context", np.uint32, np.uint64)
    total = reader.get("total", np.uint32)
    kept = reader.get("kept", np.uint16, np.uint32).astype(np.int64)
    next_gaps = reader.get("next", np.uint16, np.uint32)
    counts = reader.get("count", np.uint16)
    if len(total) != len(gaps) or len(kept) != len(gaps) or len(counts) != len(next_gaps):
        raise NgramError(f"{FILE_NAME}: the {reader.level} arrays disagree in length")
    if int(kept.sum()) != len(next_gaps) or (len(kept) and int(kept.min()) < 1):
        raise NgramError(f"{FILE_NAME}: the {reader.level} kept numbers do not cover its words")
    context = np.cumsum(gaps, dtype=np.uint64)  # a wrap shows as a descent, refused later
    offsets = np.concatenate([[0], np.cumsum(kept)])
    running = np.cumsum(next_gaps, dtype=np.int64)
    before = np.concatenate([[0], running])[offsets[:-1]]  # the sum before each context
    return context, total, offsets, running - np.repeat(before, kept), counts


def _decode_format_1(reader: _Reader) -> Raw:
    """Format 1: absolute contexts and continuations, offsets [C + 1]."""
    context = reader.get("context", np.uint32, np.uint64)
    total = reader.get("total", np.uint32, np.uint64)
    offsets = reader.get("offsets", np.uint32, np.uint64).astype(np.int64)
    next_ids = reader.get("next", np.uint16, np.uint32)
    counts = reader.get("count", np.uint16, np.uint32)
    if len(total) != len(context) or len(offsets) != len(context) + 1:
        raise NgramError(f"{FILE_NAME}: the {reader.level} arrays disagree in length")
    if len(counts) != len(next_ids) or int(offsets[0]) or int(offsets[-1]) != len(next_ids):
        raise NgramError(f"{FILE_NAME}: the {reader.level} offsets do not cover its words")
    if np.any(np.diff(offsets) <= 0):
        raise NgramError(f"{FILE_NAME}: the {reader.level} offsets are not increasing")
    return context.astype(np.uint64), total, offsets, next_ids.astype(np.int64), counts


def _checked_level(raw: Raw, name: str, key_space: int, n_words: int) -> Level:
    """What `evidence` relies on, checked: sorted contexts in range, ascending word ids, counts
    of at least 1 within their totals; then the arrays in their compact types."""
    context, total, offsets, words, counts = raw
    if np.any(context[1:] <= context[:-1]):
        raise NgramError(f"{FILE_NAME}: the {name} contexts are not sorted")
    if len(context) and int(context[-1]) >= key_space:
        raise NgramError(f"{FILE_NAME}: a {name} context is out of range")
    rises = np.diff(words) > 0
    rises[offsets[1:-1] - 1] = True  # a new context starts over
    if not rises.all() or (len(words) and not 0 <= int(words.min()) <= int(words.max()) < n_words):
        raise NgramError(f"{FILE_NAME}: the {name} continuations are not ascending word ids")
    if len(counts) and not 1 <= int(counts.min()) <= int(counts.max()) < 1 << 16:
        raise NgramError(f"{FILE_NAME}: a {name} count is out of range")
    starts = offsets[:-1]
    kept_sum = np.add.reduceat(counts.astype(np.int64), starts) if len(starts) else starts
    if np.any(kept_sum > total) or np.any(total == 0) or int(total.max(initial=0)) >= 1 << 32:
        raise NgramError(f"{FILE_NAME}: the {name} totals are smaller than their counts")
    return Level(
        context.astype(np.uint32 if key_space <= 1 << 32 else np.uint64),
        total.astype(np.uint32),
        offsets.astype(np.uint32),
        words.astype(np.uint16 if n_words <= 1 << 16 else np.uint32),
        counts.astype(np.uint16),
        kept_sum.astype(np.uint32),
    )
