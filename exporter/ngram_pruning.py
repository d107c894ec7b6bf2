"""Every n-gram of the training sequences counted, then pruned to a size: the ones whose loss
would change the model's predictions most are kept.

Counting: every window of the flat sequences (`ngrams.sequences`) that crosses no chunk boundary
and ends with a word is an n-gram; its context is the ids before the word.

Pruning is Stolcke's relative-entropy pruning ("Entropy-based pruning of backoff language
models", 1998) for the interpolated model the server computes (`nextword.server.model.ngrams`):
dropping (h, w) moves its discounted count into backoff(h), so p(w | h) falls from
p = (c - D) / c(h) + backoff(h) q(w) to p' = p - (c - D) / c(h) (1 - q(w)), and every other
word's probability rises by the same mass. The cost of dropping it is P(h) times the change in
relative entropy of p(. | h), to first order in the mass moved: p log(p / p') - p + p'. q is the
next lower order (every level computed from the unpruned counts), and below the bigrams the
unigram distribution of the training words stands in for the network. A lower-order n-gram
that is the tail of a kept higher one must be kept (the server adds the levels in place), so
its cost is raised to the highest cost among the n-grams it ends. The n-grams are then kept
best first until the file reaches the size asked for.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nextword.server.model.ngrams import FILE_NAME, FORMAT, LEVELS, encode_level

Say = Callable[[str], None]


@dataclass
class Counted:
    """All n-grams of one order (context ids + word), sorted by (context, word)."""

    length: int
    """Context ids of this order (1: bigrams)."""
    contexts: np.ndarray
    """int64 [C]: sorted context keys (sum of id * vocab_size ** position, last id lowest)."""
    totals: np.ndarray
    """int64 [C]: word tokens seen after each context."""
    row: np.ndarray
    """int64 [E]: each n-gram's context row."""
    words: np.ndarray
    """int64 [E]: each n-gram's word id."""
    counts: np.ndarray
    """int64 [E]."""
    tails: np.ndarray | None = None
    """int64 [E]: each n-gram's tail (its last `length` ids) in the order below; None for
    bigrams."""


def count_order(flat: np.ndarray, length: int, vocab_size: int, n_words: int) -> Counted:
    """The n-grams with `length` context ids in the flat sequences (separators are negative)."""
    if vocab_size ** (length + 1) >= 1 << 63:
        raise ValueError(f"{length + 1}-grams of a {vocab_size}-id vocabulary overflow 63 bits")
    span = len(flat) - length
    ok = flat[length:] >= 0
    ok &= flat[length:] < n_words
    key = np.zeros(max(span, 0), dtype=np.int64)
    for offset in range(length + 1):
        window = flat[offset : offset + span]
        if offset < length:
            ok &= window >= 0
        key = key * vocab_size + window
    pairs, counts = np.unique(key[ok], return_counts=True)
    contexts, first = np.unique(pairs // vocab_size, return_index=True)
    starts = first.astype(np.int64)
    kept = np.diff(np.append(starts, len(pairs)))
    totals = np.add.reduceat(counts, starts) if len(starts) else counts
    row = np.repeat(np.arange(len(contexts)), kept)
    return Counted(length, contexts, totals, row, pairs % vocab_size, counts.astype(np.int64))


def link_tails(orders: list[Counted], vocab_size: int) -> None:
    """Each n-gram's tail, found in the order below (it was counted there, at least as often)."""
    for lower, upper in zip(orders, orders[1:]):
        lower_pairs = lower.contexts[lower.row] * vocab_size + lower.words
        upper_pairs = upper.contexts[upper.row] * vocab_size + upper.words
        upper.tails = np.searchsorted(lower_pairs, upper_pairs % vocab_size ** (upper.length))


def relative_entropy_costs(
    orders: list[Counted], n_words: int, discount: float
) -> list[np.ndarray]:
    """Each n-gram's pruning cost (see the module docstring), before the tails are raised."""
    bigrams = orders[0]
    unigram = np.bincount(bigrams.words, weights=bigrams.counts, minlength=n_words)
    lower = unigram / max(unigram.sum(), 1.0)
    costs = []
    for counted in orders:
        q = lower[counted.words] if counted.tails is None else lower[counted.tails]
        total = counted.totals[counted.row].astype(np.float64)
        types = np.bincount(counted.row, minlength=len(counted.contexts))[counted.row]
        moved = (counted.counts - discount) / total
        p = moved + discount * types / total * q
        dropped = np.maximum(p - moved * (1.0 - q), 1e-300)
        weight = total / float(counted.totals.sum())
        costs.append(weight * (p * np.log(p / dropped) - p + dropped))
        lower = p
    return costs


def count_costs(orders: list[Counted]) -> list[np.ndarray]:
    """The n-gram's count as its cost: keep the most frequent ones."""
    return [counted.counts.astype(np.float64) for counted in orders]


def raise_tails(orders: list[Counted], costs: list[np.ndarray]) -> list[np.ndarray]:
    """Costs raised so that a tail costs at least as much as any n-gram it ends."""
    raised = [cost.copy() for cost in costs]
    for level in range(len(orders) - 1, 0, -1):
        tails = orders[level].tails
        assert tails is not None
        np.maximum.at(raised[level - 1], tails, raised[level])
    return raised


def ranks(costs: list[np.ndarray]) -> list[np.ndarray]:
    """Every n-gram's place when all are sorted by cost, dearest first, lower orders first among
    equals (so a tail always comes before the n-grams it ends)."""
    joined = np.concatenate(costs)
    level = np.concatenate([np.full(len(cost), index) for index, cost in enumerate(costs)])
    order = np.lexsort((level, -joined))
    place = np.empty(len(joined), dtype=np.int64)
    place[order] = np.arange(len(joined))
    return np.split(place, np.cumsum([len(cost) for cost in costs])[:-1])


def file_arrays(orders: list[Counted], keep: list[np.ndarray], vocab_size: int,
                n_words: int) -> dict[str, np.ndarray]:  # fmt: skip
    """The arrays of `ngrams.npz` for the n-grams kept (one mask per order)."""
    arrays = {
        "format": np.asarray([FORMAT], dtype=np.int64),
        "vocab_size": np.asarray([vocab_size], dtype=np.int64),
        "order": np.asarray([len(orders) + 1], dtype=np.int64),
    }
    for name, counted, mask in zip(LEVELS, orders, keep):
        kept = np.bincount(counted.row[mask], minlength=len(counted.contexts))
        has = kept > 0
        level = encode_level(counted.contexts[has], counted.totals[has], kept[has],
                             counted.words[mask], counted.counts[mask], n_words)  # fmt: skip
        arrays.update({f"{name}_{part}": values for part, values in level.items()})
    return arrays


def compressed_size(arrays: dict[str, np.ndarray]) -> int:
    stream = io.BytesIO()
    np.savez_compressed(stream, **arrays)
    return stream.tell()


def fit_to_size(orders: list[Counted], places: list[np.ndarray], max_bytes: int | None,
                vocab_size: int, n_words: int, say: Say) -> dict[str, np.ndarray]:  # fmt: skip
    """The arrays of the most n-grams, best placed first, whose file fits in max_bytes."""
    everything = sum(len(place) for place in places)

    def arrays_of(number: int) -> dict[str, np.ndarray]:
        return file_arrays(orders, [place < number for place in places], vocab_size, n_words)

    best = arrays_of(everything)
    size = compressed_size(best)
    if max_bytes is None or size <= max_bytes:
        return best
    low, high = 0, everything  # fits, does not fit
    guess = int(everything * max_bytes / size)
    while high - low > max(low // 200, 1):
        number = min(max(guess, low + 1), high - 1)
        arrays = arrays_of(number)
        size = compressed_size(arrays)
        say(f"  {number:,} n-grams: {size / 1e6:.2f} MB {FILE_NAME}")
        if size <= max_bytes:
            low, best = number, arrays
        else:
            high = number
        # the size grows about in proportion to the number kept: aim just under, then halve
        guess = int(number * max_bytes / size * (0.995 if size > max_bytes else 1.0))
        if not low < guess < high:
            guess = (low + high) // 2
    if low == 0:
        raise ValueError(f"no n-gram fits in {max_bytes:,} bytes")
    return best
