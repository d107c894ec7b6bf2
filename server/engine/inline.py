"""Ghost text: the rest of the current word and the next few words, by a greedy rollout.

From the cursor's context the engine ranks the words matching the typed prefix (with the
document cache, memory/); the best one is kept if it leads the runner-up by at least
`min_margin` (the confidence), fed to the network (one recurrent step, cached like any other
state), and the next word is ranked with nothing typed. The rollout stops at `max_words`, at the
first word that is not confident enough, or where the network expects punctuation, a number or
a paragraph end rather than a word. Nothing is offered when even the first word is not
confident, or when the line goes on after the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine
from nextword.server.engine.ranking import Candidate, keep_typed, restore_case
from nextword.server.model.predictor import Prediction
from nextword.server.text.cursor import Cursor, analyse_cursor
from nextword.server.text.tokenizer import CONTINUE_SYMBOL, UNKNOWN_SYMBOL, fold
from nextword.server.text.window import extend_key

MEMORY_TRUSTED = 0.5
"""Cache probability from which the memory's word goes on even where the network expects
punctuation."""


@dataclass(frozen=True)
class InlineSuggestion:
    text: str
    """Replaces line[word_start:column]: the typed part, the rest of the word, the next words."""
    line: int
    word_start: int
    column: int
    words: tuple[str, ...]
    margins: tuple[float, ...]


def expects_symbol(engine: Engine, prediction: Prediction, best: Candidate) -> bool:
    """The network finds punctuation, a number or a paragraph end likelier than the word."""
    vocab = engine.vocab
    skip = {vocab.id_of(UNKNOWN_SYMBOL), vocab.id_of(CONTINUE_SYMBOL)}
    symbols = np.asarray([i for i in range(vocab.n_words, len(vocab)) if i not in skip])
    if symbols.size == 0:
        return False
    word_id = vocab.id_of(best.folded)
    word_id = word_id if word_id < vocab.n_words else vocab.unknown_id
    word_score = float(engine.search.model_scores(prediction, np.asarray([word_id]))[0])
    return float(engine.search.model_scores(prediction, symbols).max()) > word_score


def rollout(engine: Engine, document: DocumentState, cursor: Cursor) -> InlineSuggestion | None:
    settings = engine.settings.inline
    text = document.text
    engine.use(document)
    key = engine.context_key(cursor.tokens, cursor.truncated)
    nearby = engine.nearby(document, text, cursor)
    blocks = engine.memory_blocks(document, text, cursor)
    prefix, sentence_start = cursor.prefix, cursor.sentence_start
    previous = cursor.previous_token
    continue_id = engine.vocab.id_of(CONTINUE_SYMBOL)
    words: list[str] = []
    margins: list[float] = []
    while len(words) < settings.max_words:
        prediction = engine.prediction(document, key)
        memory = engine.memory_words(blocks, prediction, prefix, previous)
        candidates = engine.rank(prediction, prefix, nearby, limit=2, memory=memory)
        if not candidates:
            break
        best = candidates[0]
        margin = best.score - candidates[1].score if len(candidates) > 1 else float("inf")
        if margin < settings.min_margin:
            break
        from_memory = memory.get(best.folded, (0.0, ""))[0]
        # The memory knows what follows a name the network reads as <unk>: trust it then.
        if not prefix and from_memory < MEMORY_TRUSTED and expects_symbol(engine, prediction, best):
            break
        words.append(restore_case(best.display, prefix, sentence_start))
        margins.append(margin)
        token_id = engine.vocab.id_of(best.folded)
        key = extend_key(key, token_id, engine.bundle.max_context_tokens, continue_id)
        prefix, sentence_start, previous = "", False, best.folded
    typed = cursor.prefix
    if not words or (len(words) == 1 and fold(words[0]) == fold(typed)):
        return None
    first = keep_typed(words[0], typed) or words[0]
    suggestion = " ".join([first, *words[1:]])
    return InlineSuggestion(
        suggestion, cursor.line, cursor.word_start, cursor.column, tuple(words), tuple(margins)
    )


def suggest_inline(
    engine: Engine, document: DocumentState, line: int, column: int
) -> InlineSuggestion | None:
    """Ghost text at (line, column) in code points, or None when not confident."""
    cursor = analyse_cursor(document.text, line, column, engine.settings.context)
    if cursor is None or document.text.content(cursor.line)[cursor.column :].strip():
        return None
    return rollout(engine, document, cursor)
