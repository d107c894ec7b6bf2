"""What the user's phrase counts say at a cursor, and how it is mixed into the ranking.

The counts are layered over the model (the network with the corpus counts) the way the corpus
counts are layered over the network (model/ngrams.py), by interpolated absolute discounting
with the model as the lowest order:

    p3(w) = max(c(a b w) - D, 0) / c(a b) + g(a b) * p2(w)
    p2(w) = max(c(b w) - D, 0) / c(b)     + g(b)   * p1(w)
    p1(w) = mu * c(w) / N                 + (1 - mu) * p_model(w)

with g(h) = D * (distinct words after h) / c(h), 1 for a context the user never wrote (then
p_personal = p_model there), counts summed over the learned tables. The ranking score becomes
log((1 - lambda) p_model + lambda p_personal) plus the scores' normaliser, so a word the user
never wrote keeps its order among the others, and a word the model lacks (a name, jargon) can
be offered from the user's counts alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nextword.server.personal.table import PersonalTable
from nextword.server.settings import LearningSettings

BEST_PER_LEVEL = 8
"""Continuations each order offers as candidates (the search's best join them too)."""
BEST_WORDS = 4
"""Words matching the prefix that the user's word counts offer as candidates."""
NOTHING = 1e-300
"""The probability of a word nothing offers (its score becomes about -690)."""


@dataclass
class TableContext:
    """One table's view of the cursor's context."""

    table: PersonalTable
    vocab_map: np.ndarray
    """int64 [vocabulary]: the table's id for each vocabulary word, -1 where it has none."""
    contexts: tuple[int, int]
    """Keys of the last token and of the last two tokens (-1: a token the table lacks)."""
    stats: tuple[tuple[float, float], ...] = ()
    """(c(h), distinct words after h) for both contexts."""
    spans: tuple[tuple[int, int], ...] = ()
    """The rows of each level's keys that continue its context."""

    def __post_init__(self) -> None:
        size, pairs = self.table.size, list(zip(self.table.levels, self.contexts))
        self.stats = tuple(
            level.context_stats(context) if context >= 0 else (0.0, 0.0) for level, context in pairs
        )
        self.spans = tuple(
            level.span(context, size) if context >= 0 else (0, 0) for level, context in pairs
        )


@dataclass
class PersonalEvidence:
    candidates: dict[str, str]
    """{folded word: as the user writes it}: the user's likeliest words for the prefix here."""
    views: list[TableContext]
    settings: LearningSettings

    def mixed(
        self, ids: np.ndarray, outside: Sequence[str], scores: np.ndarray, log_z: float
    ) -> np.ndarray:
        """The candidates' scores (vocabulary `ids`, then the `outside` words) with the user's
        counts mixed in; `log_z`: the scores' normaliser over the whole vocabulary."""
        explicit, share = self.explicit(ids, outside)
        weight = self.settings.weight
        mixed = (1.0 - weight + weight * share) * np.exp(scores - log_z) + weight * explicit
        return log_z + np.log(np.maximum(mixed, NOTHING))

    def probability(self, word: str) -> float:
        """The explicit probability the user's counts give the folded `word` here."""
        return float(self.explicit(np.zeros(0, np.int64), [word])[0][0])

    def explicit(self, ids: np.ndarray, outside: Sequence[str]) -> tuple[np.ndarray, float]:
        """(explicit probability of each row, what is left for p_model)."""
        rows = len(ids) + len(outside)
        counts = [np.zeros(rows, np.float64) for _ in range(3)]
        totals, distinct = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        for view in self.views:
            table = view.table
            own = view.vocab_map[ids] if len(ids) else np.zeros(0, np.int64)
            extra = np.asarray([table.index.get(word, -1) for word in outside], np.int64)
            pids = np.concatenate([own, extra])
            known = pids >= 0
            counts[0][known] += table.unigram[pids[known]]
            totals[0] += table.words
            for order, (level, context) in enumerate(zip(table.levels, view.contexts), 1):
                total, kinds = view.stats[order - 1]
                if total > 0:
                    span = view.spans[order - 1]
                    counts[order] += level.counts_of(context, pids, table.size, span)
                    totals[order] += total
                    distinct[order] += kinds
        mu, discount = self.settings.unigram, self.settings.discount
        explicit = np.zeros(rows, np.float64)
        share = 1.0
        if totals[0] > 0:
            explicit, share = mu * counts[0] / totals[0], 1.0 - mu
        for order in (1, 2):
            if totals[order] <= 0:
                continue
            backoff = min(discount * distinct[order] / totals[order], 1.0)
            own = np.maximum(counts[order] - discount, 0.0) / totals[order]
            explicit, share = own + backoff * explicit, backoff * share
        return explicit, share


def candidates_of(view: TableContext, lo: int, hi: int) -> dict[int, None]:
    """The table's ids in [lo, hi) likeliest after the context, and its most frequent words."""
    table = view.table
    found: dict[int, None] = {}
    for level, context in zip(reversed(table.levels), reversed(view.contexts)):
        if context >= 0:
            for pid in level.best(context, lo, hi, table.size, BEST_PER_LEVEL).tolist():
                found[pid] = None
    for pid in best_words(table, lo, hi):
        found[pid] = None
    return found


def best_words(table: PersonalTable, lo: int, hi: int) -> list[int]:
    """The ids in [lo, hi) of the user's most frequent words (at most BEST_WORDS); for the
    whole table (nothing typed) computed once."""
    if lo == 0 and hi == len(table.tokens) and table.best_words is not None:
        return table.best_words
    counts = table.unigram[lo:hi]
    if not len(counts):
        return []
    best = np.argpartition(-counts, min(BEST_WORDS, len(counts)) - 1)[:BEST_WORDS]
    found = (lo + best[counts[best] > 0]).tolist()
    if lo == 0 and hi == len(table.tokens):
        table.best_words = found
    return found
