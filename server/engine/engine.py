"""The completion engine: bundle in, ranked words for a cursor out. No LSP here.

In-process API (the language server, `nextword complete` and the evaluation all use it):

    from nextword.server.engine.documents import DocumentState
    from nextword.server.engine.engine import Engine, load_engine

    engine = load_engine()                   # default bundle; load_engine(path, settings)
    document = DocumentState.open("mem://a", "The President of the Uni")
    document.edit((0, 24), (0, 24), "t")     # (line, column) in code points
    for item in engine.complete(document, line=0, column=25):
        print(item.text, item.score)         # Completion(text="United", ...)

`complete` is made of public pieces other features reuse: `analyse_cursor` (text/cursor.py)
gives the typed prefix and the paragraph's tokens, `context_key` turns the tokens into the
network's input ids, `prediction(document, key)` brings the document's cached state up to the
key (0 steps if cached, usually 1 at a word boundary, at most max_context_tokens), `rank` and
`finish` (ranking.py) search the prefix's id range, mix in the corpus counts, the nearby words
and the document cache, restore case and apply maxItems. Work per keystroke is bounded whatever
the document length: the look-back is bounded (`ContextLimits`), states are cached by context
content (states.py), and the search is restricted to the prefix's id range.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nextword.server import ONNXRUNTIME_TELEMETRY_ON
from nextword.server.engine.documents import DocumentState, RecentDocuments
from nextword.server.engine.prepared import Completion, PreparedSpace
from nextword.server.engine.ranking import Candidate, Ranker, finish
from nextword.server.engine.speculation import MAX_SPECULATED_STEPS, Speculation
from nextword.server.engine.states import DocumentStates, StateCache
from nextword.server.memory.blocks import MemoryBlock
from nextword.server.memory.document import DocumentMemory
from nextword.server.memory.mixing import memory_bonuses
from nextword.server.memory.units import Reader
from nextword.server.memory.workspace import SharedBlocks, SpareRows
from nextword.server.model.bundle import Bundle, load_bundle
from nextword.server.model.predictor import CachedStep, Network, Prediction
from nextword.server.model.search import WordSearch
from nextword.server.personal.layer import PersonalLayer
from nextword.server.personal.mixing import PersonalEvidence
from nextword.server.settings import Settings
from nextword.server.text.cursor import (
    Cursor,
    Suppressed,
    analyse_cursor,
    nearby_words,
    paragraph_tokens,
    suppressed,
    words_around,
)
from nextword.server.text.document import DocumentText
from nextword.server.text.window import Key, context_symbols

log = logging.getLogger(__name__)

_MEGABYTE = 1 << 20
PREPARED_AFTER = (None, Suppressed.AFTER_PUNCTUATION, Suppressed.AFTER_NUMBER)
"""Where a space typed at the cursor starts a word that can be completed (`suppressed`)."""


@dataclass
class EngineStats:
    recurrent_steps: int = 0
    cache_hits: int = 0
    completions: int = 0
    speculations_used: int = 0


class Engine:
    def __init__(self, bundle: Bundle, settings: Settings | None = None) -> None:
        self.bundle = bundle
        self.vocab = bundle.vocab
        self.settings = settings or Settings()
        self.network = Network(bundle)
        self.search = WordSearch(bundle)
        self.ranker = Ranker(self.vocab, self.search, bundle.ngrams)
        self.speculation = Speculation(self.network, self.search)
        self.cache = StateCache(0, 0)
        self.prepared: PreparedSpace | None = None
        self.recent = RecentDocuments(self.settings.cached_documents)
        self.shared = SharedBlocks()
        self.personal: PersonalLayer | None = None
        """What was learned from the user's writing (personal/), when attached."""
        self.spare_rows = SpareRows()
        self.stats = EngineStats()
        self.configure(self.settings)

    def configure(self, settings: Settings) -> None:
        """Apply new settings (the bundle itself is not reloaded here)."""
        self.settings = settings
        self.cache.document_bytes = settings.document_cache_megabytes * _MEGABYTE
        self.cache.total_bytes = settings.cache_megabytes * _MEGABYTE
        self.recent.limit = settings.cached_documents

    # -- documents ------------------------------------------------------------------------------

    def use(self, document: DocumentState) -> None:
        """Mark the document used now: the least recently used ones beyond `cached_documents`
        lose their caches."""
        self.recent.touch(document, self.drop_caches)

    def document_states(self, document: DocumentState) -> DocumentStates:
        states = document.caches.states
        if states is None or states.owner is not self.cache:
            states = document.caches.states = self.cache.new_document()
        return states

    def document_memory(self, document: DocumentState) -> DocumentMemory:
        memory = document.caches.memory
        if memory is None:
            memory = document.caches.memory = DocumentMemory(self.bundle.output_dim)
        return memory

    def drop_caches(self, document: DocumentState) -> None:
        caches = document.caches
        if caches.states is not None:
            caches.states.clear()
        caches.states = caches.memory = caches.around = None
        self.shared.drop(document.uri)
        if self.prepared is not None and self.prepared.text is document.text:
            self.prepared = None

    # -- the network ----------------------------------------------------------------------------

    def context_key(self, tokens: tuple[str, ...] | list[str], truncated: bool = False) -> Key:
        """The network's input ids for the paragraph tokens before the cursor (`truncated`:
        they do not start at the paragraph's start)."""
        symbols = context_symbols(list(tokens), self.bundle.max_context_tokens, truncated)
        return tuple(self.vocab.id_of(symbol) for symbol in symbols)

    def step(self, token_id: int, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.stats.recurrent_steps += 1
        return self.network.step(token_id, state)

    def prediction(self, document: DocumentState, key: Key) -> Prediction:
        """The output after `key`, resuming from the longest cached prefix of it."""
        if not self.settings.cache:
            state, scores = self.network.zero_state, None
            for token_id in key:
                scores, state = self.step(token_id, state)
            return Prediction(scores, steps=len(key), key=key)  # type: ignore[arg-type]
        states = self.document_states(document)
        known = len(key)
        entry = states.get(key)
        taken = None if entry else self.speculation.take_into(states, key, self.settings.ranking)
        if taken is not None:  # the steps to `key` and the search after it ran ahead
            self.stats.recurrent_steps += taken.steps
            self.stats.speculations_used += 1
            return taken
        while entry is None and known > 1:
            known -= 1
            entry = states.get(key[:known])
        if entry is None:
            known = 0
        else:
            self.stats.cache_hits += 1
        state = self.network.zero_state if entry is None else entry.state
        scores = None if entry is None else entry.output
        for length in range(known + 1, len(key) + 1):
            scores, state = self.step(key[length - 1], state)
            entry = CachedStep(state, scores)
            states.put(key[:length], entry)
        return Prediction(scores, len(key) - known, key, entry)  # type: ignore[arg-type]

    # -- ranking --------------------------------------------------------------------------------

    def rank(
        self,
        prediction: Prediction,
        prefix: str,
        nearby: dict[str, str],
        limit: int | None = None,
        memory: dict[str, tuple[float, str]] | None = None,
        personal: PersonalEvidence | None = None,
    ) -> list[Candidate]:
        """The best `limit` candidates for the prefix (ranking.py)."""
        return self.ranker.rank(prediction, prefix, nearby, self.settings, limit, memory, personal)

    def nearby(self, document: DocumentState, text: DocumentText, cursor: Cursor) -> dict[str, str]:
        """The words written near the cursor, {folded: as first written}."""
        around = self.words_around(document, text, cursor.line)
        return nearby_words(text, cursor, self.settings.context, around)

    def words_around(
        self, document: DocumentState, text: DocumentText, line: int
    ) -> dict[str, str]:
        """`words_around` the line, kept while the lines it reads are the same strings (typing
        changes only the cursor's line)."""
        limits, lines = self.settings.context, text.lines
        key = (
            line,
            limits,
            tuple(lines[max(0, line - limits.window_lines_before) : line]),
            tuple(lines[line + 1 : line + 1 + limits.window_lines_after]),
        )
        kept = document.caches.around
        if kept is not None and kept[0] == key:
            return kept[1]
        around = words_around(text, line, limits)
        document.caches.around = (key, around)
        return around

    def personal_evidence(self, tokens: tuple[str, ...], prefix: str) -> PersonalEvidence | None:
        """What the user's learned phrases say after `tokens` for words starting with `prefix`."""
        return self.personal and self.personal.evidence(tokens, prefix, self.settings.learning)

    # -- the document cache (memory/) -----------------------------------------------------------

    def memory_reader(self, document: DocumentState) -> Reader:
        """What the document cache reads this document's text with."""
        return Reader(
            lambda key: self.prediction(document, key).direction[0],
            self.context_key,
            self.vocab.id_of,
            self.bundle.max_context_tokens,
            self.bundle.output_dim,
            self.settings.memory,
            self.settings.context,
        )

    def memory_blocks(
        self, document: DocumentState, text: DocumentText, cursor: Cursor
    ) -> list[MemoryBlock]:
        """The blocks a completion at the cursor may use (none when the memory is off)."""
        settings = self.settings.memory
        if not settings.enabled or not self.search.continuous:
            return []
        reader = self.memory_reader(document)
        memory = self.document_memory(document)
        blocks = memory.update(reader, text, cursor, self.spare_rows)
        if settings.workspace:
            self.shared.documents[document.uri] = list(blocks)
            blocks = blocks + self.shared.others(document.uri)
        if settings.persist and self.shared.persisted is not None:
            blocks.append(self.shared.persisted)
        return blocks

    def memory_words(
        self, blocks: list[MemoryBlock], prediction: Prediction, prefix: str, previous: str
    ) -> dict[str, tuple[float, str]]:
        """{folded word: (cache probability, as written)} for the words matching the prefix."""
        return memory_bonuses(blocks, prediction.direction, prefix, previous, self.settings.memory)

    # -- the whole request ----------------------------------------------------------------------

    def complete(self, document: DocumentState, line: int, column: int) -> list[Completion]:
        """Completions at (line, column) in code points; [] where none make sense."""
        self.stats.completions += 1
        prepared = self.prepared
        if prepared is not None and prepared.answers(document.text, line, column, self.settings):
            if prepared.memory is not None:
                self.document_memory(document).adopt(prepared.memory, self.spare_rows)
            return list(prepared.completions)
        cursor = analyse_cursor(document.text, line, column, self.settings.context)
        if cursor is None:
            return []
        self.use(document)
        return self.complete_cursor(document, document.text, cursor)

    def complete_cursor(
        self,
        document: DocumentState,
        text: DocumentText,
        cursor: Cursor,
        blocks: list[MemoryBlock] | None = None,
    ) -> list[Completion]:
        """The completions at the cursor in `text` (the document's, or the text it will have);
        `blocks`: the document cache's (default: brought up to the cursor)."""
        key = self.context_key(cursor.tokens, cursor.truncated)
        # What needs no prediction first: a speculated step may still be running meanwhile.
        nearby = self.nearby(document, text, cursor)
        personal = self.personal_evidence(cursor.tokens, cursor.prefix)
        self.ranker.ngram_evidence(key, *self.vocab.prefix_range(cursor.prefix), self.settings)
        if blocks is None:
            blocks = self.memory_blocks(document, text, cursor)
        prediction = self.prediction(document, key)
        memory = self.memory_words(blocks, prediction, cursor.prefix, cursor.previous_token)
        limit = 4 * self.settings.max_items + 8
        candidates = self.rank(prediction, cursor.prefix, nearby, limit, memory, personal)
        self.speculation.note_ranking(text, cursor, candidates[0].folded if candidates else None)
        return finish(candidates, cursor, self.settings)

    # -- idle preparation -----------------------------------------------------------------------

    def prepare_next_word(self, document: DocumentState, line: int, column: int) -> bool:
        """Do now what a space typed at (line, column) will need: the recurrent step over the
        word or punctuation before it, the whole-vocabulary search, the counts' lookup, the
        partition and the whole completion (`PreparedSpace`), while the user pauses. Returns
        whether there was anything to prepare."""
        line, column = document.text.clamp(line, column)
        key = self.key_after_space(document.text, line, column)
        if key is None:
            return False
        self.use(document)
        prediction = self.prediction(document, key)
        weights = self.settings.ranking
        k = self.search.everything_k(weights)
        if self.search.full_scan is not None and k > 0:
            query = self.search.query(prediction, weights)[0]
            self.search.search_everything(prediction, query, k, weights, keep=True)
            if self.ranker.ngram_evidence(key, 0, self.vocab.n_words, self.settings):
                self.search.log_total(prediction, weights)
        self._complete_after_space(document, line, column)
        return True

    def key_after_space(self, text: DocumentText, line: int, column: int) -> Key | None:
        """The network's input after a space typed at (line, column), where a space there is
        worth preparing (a word can be completed after it and it adds a step)."""
        if not self.search.continuous or not self.settings.cache or column == 0:
            return None
        if text.content(line)[column - 1].isspace():
            return None  # a space adds nothing here: this context was searched by the request
        if suppressed(text, line, column) not in PREPARED_AFTER:
            return None
        # After a space the context is the paragraph up to here, the word included: the
        # tokens of text[..column] (a space adds no token).
        tokens, truncated = paragraph_tokens(text, line, column, self.settings.context)
        return self.context_key(tokens, truncated)

    def speculate(self, document: DocumentState, line: int, column: int) -> bool:
        """Start the steps and the whole-vocabulary search a space typed at (line, column) will
        need, on the worker thread (speculation.py), where a space is likely to come. Returns
        whether a job was started."""
        text = document.text
        line, column = text.clamp(line, column)
        key, states = self.key_after_space(text, line, column), self.document_states(document)
        if key is None or self.search.full_scan is None:
            return False
        known = states.cached_length(key, MAX_SPECULATED_STEPS)
        if not 0 < known < len(key) or not self.speculation.space_likely(text, line, column):
            return False
        parent = states.entries[key[:known]].state
        return self.speculation.start(key, known, parent, self.settings.ranking)

    def _complete_after_space(self, document: DocumentState, line: int, column: int) -> None:
        """The whole completion for the text with a space typed at (line, column), computed on
        a copy of the text and kept for the request that comes when the user types it. Not with
        the workspace or persisted memory on: other documents' words may change before then."""
        memory = self.settings.memory
        if memory.workspace or memory.persist:
            return
        before, after = document.text, document.text.copy()
        after.replace((line, column), (line, column), " ")
        cursor = analyse_cursor(after, line, column + 1, self.settings.context)
        if cursor is None:
            return
        state = None
        if memory.enabled and self.search.continuous:
            reader = self.memory_reader(document)
            state = self.document_memory(document).state_at(reader, after, cursor)
        blocks = [] if state is None else [state.stable, state.tail]
        completions = self.complete_cursor(document, after, cursor, blocks)
        self.prepared = PreparedSpace(
            before,
            after.edits,
            after.last_edit,
            after.lines[line],
            (line, column + 1),
            self.settings,
            completions,
            state,
        )


class TelemetryError(RuntimeError):
    """onnxruntime was imported with its telemetry on (see nextword/server/__init__.py)."""


def refuse_if_telemetry_is_on() -> None:
    if ONNXRUNTIME_TELEMETRY_ON:
        raise TelemetryError(
            "onnxruntime was imported before nextword without ORT_DISABLE_TELEMETRY=1, so its "
            "telemetry is on in this process; import nextword.server first or set "
            "ORT_DISABLE_TELEMETRY=1 before importing onnxruntime"
        )


def bundle_choice(path: Path | str | None, settings: Settings) -> Path | str | None:
    """The bundle to load: `path` when given, else the `bundle` setting; None: the default."""
    return path or settings.bundle or None


def load_engine(path: Path | str | None = None, settings: Settings | None = None) -> Engine:
    """Load a bundle into an engine (`bundle_choice`).

    Raises BundleError with a one-line reason for a bundle that is missing or broken.
    """
    settings = settings or Settings()
    refuse_if_telemetry_is_on()
    bundle = load_bundle(bundle_choice(path, settings))
    engine = Engine(bundle, settings)
    log.info("loaded model bundle %s", bundle.path)
    return engine
