"""Scoring the vocabulary against a prediction: exact searches of the int8 table.

score = similarity * (model's score for the word) + prior * log(word's corpus frequency)

The model's score is a log-probability up to a constant: output.e_w + b_w for continuous bundles
with a learned word bias, log p(word) for softmax bundles, and for continuous bundles without a
bias a scaled cosine plus the log frequency (`COSINE_CONCENTRATION`). The prior folds into the
vector search, which stays exact.

The rows stay int8 (rows.py). A whole-vocabulary search runs the int8 scan (full_scan.py) and a
prefix's range reuses that scan's approximations when its query was scanned lately; otherwise a
range is scored exactly in numpy, a chunk of rows at a time (0.36 ms for the largest one-letter
range, 3,474 words, on one core).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from nextword.server.model.bundle import Bundle
from nextword.server.model.full_scan import FullScan
from nextword.server.model.predictor import CachedStep, Prediction, log_sum_exp, session_options
from nextword.server.model.rows import CHUNK_ROWS, Int8Rows, top_k
from nextword.server.settings import RankingWeights
from nextword.server.text.window import Key

log = logging.getLogger(__name__)

T = TypeVar("T")
KEPT_SEARCHES = 32
"""Whole-vocabulary searches kept (`WordSearch.search_everything`): ~1 KB each."""
COSINE_CONCENTRATION = 10.0
"""Bundles without a learned word bias: a word's model score is
COSINE_CONCENTRATION * (cos(output, e_w) - cos(mean row, e_w)) + log frequency(w). The
concentration puts the cosine on the scale of a log-probability; the mean-row term corrects the
"hubs" (words whose vectors lie near the table's centre, which nearest-neighbour decoding
over-predicts)."""


def log_priors(counts: list[int]) -> np.ndarray:
    array = np.asarray(counts, dtype=np.float64) + 1.0
    return np.log(array / array.sum()).astype(np.float32)


@dataclass(frozen=True)
class ScanAhead:
    """A whole-vocabulary search run ahead of its keystroke (`WordSearch.scan_ahead`)."""

    query: np.ndarray
    outputs: list[np.ndarray]
    """The int8 graph's outputs for the shortlist (`FullScan.finish`)."""


class WordSearch:
    """The bundle's words, scored against predictions under the ranking weights."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        n_words = bundle.vocab.n_words
        self.n_words = n_words
        self.priors = log_priors(bundle.vocab.counts[:n_words])
        self.rarest_prior = float(self.priors.min())
        # Every id's log prior; symbols (the unknown word among them) get the rarest word's.
        self.all_priors = np.full(len(bundle.vocab), self.rarest_prior, dtype=np.float32)
        self.all_priors[:n_words] = self.priors
        self.table: Int8Rows | None = None
        self.full_scan: FullScan | None = None
        self.searches: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        codes, scales = bundle.output_codes, bundle.output_scales
        if codes is not None and scales is not None:
            if bundle.output_bias is not None:
                self.word_bias = bundle.output_bias.astype(np.float32)
            else:
                self.word_bias = self.all_priors - COSINE_CONCENTRATION * hubness(bundle)
            # Rows [e_w; b_w; log frequency_w] and queries [similarity * q; similarity; prior]:
            # the inner product is the whole score but the document's bonus, so the search is
            # exact.
            extra = np.stack([self.word_bias[:n_words], self.priors], axis=1)
            self.table = Int8Rows(codes[:n_words], scales[:n_words], extra)
            self.full_scan = self._full_scan(self.table)

    @property
    def continuous(self) -> bool:
        return self.table is not None

    def _full_scan(self, table: Int8Rows) -> FullScan | None:
        """The int8 scan (full_scan.py); None: every search scores its whole range exactly."""
        try:
            return FullScan(table, session_options())
        except Exception as error:  # onnxruntime raises its own exception types
            log.warning("int8 full scan unavailable, searches score every row (%s)", error)
            return None

    def rows(self, ids: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Search rows [e_w; b_w; log frequency_w] of `ids`, float32 [len, dim + 2]."""
        assert self.table is not None
        return self.table.rows(ids)

    def model_vector(self, prediction: Prediction) -> np.ndarray:
        """Continuous: q such that a word's model score is q.e_w + b_w, float32 [dim]."""
        if self.bundle.output_bias is not None:
            return prediction.scores[0]
        return COSINE_CONCENTRATION * prediction.direction[0]

    def model_scores(self, prediction: Prediction, ids: np.ndarray) -> np.ndarray:
        """The model's scores (log-probabilities up to a constant) of the words `ids`."""
        if self.table is None:
            return prediction.scores[ids]
        rows = self.bundle.output_rows(ids)
        return rows @ self.model_vector(prediction) + self.word_bias[ids]

    def query(self, prediction: Prediction, weights: RankingWeights) -> np.ndarray:
        """The search vector for a continuous prediction under the weights."""
        direction = weights.similarity * self.model_vector(prediction)
        extra = np.asarray([weights.similarity, weights.prior], dtype=np.float32)
        return np.concatenate([direction, extra])[None, :].astype(np.float32)

    def scores(
        self, prediction: Prediction, lo: int, hi: int, extra: list[int], weights: RankingWeights,
        keep: bool,
    ) -> dict[int, float]:  # fmt: skip
        """{word id: score without the document bonus} for the best words in [lo, hi) and
        for the `extra` ids (`keep`: a whole-vocabulary search may be kept for later)."""
        scores: dict[int, float] = {}
        k = min(weights.candidates, hi - lo)
        if self.table is not None:
            query = self.query(prediction, weights)[0]
            if k > 0 and self.full_scan is not None and hi - lo == self.full_scan.n:
                found, ids = self.search_everything(prediction, query, k, weights, keep)
                scores.update(zip(ids.tolist(), found.tolist()))
            elif k > 0:
                found, ids = self.search_range(query, k, lo, hi)
                scores.update(zip(ids.tolist(), found.tolist()))
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
        self, prediction: Prediction, query: np.ndarray, k: int, weights: RankingWeights,
        keep: bool,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(scores, ids) of the k best words of the whole vocabulary (the int8 full scan), kept
        for the last few contexts when `keep`: a scan run while the user paused answers the
        keystroke after the space. The same context, weights and k give the same answer, so a
        kept one is exact."""
        assert self.full_scan is not None
        if not keep:
            return self.full_scan.search(query, k)
        full_scan = self.full_scan
        return memoized(
            self.searches,
            kept_search_key(prediction.key, weights, k),
            KEPT_SEARCHES,
            lambda: full_scan.search(query, k),
        )

    def search_range(
        self, query: np.ndarray, k: int, lo: int, hi: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best words in [lo, hi), best first, ties by id: from the int8
        scan's kept approximations for the query, else every row of the range scored."""
        assert self.table is not None
        if self.full_scan is not None and hi - lo > self.full_scan.shortlist:
            found = self.full_scan.search_kept(query, k, lo, hi)
            if found is not None:
                return found
        return top_k(np.arange(lo, hi), self.table.exact_range(lo, hi, query), k)

    def everything_k(self, weights: RankingWeights) -> int:
        """How many words a whole-vocabulary search returns."""
        return min(weights.candidates, self.n_words)

    def scan_ahead(self, scores: np.ndarray, weights: RankingWeights) -> ScanAhead:
        """The int8 graph's run of the whole-vocabulary search for the network output `scores`
        (`Prediction.scores`), for `keep_scan` to finish. Changes nothing here: a worker thread
        runs it (engine/speculation.py), holding the GIL as little as it can."""
        full_scan = self.full_scan
        assert full_scan is not None
        query = self.query(Prediction(scores), weights)[0]
        return ScanAhead(
            query, full_scan.scan(query, full_scan.shortlist_size(self.everything_k(weights)))
        )

    def keep_scan(
        self, key: Key, weights: RankingWeights, ahead: ScanAhead, step: CachedStep
    ) -> None:
        """Finish a `scan_ahead` for the context `key` (whose cached step is `step`) and keep
        it as `search_everything` and `log_total` keep theirs: the same values."""
        full_scan = self.full_scan
        assert full_scan is not None
        full_scan.remember(ahead.query, ahead.outputs)
        k = self.everything_k(weights)
        found = full_scan.finish(ahead.query, k, ahead.outputs)
        memoized(self.searches, kept_search_key(key, weights, k), KEPT_SEARCHES, lambda: found)
        step.log_total = (total_token(weights), log_sum_exp(ahead.outputs[2][0]))

    def log_total(self, prediction: Prediction, weights: RankingWeights) -> float:
        """log sum over all words of exp(score without the document bonus): the scores'
        normalising constant, cached with the prediction's state."""
        token = total_token(weights)
        step = prediction.step
        if step is not None and step.log_total is not None and step.log_total[0] == token:
            return step.log_total[1]
        if self.table is None:
            scores = weights.similarity * prediction.scores[: self.n_words]
            value = log_sum_exp(scores + weights.prior * self.priors)
        elif self.full_scan is not None:
            value = log_sum_exp(self.full_scan.approximate(self.query(prediction, weights)[0]))
        else:
            query = self.query(prediction, weights)[0]
            value = log_sum_exp(self.table.exact_range(0, self.n_words, query))
        if step is not None:
            step.log_total = (token, value)
        return value


def hubness(bundle: Bundle) -> np.ndarray:
    """cos(mean row, e_w) for every id, float32 [vocab]: how near each word lies to the table's
    centre (continuous bundles without a learned bias)."""
    assert bundle.output_codes is not None
    n_words, chunk = bundle.vocab.n_words, CHUNK_ROWS
    total = np.zeros(bundle.output_dim, np.float64)
    for start in range(0, n_words, chunk):
        total += bundle.output_rows(slice(start, min(start + chunk, n_words))).sum(axis=0)
    hub = (total / max(float(np.linalg.norm(total)), 1e-12)).astype(np.float32)
    values = np.empty(len(bundle.vocab), np.float32)
    for start in range(0, len(values), chunk):
        part = slice(start, min(start + chunk, len(values)))
        values[part] = bundle.output_rows(part) @ hub
    return values


def total_token(weights: RankingWeights) -> tuple[float, float]:
    """What `log_total` depends on besides the prediction."""
    return (weights.similarity, weights.prior)


def kept_search_key(key: Key, weights: RankingWeights, k: int) -> tuple:
    """What a kept whole-vocabulary search depends on: the context, the weights and k."""
    return (key, weights.similarity, weights.prior, k)


def memoized(
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
