"""Ghost text: the rest of the current word and the next words, by a greedy rollout.

From the cursor's context the engine ranks the words matching the typed prefix (every evidence
the ranking mixes in counts: the network, the corpus counts, the document cache and the user's
learned phrases). The best word's confidence is its probability among the ranked candidates (the
scores are log-probabilities up to a constant). It is kept when that probability reaches
`min_probability` (with letters typed: `min_probability_typed`), then fed to the network (one
recurrent step on the cached state, cached like any other), and the next word is ranked with
nothing typed. The rollout goes on while the product of the kept words'
probabilities (the phrase's) stays at or above `min_phrase_probability`; it stops at `max_words`,
where the network expects punctuation, a number or a paragraph end rather than a word, and once
the rollout has worked `budget_ms` (the first word is always finished). The words come one at a
time (`rollout`), so the language server can answer a keystroke between two of them
(lsp/inline.py). Nothing is offered when even the first word is not confident, or when the line
goes on after the cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine
from nextword.server.engine.ranking import Candidate, keep_typed, restore_case
from nextword.server.model.predictor import Prediction
from nextword.server.settings import InlineSettings
from nextword.server.text.cursor import Cursor, analyse_cursor
from nextword.server.text.tokenizer import CONTINUE_SYMBOL, UNKNOWN_SYMBOL, fold
from nextword.server.text.window import extend_key

TRUSTED = 0.5
"""Probability in the document cache or in the user's learned phrases from which their word goes
on even where the network expects punctuation."""


@dataclass(frozen=True)
class GhostWord:
    word: str
    """As inserted (case restored); the first one is the whole current word."""
    probability: float
    """Its probability among the ranked candidates, given the words before it."""


@dataclass(frozen=True)
class InlineSuggestion:
    text: str
    """Replaces line[word_start:column]: the typed part, the rest of the word, the next words."""
    line: int
    word_start: int
    column: int
    words: tuple[str, ...]
    probabilities: tuple[float, ...]


KeepWord = Callable[[list[GhostWord], GhostWord, bool], bool]
"""(words kept so far, the next word, whether letters were typed) -> keep it and go on."""


def top_probability(candidates: list[Candidate]) -> float:
    """The first candidate's share of the candidates' probability mass (scores are
    log-probabilities up to a constant)."""
    scores = np.fromiter((c.score for c in candidates), dtype=np.float64, count=len(candidates))
    return float(1.0 / np.exp(scores - scores[0]).sum())


def confident(settings: InlineSettings) -> KeepWord:
    """The rule `suggest_inline` keeps words by: the first word's probability, then the phrase's."""

    def keep(kept: list[GhostWord], word: GhostWord, typed: bool) -> bool:
        if not kept:
            floor = settings.min_probability_typed if typed else settings.min_probability
            return word.probability >= floor
        phrase = float(np.prod([w.probability for w in kept])) * word.probability
        return phrase >= settings.min_phrase_probability

    return keep


def kept_words(
    words: list[GhostWord], keep: KeepWord, typed: bool, max_words: int
) -> list[GhostWord]:
    """The leading words of a longer rollout that a rollout with `keep` stops at (it is greedy:
    the same words, cut at the first one `keep` refuses)."""
    kept: list[GhostWord] = []
    for word in words[:max_words]:
        if not keep(kept, word, typed):
            break
        kept.append(word)
    return kept


def symbol_ids(engine: Engine) -> np.ndarray:
    """The ids of punctuation, numbers and the paragraph end (not the unknown-word symbols)."""
    vocab = engine.vocab
    skip = {vocab.id_of(UNKNOWN_SYMBOL), vocab.id_of(CONTINUE_SYMBOL)}
    return np.asarray([i for i in range(vocab.n_words, len(vocab)) if i not in skip])


def expects_symbol(engine: Engine, prediction: Prediction, best: Candidate) -> bool:
    """The network finds punctuation, a number or a paragraph end likelier than the word."""
    symbols = symbol_ids(engine)
    if symbols.size == 0:
        return False
    vocab = engine.vocab
    word_id = vocab.id_of(best.folded)
    word_id = word_id if word_id < vocab.n_words else vocab.unknown_id
    word_score = float(engine.search.model_scores(prediction, np.asarray([word_id]))[0])
    return float(engine.search.model_scores(prediction, symbols).max()) > word_score


def rollout(
    engine: Engine,
    document: DocumentState,
    cursor: Cursor,
    keep: KeepWord,
    max_words: int,
    budget_ms: float = float("inf"),
) -> Iterator[GhostWord]:
    """The words of the greedy continuation at the cursor, one at a time, while `keep` says so,
    up to `max_words`; no word after the first is started once the rollout has worked
    `budget_ms` (the first costs what a completion costs; the budget bounds what the phrase
    adds). Between two words the caller may let other work run (the language server answers
    a keystroke there); the document must not have changed when it asks for the next word."""
    started = time.perf_counter()
    spent = 0.0
    text = document.text
    engine.use(document)
    key = engine.context_key(cursor.tokens, cursor.truncated)
    nearby = engine.nearby(document, text, cursor)
    prefix, sentence_start = cursor.prefix, cursor.sentence_start
    previous, tokens = cursor.previous_token, cursor.tokens
    continue_id = engine.vocab.id_of(CONTINUE_SYMBOL)
    kept: list[GhostWord] = []
    while len(kept) < max_words and (not kept or spent < budget_ms / 1000.0):
        # Read at each word: another request between two words may have updated the cache.
        blocks = engine.memory_blocks(document, text, cursor)
        prediction = engine.prediction(document, key)
        memory = engine.memory_words(blocks, prediction, prefix, previous)
        personal = engine.personal_evidence(tokens, prefix)
        candidates = engine.rank(prediction, prefix, nearby, memory=memory, personal=personal)
        if not candidates:
            return
        best = candidates[0]
        word = GhostWord(
            restore_case(best.display, prefix, sentence_start), top_probability(candidates)
        )
        if not keep(kept, word, bool(cursor.prefix)):
            return
        # The memory and the user's phrases know what follows a name the network reads as <unk>.
        trusted = memory.get(best.folded, (0.0, ""))[0] >= TRUSTED
        trusted = trusted or (personal is not None and personal.probability(best.folded) >= TRUSTED)
        if not prefix and not trusted and expects_symbol(engine, prediction, best):
            return
        kept.append(word)
        token_id = engine.vocab.id_of(best.folded)
        key = extend_key(key, token_id, engine.bundle.max_context_tokens, continue_id)
        prefix, sentence_start, previous = "", False, best.folded
        tokens = (*tokens, best.folded)
        spent += time.perf_counter() - started
        yield word
        started = time.perf_counter()


def suggestion_from(cursor: Cursor, words: list[GhostWord]) -> InlineSuggestion | None:
    """The suggestion the words make at the cursor; None when they add nothing to what is typed."""
    typed = cursor.prefix
    if not words or (len(words) == 1 and fold(words[0].word) == fold(typed)):
        return None
    first = keep_typed(words[0].word, typed) or words[0].word
    text = " ".join([first, *(w.word for w in words[1:])])
    return InlineSuggestion(
        text,
        cursor.line,
        cursor.word_start,
        cursor.column,
        tuple(w.word for w in words),
        tuple(w.probability for w in words),
    )


def inline_cursor(document: DocumentState, line: int, column: int, engine: Engine) -> Cursor | None:
    """The cursor ghost text can be shown at: None inside a word or before more text."""
    cursor = analyse_cursor(document.text, line, column, engine.settings.context)
    if cursor is None or document.text.content(cursor.line)[cursor.column :].strip():
        return None
    return cursor


def suggest_inline(
    engine: Engine, document: DocumentState, line: int, column: int
) -> InlineSuggestion | None:
    """Ghost text at (line, column) in code points, or None when not confident."""
    cursor = inline_cursor(document, line, column, engine)
    if cursor is None:
        return None
    settings = engine.settings.inline
    keep = confident(settings)
    words = list(rollout(engine, document, cursor, keep, settings.max_words, settings.budget_ms))
    return suggestion_from(cursor, words)
