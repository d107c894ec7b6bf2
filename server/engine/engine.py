"""The completion engine: bundle in, ranked words for a cursor out. No LSP here.

In-process API (the language server, `nextword complete` and the evaluation all use it):

    from nextword.server.text.document import DocumentState
    from nextword.server.engine.engine import Engine, load_engine

    engine = load_engine()                   # default bundle; load_engine(path, settings)
    document = DocumentState.open("mem://a", "The President of the Uni")
    document.edit((0, 24), (0, 24), "t")     # (line, column) in code points
    for item in engine.complete(document, line=0, column=25):
        print(item.text, item.score)         # Completion(text="United", ...)
    engine.forget(document)                  # drop its cached states (e.g. on close)

The pieces `complete` is made of are public so other features can reuse them:
`analyse_cursor` (context.py) gives the typed prefix and the paragraph's tokens,
`context_key` turns the tokens into the network's input ids, `prediction(document, key)` brings
the document's cached state up to the key (0 steps if cached, usually 1 at a word boundary, at
most max_context_tokens) and returns the prepared output, `scores` searches the prefix's id
range, `rank` adds the nearby-words bonus and orders the candidates, and `finish` restores case
and applies maxItems. Each document's states are `document.caches["states"]` (`DocumentStates`,
an LRU keyed by context token ids) and are dropped by `forget`.

Work per keystroke is bounded whatever the document length: the look-back is bounded
(`ContextLimits`), states are cached by context content (`states.py`), and the faiss search is
restricted to the prefix's id range.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import faiss
import numpy as np
import onnxruntime as ort

from nextword.server.engine.ranking import Candidate, log_priors, restore_case
from nextword.server.engine.states import CachedStep, DocumentStates, Key, StateCache
from nextword.server.lsp.transport import RecentDocuments
from nextword.server.memory.core import (
    MemoryBlock,
    MemoryState,
    SpareRows,
    WorkspaceMemory,
    document_memory,
    memory_blocks,
    memory_bonuses,
    mixed_scores,
    previous_token,
)
from nextword.server.model.bundle import Bundle, BundleError, load_bundle
from nextword.server.model.full_scan import FullScan
from nextword.server.model.ngrams import Evidence
from nextword.server.settings import Settings
from nextword.server.text.cursor import (
    AFTER_PUNCTUATION,
    Cursor,
    analyse_cursor,
    nearby_words,
    paragraph_tokens,
    suppressed,
    words_around,
)
from nextword.server.text.document import DocumentState, DocumentText
from nextword.server.text.tokenizer import (
    CONTINUE_SYMBOL,
    PARAGRAPH_SYMBOL,
    context_symbols,
    fold,
)

log = logging.getLogger(__name__)

_MEGABYTE = 1 << 20
T = TypeVar("T")
REMEMBERED_SEARCHES = 32
"""Whole-vocabulary searches kept (`Engine.search_everything`): ~1 KB each."""
REMEMBERED_EVIDENCES = 16
"""Corpus counts' lookups kept (`Engine.ngram_evidence`): 16 bytes per counted word, up to
190 KB (the 11,735 words counted after "the" in the default bundle)."""
RECENT_WORD_IDS = 20_000
"""Words whose ids `Engine.word_ids` keeps (then it starts over): ~2 MB at most."""
PREPARED_AFTER = (None, AFTER_PUNCTUATION, "after a number")
"""Where a space typed at the cursor starts a word that can be completed (`suppressed`)."""


@dataclass(frozen=True)
class Completion:
    text: str
    """The word to insert, case restored; it replaces line[word_start:column]."""
    score: float
    line: int
    word_start: int
    column: int
    in_vocabulary: bool


@dataclass
class EngineStats:
    recurrent_steps: int = 0
    cache_hits: int = 0
    completions: int = 0


COSINE_CONCENTRATION = 10.0
"""Bundles without a learned word bias: a word's model score is
COSINE_CONCENTRATION * (cos(output, e_w) - cos(mean row, e_w)) + log frequency(w). The
concentration puts the cosine on the scale of a log-probability; the mean-row term corrects the
"hubs" (words whose vectors lie near the table's centre, which nearest-neighbour decoding
over-predicts)."""


@dataclass
class Prediction:
    """The network's output after a context, prepared for ranking."""

    scores: np.ndarray
    """Continuous: the network's output vector, float32 [1, dim] (its norm is the confidence
    when the bundle has a word bias). Softmax: log-probabilities over the vocabulary, [vocab]."""
    steps: int = 0
    """Recurrent steps run to get it (0: it was cached)."""
    key: Key = ()
    """The context it follows (the network's input ids)."""
    step: CachedStep | None = None
    """Its entry in the document's state cache, if cached (holds its log partition)."""

    @property
    def direction(self) -> np.ndarray:
        """Continuous: the output at unit length, float32 [1, dim] (the memory's key)."""
        norm = float(np.linalg.norm(self.scores))
        return (self.scores / max(norm, 1e-12)).astype(np.float32)


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return options


class Engine:
    def __init__(self, bundle: Bundle, settings: Settings | None = None) -> None:
        self.bundle = bundle
        self.vocab = bundle.vocab
        self.settings = settings or Settings()
        try:
            self.session = ort.InferenceSession(
                str(bundle.predictor_path), session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own exception types
            raise BundleError(
                f"model bundle {bundle.path}: predictor.onnx cannot be loaded ({error})"
            ) from None
        faiss.omp_set_num_threads(1)
        n_words = self.vocab.n_words
        self.priors = log_priors(self.vocab.counts[:n_words])
        self.rarest_prior = float(self.priors.min())
        # Every id's log prior; symbols (the unknown word among them) get the rarest word's.
        self.all_priors = np.full(len(self.vocab), self.rarest_prior, dtype=np.float32)
        self.all_priors[:n_words] = self.priors
        self.zero_state = np.zeros(bundle.state_shape, dtype=np.float32)
        self.index: faiss.IndexFlatIP | None = None
        self.full_scan: FullScan | None = None
        self.ngrams = bundle.ngrams
        if bundle.output_codes is not None:
            table = bundle.output_embeddings
            if bundle.output_bias is not None:
                self.word_bias = bundle.output_bias.astype(np.float32)
            else:
                mean = table[:n_words].mean(axis=0)
                hub = mean / max(float(np.linalg.norm(mean)), 1e-12)
                hubness = (table @ hub).astype(np.float32)
                self.word_bias = self.all_priors - COSINE_CONCENTRATION * hubness
            # Rows [e_w; b_w; log frequency_w] and queries [similarity * q; similarity; prior]:
            # the inner product is the whole score but the document's bonus, so the search is
            # exact. faiss keeps the only float32 copy of the rows (49 MB for 32k words); the
            # bundle keeps them as int8.
            self.index = faiss.IndexFlatIP(table.shape[1] + 2)
            self.index.add(
                np.hstack(
                    [table[:n_words], self.word_bias[:n_words, None], self.priors[:, None]]
                ).astype(np.float32)
            )
            self.full_scan = self._full_scan(bundle, n_words)
        self.cache = StateCache(0, 0)
        self.searches: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.evidences: OrderedDict[tuple, Evidence] = OrderedDict()
        self.recent_word_ids: dict[str, int] = {}
        self.prepared: PreparedSpace | None = None
        self.recent = RecentDocuments(self.settings.cached_documents)  # limits.py
        self.workspace_memory = WorkspaceMemory()
        self.spare_rows = SpareRows()
        self.stats = EngineStats()
        self.configure(self.settings)

    def _full_scan(self, bundle: Bundle, n_words: int) -> FullScan | None:
        """The int8 search for an empty prefix (full_scan.py); None: faiss scans everything."""
        assert self.index is not None and bundle.output_codes is not None
        assert bundle.output_scales is not None
        try:
            return FullScan(
                bundle.output_codes[:n_words], bundle.output_scales[:n_words], self._rows(),
                session_options(),
            )  # fmt: skip
        except Exception as error:  # onnxruntime raises its own exception types
            log.warning("int8 full scan unavailable, faiss scans every row (%s)", error)
            return None

    def _rows(self) -> np.ndarray:
        """faiss's rows [e_w; b_w; log frequency_w], float32 [n_words, dim + 2], not copied."""
        assert self.index is not None
        n_words, width = self.index.ntotal, self.index.d
        return faiss.rev_swig_ptr(self.index.get_xb(), n_words * width).reshape(n_words, width)

    def configure(self, settings: Settings) -> None:
        """Apply new settings (the bundle itself is not reloaded here)."""
        self.settings = settings
        self.cache.document_bytes = settings.document_cache_megabytes * _MEGABYTE
        self.cache.total_bytes = settings.cache_megabytes * _MEGABYTE
        self.recent.limit = settings.cached_documents

    # -- documents ------------------------------------------------------------------------------

    def document_states(self, document: DocumentState) -> DocumentStates:
        states = document.caches.get("states")
        if states is None or states.owner is not self.cache:
            states = self.cache.new_document(document.uri)
            document.caches["states"] = states
        return states

    def forget(self, document: DocumentState) -> None:
        states = document.caches.pop("states", None)
        if states is not None:
            states.clear()
        document.caches.pop("memory", None)
        document.caches.pop("around", None)
        self.workspace_memory.drop(document.uri)
        if self.prepared is not None and self.prepared.text is document.text:
            self.prepared = None

    # -- the network ----------------------------------------------------------------------------

    def context_key(self, tokens: tuple[str, ...] | list[str], truncated: bool = False) -> Key:
        """The network's input ids for the paragraph tokens before the cursor.

        `truncated`: the tokens do not start at a paragraph start (the look-back was cut), so
        the first window starts with the continue marker, not the paragraph marker.
        """
        symbols = context_symbols(list(tokens), self.bundle.max_context_tokens)
        if truncated and symbols[0] == PARAGRAPH_SYMBOL:
            symbols[0] = CONTINUE_SYMBOL
        return tuple(self.vocab.id_of(symbol) for symbol in symbols)

    def step(self, token_id: int, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One recurrent step: (prepared output, new state)."""
        vector = self.bundle.input_embeddings[token_id : token_id + 1].astype(np.float32)
        output, new_state = self.session.run(None, {"input": vector, "state": state})
        self.stats.recurrent_steps += 1
        return self._prepare(output), new_state

    def _prepare(self, output: np.ndarray) -> np.ndarray:
        if self.index is not None:
            return np.ascontiguousarray(output, dtype=np.float32)
        logits = output[0].astype(np.float64)
        return (logits - log_sum_exp(logits)).astype(np.float32)

    def prediction(self, document: DocumentState, key: Key) -> Prediction:
        """The output after `key`, resuming from the longest cached prefix of it."""
        self.recent.touch(document, self.forget)
        if not self.settings.cache:
            state, prepared = self.zero_state, None
            for token_id in key:
                prepared, state = self.step(token_id, state)
            return Prediction(prepared, steps=len(key), key=key)  # type: ignore[arg-type]
        states = self.document_states(document)
        version = document.version
        known = len(key)
        entry = states.get(key, version)
        while entry is None and known > 1:
            known -= 1
            entry = states.get(key[:known], version)
        if entry is None:
            known = 0
        else:
            self.stats.cache_hits += 1
        state = self.zero_state if entry is None else entry.state
        prepared = None if entry is None else entry.output
        for length in range(known + 1, len(key) + 1):
            prepared, state = self.step(key[length - 1], state)
            entry = CachedStep(state, prepared, version)
            states.put(key[:length], entry)
        return Prediction(prepared, len(key) - known, key, entry)  # type: ignore[arg-type]

    # -- ranking --------------------------------------------------------------------------------

    def model_vector(self, prediction: Prediction) -> np.ndarray:
        """Continuous: q such that a word's model score is q.e_w + b_w, float32 [dim]."""
        if self.bundle.output_bias is not None:
            return prediction.scores[0]
        return COSINE_CONCENTRATION * prediction.direction[0]

    def model_scores(self, prediction: Prediction, ids: np.ndarray) -> np.ndarray:
        """The model's scores (log-probabilities up to a constant) of the words `ids`."""
        if self.index is None:
            return prediction.scores[ids]
        rows = self.bundle.output_rows(ids)
        return rows @ self.model_vector(prediction) + self.word_bias[ids]

    def query(self, prediction: Prediction) -> np.ndarray:
        """The search vector for a continuous prediction under the current weights."""
        weights = self.settings.ranking
        direction = weights.similarity * self.model_vector(prediction)
        extra = np.asarray([weights.similarity, weights.prior], dtype=np.float32)
        return np.concatenate([direction, extra])[None, :].astype(np.float32)

    def scores(self, prediction: Prediction, lo: int, hi: int, extra: list[int]) -> dict:
        """{word id: score without the document bonus} for the best words in [lo, hi) and
        for the `extra` ids.

        similarity * model score + prior * log frequency, where the model score is q.e_w + b_w
        for continuous bundles (searched exactly by faiss) and log p(word) for softmax bundles.
        """
        weights = self.settings.ranking
        scores: dict[int, float] = {}
        k = min(weights.candidates, hi - lo)
        if self.index is not None:
            query = self.query(prediction)
            if k > 0 and self.full_scan is not None and hi - lo == self.full_scan.n:
                found, ids = self.search_everything(prediction, query[0], k)  # nothing typed
                scores.update(zip(ids.tolist(), found.tolist()))
            elif k > 0:
                params = faiss.SearchParameters(sel=faiss.IDSelectorRange(lo, hi))
                values, found_ids = self.index.search(query, k, params=params)
                for value, word_id in zip(values[0].tolist(), found_ids[0].tolist()):
                    if word_id >= 0:
                        scores[word_id] = value
            missing = [word_id for word_id in extra if word_id not in scores]
            if missing:
                ids = np.asarray(missing)
                values = weights.similarity * self.model_scores(prediction, ids)
                values = values + weights.prior * self.all_priors[ids]
                scores.update(zip(missing, values.tolist()))
            return scores
        log_probs = prediction.scores
        if k > 0:
            in_range = weights.similarity * log_probs[lo:hi] + weights.prior * self.priors[lo:hi]
            best = np.argpartition(-in_range, k - 1)[:k] if k < hi - lo else np.arange(hi - lo)
            for offset in best.tolist():
                scores[lo + offset] = float(in_range[offset])
        for word_id in extra:
            if word_id not in scores:
                value = weights.similarity * log_probs[word_id]
                scores[word_id] = float(value + weights.prior * self.all_priors[word_id])
        return scores

    def search_everything(
        self, prediction: Prediction, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best words of the whole vocabulary (the int8 full scan), kept
        for the last few contexts: a scan run while the user paused (`prepare_next_word`)
        answers the keystroke after the space. The same context, weights and k give the same
        answer, so a kept one is exact."""
        assert self.full_scan is not None
        if not self.settings.cache:
            return self.full_scan.search(query, k)
        weights = self.settings.ranking
        full_scan = self.full_scan
        return remember(
            self.searches,
            (prediction.key, weights.similarity, weights.prior, k),
            REMEMBERED_SEARCHES,
            lambda: full_scan.search(query, k),
        )

    def log_total(self, prediction: Prediction) -> float:
        """log sum over all words of exp(score without the document bonus): the scores'
        normalising constant, cached with the prediction's state."""
        weights = self.settings.ranking
        token = (weights.similarity, weights.prior)
        step = prediction.step
        if step is not None and step.log_total is not None and step.log_total[0] == token:
            return step.log_total[1]
        if self.index is None:
            scores = weights.similarity * prediction.scores[: self.vocab.n_words]
            value = log_sum_exp(scores + weights.prior * self.priors)
        elif self.full_scan is not None:
            value = log_sum_exp(self.full_scan.approximate(self.query(prediction)[0]))
        else:
            value = log_sum_exp(self._rows() @ self.query(prediction)[0])
        if step is not None:
            step.log_total = (token, value)
        return value

    def ngram_evidence(self, prediction: Prediction, lo: int, hi: int) -> Evidence | None:
        """What the bundle's corpus counts say about the words in [lo, hi) here (ngrams.py)."""
        settings = self.settings.ngrams
        if self.ngrams is None or not settings.enabled or settings.weight <= 0 or lo >= hi:
            return None
        ngrams = self.ngrams
        # It depends on the last two ids only: "of the" recurs, and a prepared space finds it.
        evidence = remember(
            self.evidences,
            (prediction.key[-2:], lo, hi, settings.discount),
            REMEMBERED_EVIDENCES,
            lambda: ngrams.evidence(prediction.key, lo, hi, settings.discount),
        )
        return evidence if len(evidence.ids) else None

    def with_ngrams(
        self, prediction: Prediction, scores: dict[int, float], evidence: Evidence
    ) -> dict[int, float]:
        """Scores as log((1 - lambda) p_network + lambda p_ngram) + log Z: with lambda = 1, the
        counts' own interpolation with the network as its lowest order (ngrams.py)."""
        weight = min(self.settings.ngrams.weight, 1.0)
        network_share = max((1.0 - weight) + weight * evidence.network_share, 1e-12)
        ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        where = np.minimum(np.searchsorted(evidence.ids, ids), len(evidence.ids) - 1)
        counted = evidence.ids[where] == ids
        mixed = values + np.log(network_share)
        if counted.any():
            log_z = self.log_total(prediction)
            probability = network_share * np.exp(values[counted] - log_z)
            probability += weight * evidence.explicit[where[counted]]
            mixed[counted] = log_z + np.log(probability)
        return dict(zip(ids.tolist(), mixed.tolist()))

    def rank(
        self,
        prediction: Prediction,
        prefix: str,
        nearby: dict[str, str],
        limit: int | None = None,
        memory: dict[str, tuple[float, str]] | None = None,
    ) -> list[Candidate]:
        """The best `limit` candidates for the prefix (all when None), best first.

        `memory`: {folded word: (cache probability, as written)} from the continuous cache
        (memory.py), mixed into the scores by `mixed_scores`.
        """
        weights = self.settings.ranking
        vocab = self.vocab
        lo, hi = vocab.prefix_range(prefix)
        typed = fold(prefix)
        if typed:
            matching = {word: written for word, written in nearby.items() if word.startswith(typed)}
        else:
            matching = nearby  # every word matches; only read below
        n_words = vocab.n_words
        boosts = memory or {}
        words = [*matching, *boosts]
        known = dict(zip(words, self.word_ids(words)))
        found = np.fromiter(known.values(), dtype=np.int64, count=len(known))
        in_vocab = np.sort(found[(found >= 0) & (found < n_words)]).tolist()
        unknown_id = vocab.unknown_id
        evidence = self.ngram_evidence(prediction, lo, hi)
        counted: list[int] = []
        if evidence is not None:
            counted = top_ids(evidence.ids, evidence.explicit, self.settings.ngrams.candidates)
        scores = self.scores(prediction, lo, hi, in_vocab + counted + [unknown_id])
        if evidence is not None:
            scores = self.with_ngrams(prediction, scores, evidence)
        folded, display, bonus = vocab.folded, vocab.display, weights.document
        # The candidates as arrays (hundreds of them in a long document, where every word written
        # nearby is one): the words the vocabulary has, then those it lacks.
        unknown_score = scores.pop(unknown_id)
        ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        if bonus:
            nearby_ids = [known[word] for word in matching if 0 <= known[word] < n_words]
            values = values + bonus * np.isin(ids, nearby_ids)
        written_forms = {word: written for word, (_, written) in boosts.items()} | matching
        outside = [
            (w, written) for w, written in written_forms.items() if not 0 <= known[w] < n_words
        ]
        outside_scores = [unknown_score + (bonus if w in matching else 0.0) for w, _ in outside]
        final = np.concatenate([values, np.asarray(outside_scores, dtype=np.float64)])
        if boosts and len(final):
            final = mixed_scores(
                final, self._cache_probabilities(ids, outside, boosts, known), self.settings.memory
            )
        count = len(final) if limit is None else min(limit, len(final))
        if count <= 0:
            return []
        chosen = np.arange(len(final))
        if count < len(final):  # the best `count`, and every row tied with the last of them
            chosen = np.flatnonzero(-final <= np.partition(-final, count - 1)[count - 1])
        rows: list[tuple[float, str, str, bool]] = []
        for position, value in zip(chosen.tolist(), final[chosen].tolist()):
            if position < len(ids):
                word_id = int(ids[position])
                rows.append((-value, folded[word_id], display[word_id], True))
            else:
                word, written = outside[position - len(ids)]
                rows.append((-value, word, written, False))
        rows.sort()
        return [Candidate(w, d, -negative, v) for negative, w, d, v in rows[:limit]]

    def words_around(self, document: DocumentState, line: int) -> dict[str, str]:
        """`context.words_around` the line, kept while the lines it reads are the same strings
        (typing changes only the cursor's line)."""
        limits, lines = self.settings.context, document.text.lines
        key = (
            line,
            limits,
            tuple(lines[max(0, line - limits.window_lines_before) : line]),
            tuple(lines[line + 1 : line + 1 + limits.window_lines_after]),
        )
        kept = document.caches.get("around")
        if kept is not None and kept[0] == key:
            return kept[1]
        around = words_around(document.text, line, limits)
        document.caches["around"] = (key, around)
        return around

    def word_ids(self, words: list[str]) -> list[int]:
        """The vocabulary id of each word (-1: not in it), through a small memo of the words
        asked for lately: the same few hundred nearby words are looked up at every keystroke,
        and in the 32k-word index nearly every lookup missed the CPU caches (~0.4 ms)."""
        memo = self.recent_word_ids
        ids = list(map(memo.get, words))
        if None in ids:
            index = self.vocab.index
            if len(memo) > RECENT_WORD_IDS:
                memo.clear()
            for position, word in enumerate(words):
                if ids[position] is None:
                    ids[position] = memo[word] = index.get(word, -1)
        return ids  # type: ignore[return-value]

    @staticmethod
    def _cache_probabilities(
        ids: np.ndarray,
        outside: list[tuple[str, str]],
        memory: dict[str, tuple[float, str]],
        known: dict[str, int],
    ) -> np.ndarray:
        """The memory's probability of each candidate row of `rank` (0 where it has none)."""
        probabilities = np.zeros(len(ids) + len(outside))
        remembered = [(known[word], probability) for word, (probability, _) in memory.items()]
        if remembered:
            remembered.sort()
            remembered_ids = np.asarray([i for i, _ in remembered], dtype=np.int64)
            where = np.minimum(np.searchsorted(remembered_ids, ids), len(remembered_ids) - 1)
            hit = remembered_ids[where] == ids
            values = np.asarray([p for _, p in remembered], dtype=np.float64)
            probabilities[: len(ids)][hit] = values[where[hit]]
        for offset, (word, _) in enumerate(outside):
            if word in memory:
                probabilities[len(ids) + offset] = memory[word][0]
        return probabilities

    # -- the whole request ----------------------------------------------------------------------

    def complete_cursor(
        self, document: DocumentState, cursor: Cursor, blocks: list[MemoryBlock] | None = None
    ) -> list[Completion]:
        """The completions at the cursor; `blocks`: the memory's (default: the document's,
        brought up to the cursor)."""
        limits = self.settings.context
        key = self.context_key(cursor.tokens, cursor.truncated)
        prediction = self.prediction(document, key)
        if blocks is None:
            blocks = memory_blocks(self, document, cursor)
        candidates = self.rank(
            prediction,
            cursor.prefix,
            nearby_words(document.text, cursor, limits, self.words_around(document, cursor.line)),
            limit=4 * self.settings.max_items + 8,
            memory=memory_bonuses(
                self, blocks, prediction.direction, cursor.prefix, previous_token(cursor)
            ),
        )
        return self.finish(candidates, cursor)

    def finish(self, candidates: list[Candidate], cursor: Cursor) -> list[Completion]:
        """Restore case, drop duplicates and no-ops, apply min_score and max_items."""
        settings = self.settings
        results: list[Completion] = []
        seen: set[str] = set()
        sentence_start = cursor.sentence_start
        for candidate in candidates:
            if settings.min_score is not None and candidate.score < settings.min_score:
                break
            text = restore_case(candidate.display, cursor.prefix, sentence_start)
            # Inserting exactly what is typed changes nothing: leave it out.
            if text == cursor.prefix or text in seen:
                continue
            seen.add(text)
            results.append(
                Completion(
                    text,
                    candidate.score,
                    cursor.line,
                    cursor.word_start,
                    cursor.column,
                    candidate.in_vocabulary,
                )
            )
            if len(results) >= settings.max_items:
                break
        return results

    def prepare_next_word(self, document: DocumentState, line: int, column: int) -> bool:
        """Do now what a space typed at (line, column) will need: the recurrent step over the
        word or punctuation before it, the search of the whole vocabulary after that, the corpus
        counts' lookup and the search's partition (the costly part of the keystroke after a
        space). The server calls it while the user pauses. Returns whether there was anything
        to prepare."""
        text = document.text
        line, column = text.clamp(line, column)
        if self.index is None or not self.settings.cache or column == 0:
            return False
        if text.content(line)[column - 1].isspace():
            return False  # a space adds nothing here: this context was searched by the request
        if suppressed(text, line, column) not in PREPARED_AFTER:
            return False
        # After a space the context is the paragraph up to here, the word included: the
        # tokens of text[..column] (a space adds no token).
        tokens, truncated = paragraph_tokens(text, line, column, self.settings.context)
        prediction = self.prediction(document, self.context_key(tokens, truncated))
        k = min(self.settings.ranking.candidates, self.vocab.n_words)
        if self.full_scan is not None and k > 0:
            self.search_everything(prediction, self.query(prediction)[0], k)
            if self.ngram_evidence(prediction, 0, self.vocab.n_words) is not None:
                self.log_total(prediction)
        self.prepare_completion_after_space(document, line, column)
        return True

    def prepare_completion_after_space(
        self, document: DocumentState, line: int, column: int
    ) -> None:
        """The whole completion for the text with a space typed at (line, column), kept for the
        request that comes when the user types it (`PreparedSpace`). Not with the workspace or
        persisted memory on: other documents' words may change before then."""
        memory = self.settings.memory
        if memory.workspace or memory.persist:
            return
        before, after = document.text, document.text.copy()
        after.replace((line, column), (line, column), " ")
        cursor = analyse_cursor(after, line, column + 1, self.settings.context)
        if cursor is None:
            return
        # The document itself, not a copy, reads the text with the space for the time of this
        # call: its caches are keyed by content, and a second document of the same URI would
        # count as that document reopened (RecentDocuments drops the caches of the first).
        document.text = after
        try:
            state = None
            if memory.enabled and self.index is not None:
                state = document_memory(self, document).state_at(self, document, cursor)
            blocks = [] if state is None else [state.stable, state.tail]
            completions = self.complete_cursor(document, cursor, blocks)
        finally:
            document.text = before
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

    def complete(self, document: DocumentState, line: int, column: int) -> list[Completion]:
        """Completions at (line, column) in code points; [] where none make sense."""
        self.stats.completions += 1
        prepared = self.prepared
        if prepared is not None and prepared.answers(document.text, line, column, self.settings):
            if prepared.memory is not None:
                document_memory(self, document).adopt(prepared.memory, self.spare_rows)
            return list(prepared.completions)
        cursor = analyse_cursor(document.text, line, column, self.settings.context)
        if cursor is None:
            return []
        return self.complete_cursor(document, cursor)


@dataclass(frozen=True)
class PreparedSpace:
    """A completion computed while the user paused, for the text with one more space typed
    (`Engine.prepare_completion_after_space`). It answers a request when the document has
    that text: one edit since, to the same line, which now reads as the prepared one (every
    other line is untouched), with the same settings."""

    text: DocumentText
    """The document's text when prepared (the object, which edits change in place)."""
    edits: int
    last_edit: tuple[int, int, int] | None
    """`text.edits` and `text.last_edit` once the space is typed."""
    line: str
    """The edited line once the space is typed."""
    position: tuple[int, int]
    settings: Settings
    completions: list[Completion]
    memory: MemoryState | None
    """The document memory's blocks for that text, adopted when the completion is used."""

    def answers(self, text: DocumentText, line: int, column: int, settings: Settings) -> bool:
        return (
            text is self.text
            and settings is self.settings
            and text.edits == self.edits
            and text.last_edit == self.last_edit
            and text.clamp(line, column) == self.position
            and text.lines[self.position[0]] == self.line
        )


def remember(
    table: OrderedDict[Hashable, T], key: Hashable, limit: int, compute: Callable[[], T]
) -> T:
    """table[key], computed and kept on first use; beyond `limit` entries the least recently
    used one goes."""
    value = table.get(key)
    if value is not None:
        table.move_to_end(key)
        return value
    value = table[key] = compute()
    while len(table) > limit:
        table.popitem(last=False)
    return value


def log_sum_exp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + float(np.log(np.exp(values - top).sum(dtype=np.float64)))


def top_ids(ids: np.ndarray, values: np.ndarray, k: int) -> list[int]:
    """The ids of the k largest values, in no particular order (among values tied at the k-th,
    argpartition's choice: the same for the same input)."""
    if len(ids) <= k:
        return ids.tolist()
    return ids[np.argpartition(-values, k - 1)[:k]].tolist()


def load_engine(path: Path | str | None = None, settings: Settings | None = None) -> Engine:
    """Load a bundle (the default one when path is None or empty) into an engine.

    Raises BundleError with a one-line reason for a bundle that is missing or broken.
    """
    settings = settings or Settings()
    bundle = load_bundle(path or settings.bundle or None)
    engine = Engine(bundle, settings)
    log.info("loaded model bundle %s", bundle.path)
    return engine
