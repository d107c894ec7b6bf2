"""Ranking the words that match the typed prefix, and writing them in the right case.

score = similarity * (model's score for the word)
      + prior * log(word's corpus frequency)
      + document * (1 if the word is written near the cursor)

The model's score is a log-probability up to a constant: output.e_w + b_w for continuous bundles
with a learned word bias, log p(word) for softmax bundles, and for continuous bundles without a
bias a scaled cosine plus the log frequency (`engine.COSINE_CONCENTRATION`). `prior` adds weight
to frequent words beyond what the model gives them. The prior folds into the vector search, which
stays exact. Words written near the cursor that the vocabulary lacks are candidates too; they
take the unknown word's model score and the prior of the rarest vocabulary word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextword.server.text.tokenizer import fold


@dataclass
class RankingWeights:
    similarity: float = 1.0
    prior: float = 0.0
    document: float = 0.0
    candidates: int = 64
    """How many best-scoring words the search returns (words written nearby join them)."""


@dataclass(frozen=True)
class Candidate:
    folded: str
    display: str
    """The word's usual spelling: the vocabulary's display form, or as written in the document."""
    score: float
    in_vocabulary: bool


def log_priors(counts: list[int]) -> np.ndarray:
    array = np.asarray(counts, dtype=np.float64) + 1.0
    return np.log(array / array.sum()).astype(np.float32)


def capitalise(word: str) -> str:
    return word[:1].upper() + word[1:]


def restore_case(display: str, typed: str, sentence_start: bool) -> str:
    """The word as it should be inserted, given what was typed and where.

    All capitals typed (2 letters or more): all capitals. A capital typed first: capitalised.
    Nothing typed at a sentence start: capitalised. Otherwise the word's usual form, so "london"
    gives "London" and "i" gives "I".
    """
    letters = [char for char in typed if char.isalpha()]
    if len(letters) >= 2 and all(char.isupper() for char in letters):
        return display.upper()
    if letters and typed[:1].isupper():
        return capitalise(display)
    if not typed and sentence_start:
        return capitalise(display)
    return display


def filter_text(text: str, typed: str) -> str:
    """A filter text that starts with exactly what was typed, as editors filter by prefix."""
    if fold(text[: len(typed)]) == fold(typed):
        return typed + text[len(typed) :]
    return typed + text
