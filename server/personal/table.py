"""The user's phrase counts: how often each word followed each one- and two-token context in
their writing, and each word's own count, as sorted numpy arrays.

Tokens are the tokenizer's folded forms (words outside the model's vocabulary included, numbers
as one symbol, punctuation), numbered in sorted order so that the words starting with a typed
prefix are one id range (`folded_prefix_range`), as in the vocabulary. A paragraph is counted
after two paragraph symbols, so its first words have contexts of their own and no phrase spans
two paragraphs. Only words are counted as what follows a context.

An n-gram is one integer key, sum(id_i * size ** (n - 1 - i)), so the continuations of a
context h are the keys [h * size, (h + 1) * size) and those in a prefix's id range one slice.
Counts are float32: old evidence decays (`merge`), and the table is pruned to `MAX_NGRAMS`
n-grams and the tokens they use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from nextword.server.text.tokenizer import PARAGRAPH_SYMBOL, SENTENCE_END, Token

ORDERS = (2, 3)
"""The n-gram orders counted: a word after one token, after two."""
MAX_NGRAMS = 1_500_000
"""Most n-grams kept in one table (12 bytes each: ~18 MB), the likeliest kept."""
HALF_LIFE_WORDS = 4_000_000
"""Old counts halve for every this many words learned after them (`merge`)."""


@dataclass
class Level:
    """One order's counts."""

    keys: np.ndarray
    """uint64, sorted: the n-grams."""
    counts: np.ndarray
    """float32: how often each was seen (decayed)."""
    contexts: np.ndarray
    """uint64, sorted: the contexts of `keys`, each once."""
    totals: np.ndarray
    """float32: c(h), the words counted after each context."""
    distinct: np.ndarray
    """float32: how many different words followed each context."""

    @classmethod
    def from_keys(cls, keys: np.ndarray, counts: np.ndarray, size: int) -> Level:
        """`keys` sorted and distinct."""
        context_of = keys // np.uint64(size)
        contexts, starts, distinct = np.unique(context_of, return_index=True, return_counts=True)
        totals = np.add.reduceat(counts, starts) if len(keys) else np.zeros(0, np.float32)
        return cls(keys, counts, contexts, totals.astype(np.float32), distinct.astype(np.float32))

    def context_stats(self, context: int) -> tuple[float, float]:
        """(c(h), distinct words after h); (0, 0) for a context never seen."""
        row = int(np.searchsorted(self.contexts, np.uint64(context)))
        if row < len(self.contexts) and int(self.contexts[row]) == context:
            return float(self.totals[row]), float(self.distinct[row])
        return 0.0, 0.0

    def span(self, context: int, size: int) -> tuple[int, int]:
        """The rows of `keys` that continue context h."""
        bounds = np.asarray([context * size, (context + 1) * size], np.uint64)
        start, stop = np.searchsorted(self.keys, bounds)
        return int(start), int(stop)

    def counts_of(
        self, context: int, ids: np.ndarray, size: int, span: tuple[int, int]
    ) -> np.ndarray:
        """c(h w) for each id (0 where unseen or the id is -1); `span`: `self.span(h)`."""
        start, stop = span
        if start >= stop:
            return np.zeros(len(ids), np.float32)
        keys = self.keys[start:stop]
        # An id of -1 gives the key before h's first: never one of h's.
        wanted = (context * size + ids).astype(np.uint64)
        rows = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        return np.where(keys[rows] == wanted, self.counts[start:stop][rows], 0.0)

    def best(self, context: int, lo: int, hi: int, size: int, k: int) -> np.ndarray:
        """The ids in [lo, hi) seen most often after h (at most k)."""
        base = context * size
        start, stop = np.searchsorted(self.keys, np.asarray([base + lo, base + hi], np.uint64))
        if start >= stop:
            return np.zeros(0, np.int64)
        counts = self.counts[start:stop]
        rows = np.arange(start, stop)
        if len(rows) > k:
            rows = rows[np.argpartition(-counts, k - 1)[:k]]
        return (self.keys[rows] - np.uint64(base)).astype(np.int64)


@dataclass
class PersonalTable:
    tokens: list[str]
    """Folded tokens, sorted; a token's id is its position."""
    written: list[str]
    """How the user writes each token (the spelling seen away from a sentence start)."""
    unigram: np.ndarray
    """float32 [tokens]: each word's count (0 for punctuation and symbols)."""
    levels: tuple[Level, Level]
    """Counts of a word after one token, after two (`ORDERS`)."""

    def __post_init__(self) -> None:
        self.index = {token: position for position, token in enumerate(self.tokens)}
        self.words = float(self.unigram.sum())
        self.best_words: list[int] | None = None
        """The most frequent words' ids, once asked for (personal/mixing.py)."""

    @property
    def size(self) -> int:
        return max(len(self.tokens), 1)

    @property
    def nbytes(self) -> int:
        arrays = [self.unigram]
        for level in self.levels:
            arrays += [level.keys, level.counts, level.contexts, level.totals, level.distinct]
        strings = sum(
            len(token) + len(spelled) for token, spelled in zip(self.tokens, self.written)
        )
        # a Python str is ~50 bytes plus its characters, a dict entry ~100 bytes
        return sum(array.nbytes for array in arrays) + strings + 200 * len(self.tokens)

    def __len__(self) -> int:
        return sum(len(level.keys) for level in self.levels)

    def context_id(self, tokens: tuple[str, ...]) -> int:
        """The key of a context of folded tokens; -1 when a token is unknown."""
        key = 0
        for token in tokens:
            position = self.index.get(token)
            if position is None:
                return -1
            key = key * self.size + position
        return key


def empty_table() -> PersonalTable:
    return build_table([])


def _spelling_wanted(previous: str) -> bool:
    return previous not in SENTENCE_END and previous != PARAGRAPH_SYMBOL


def build_table(paragraphs: Iterable[list[Token]]) -> PersonalTable:
    """Count the paragraphs' words and phrases."""
    ids: dict[str, int] = {PARAGRAPH_SYMBOL: 0}
    written: list[str] = [PARAGRAPH_SYMBOL]
    settled: list[bool] = [True]
    stream: list[int] = []
    is_word: list[bool] = []
    for paragraph in paragraphs:
        stream += (0, 0)
        is_word += (False, False)
        previous = PARAGRAPH_SYMBOL
        for token in paragraph:
            folded = token.folded
            position = ids.get(folded)
            if position is None:
                position = ids[folded] = len(written)
                written.append(token.text)
                settled.append(False)
            if not settled[position] and _spelling_wanted(previous):
                written[position], settled[position] = token.text, True
            stream.append(position)
            is_word.append(token.kind == "word")
            previous = folded
    tokens = list(ids)
    return _table_from_stream(
        tokens, written, np.asarray(stream, np.int64), np.asarray(is_word, bool)
    )


def _sorted_ids(tokens: list[str]) -> tuple[list[str], np.ndarray]:
    """(tokens sorted, the new id of every old id)."""
    order = sorted(range(len(tokens)), key=tokens.__getitem__)
    new_id = np.empty(len(tokens), np.int64)
    new_id[order] = np.arange(len(tokens))
    return [tokens[i] for i in order], new_id


def _table_from_stream(
    tokens: list[str], written: list[str], stream: np.ndarray, is_word: np.ndarray
) -> PersonalTable:
    tokens_sorted, new_id = _sorted_ids(tokens)
    written_sorted = [""] * len(tokens)
    for old, spelled in enumerate(written):
        written_sorted[new_id[old]] = spelled
    stream = new_id[stream] if len(stream) else stream
    size = np.uint64(max(len(tokens), 1))
    unigram = np.bincount(stream[is_word], minlength=len(tokens)).astype(np.float32)
    levels = []
    for order in ORDERS:
        keys = np.zeros(max(len(stream) - order + 1, 0), np.uint64)
        for offset in range(order):
            keys = keys * size + stream[offset : len(stream) - order + 1 + offset].astype(np.uint64)
        keys = keys[is_word[order - 1 :]]
        unique, counts = np.unique(keys, return_counts=True)
        levels.append(Level.from_keys(unique, counts.astype(np.float32), int(size)))
    return PersonalTable(tokens_sorted, written_sorted, unigram, (levels[0], levels[1]))


def _digits(keys: np.ndarray, size: int, order: int) -> list[np.ndarray]:
    """The ids an n-gram key is made of, first first."""
    digits = []
    for _ in range(order):
        digits.append((keys % np.uint64(size)).astype(np.int64))
        keys = keys // np.uint64(size)
    return digits[::-1]


def _encode(digits: list[np.ndarray], size: int) -> np.ndarray:
    keys = np.zeros(len(digits[0]), np.uint64)
    for digit in digits:
        keys = keys * np.uint64(size) + digit.astype(np.uint64)
    return keys


def merge(tables: list[PersonalTable], decays: list[float] | None = None) -> PersonalTable:
    """One table with the counts of all (each table's counts times its decay), pruned to
    `MAX_NGRAMS` n-grams and the tokens they use."""
    decays = decays or [1.0] * len(tables)
    spellings: dict[str, str] = {}
    for table in tables:  # the later tables' spellings win
        spellings.update(zip(table.tokens, table.written))
    tokens = sorted(spellings)
    index = {token: position for position, token in enumerate(tokens)}
    size = max(len(tokens), 1)
    unigram = np.zeros(len(tokens), np.float32)
    levels: list[Level] = []
    remaps = [np.asarray([index[t] for t in table.tokens], np.int64) for table in tables]
    for table, remap, decay in zip(tables, remaps, decays):
        np.add.at(unigram, remap, table.unigram * decay)
    for level_index, order in enumerate(ORDERS):
        keys, counts = [], []
        for table, remap, decay in zip(tables, remaps, decays):
            level = table.levels[level_index]
            if not len(level.keys):
                continue
            digits = _digits(level.keys, table.size, order)
            keys.append(_encode([remap[digit] for digit in digits], size))
            counts.append(level.counts * decay)
        if keys:
            unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
            summed = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.float32)
        else:
            unique, summed = np.zeros(0, np.uint64), np.zeros(0, np.float32)
        levels.append(Level.from_keys(unique, summed, size))
    written = [spellings[token] for token in tokens]
    return prune(PersonalTable(tokens, written, unigram, (levels[0], levels[1])))


def decay_for(words_after: float) -> float:
    """The factor for counts that `words_after` more words were learned after."""
    return float(0.5 ** (words_after / HALF_LIFE_WORDS))


def prune(table: PersonalTable, max_ngrams: int = MAX_NGRAMS) -> PersonalTable:
    """The table with at most `max_ngrams` n-grams (the most frequent of both orders) and only
    the tokens they or the word counts use."""
    if len(table) <= max_ngrams:
        return table
    counts = np.concatenate([level.counts for level in table.levels])
    chosen = np.zeros(len(counts), bool)
    chosen[np.argpartition(-counts, max_ngrams - 1)[:max_ngrams]] = True
    split = len(table.levels[0].keys)
    kept = []
    for level, rows in zip(table.levels, (chosen[:split], chosen[split:])):
        kept.append((level.keys[rows], level.counts[rows]))
    used = table.unigram > 0
    used[table.index[PARAGRAPH_SYMBOL]] = True
    for (keys, _), order in zip(kept, ORDERS):
        for digit in _digits(keys, table.size, order):
            used[digit] = True
    new_id = np.cumsum(used) - 1
    size = max(int(used.sum()), 1)
    levels = []
    for (keys, counts), order in zip(kept, ORDERS):
        digits = [new_id[digit] for digit in _digits(keys, table.size, order)]
        levels.append(Level.from_keys(_encode(digits, size), counts, size))
    tokens = [token for token, keep in zip(table.tokens, used) if keep]
    written = [spelled for spelled, keep in zip(table.written, used) if keep]
    return PersonalTable(tokens, written, table.unigram[used], (levels[0], levels[1]))
