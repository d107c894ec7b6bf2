"""Ranking the words that match the typed prefix, and writing them in the right case.

score = similarity * (model's score for the word)      (model/search.py)
      + prior * log(word's corpus frequency)
      + document * (1 if the word is written near the cursor)

then mixed with the corpus counts (model/ngrams.py), the user's learned phrases
(personal/mixing.py) and the document cache (memory/mixing.py).
Words written near the cursor that the vocabulary lacks are candidates too; they take the
unknown word's model score and the prior of the rarest vocabulary word.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from nextword.server.engine.prepared import Completion
from nextword.server.memory.mixing import mixed_scores
from nextword.server.model.ngrams import Evidence, NgramTable
from nextword.server.model.predictor import Prediction
from nextword.server.model.search import WordSearch, memoized
from nextword.server.model.vocab import Vocabulary
from nextword.server.personal.mixing import PersonalEvidence
from nextword.server.settings import Settings
from nextword.server.text.cursor import Cursor
from nextword.server.text.tokenizer import fold
from nextword.server.text.window import Key

KEPT_EVIDENCES = 16
"""Corpus counts' lookups kept (`Ranker.ngram_evidence`): 16 bytes per counted word, up to
190 KB (the 11,735 words counted after "the" in the default bundle)."""
RECENT_WORD_IDS = 20_000
"""Words whose ids `Ranker.word_ids` keeps (then it starts over): ~2 MB at most."""


@dataclass(frozen=True)
class Candidate:
    folded: str
    display: str
    """The word's usual spelling: the vocabulary's display form, or as written in the document."""
    score: float
    in_vocabulary: bool


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


def finish(candidates: list[Candidate], cursor: Cursor, settings: Settings) -> list[Completion]:
    """Restore case, drop duplicates and no-ops, apply min_score and max_items."""
    results: list[Completion] = []
    seen: set[str] = set()
    for candidate in candidates:
        if settings.min_score is not None and candidate.score < settings.min_score:
            break
        text = restore_case(candidate.display, cursor.prefix, cursor.sentence_start)
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


def keep_typed(word: str, typed: str) -> str | None:
    """`word` with its first letters as the user typed them; None when it does not start with
    what was typed (folded)."""
    if fold(word[: len(typed)]) == fold(typed):
        return typed + word[len(typed) :]
    return None


def top_ids(ids: np.ndarray, values: np.ndarray, k: int) -> list[int]:
    """The ids of the k largest values, in no particular order (among values tied at the k-th,
    argpartition's choice: the same for the same input)."""
    if len(ids) <= k:
        return ids.tolist()
    return ids[np.argpartition(-values, k - 1)[:k]].tolist()


class Ranker:
    """Orders the candidates for a prefix: the search's best, the corpus counts' best, the words
    written nearby and the document cache's words."""

    def __init__(self, vocab: Vocabulary, search: WordSearch, ngrams: NgramTable | None) -> None:
        self.vocab = vocab
        self.search = search
        self.ngrams = ngrams
        self.evidences: OrderedDict[tuple, Evidence] = OrderedDict()
        self.recent_word_ids: dict[str, int] = {}

    def ngram_evidence(self, key: Key, lo: int, hi: int, settings: Settings) -> Evidence | None:
        """What the bundle's corpus counts say about the words in [lo, hi) after the context
        `key` (ngrams.py)."""
        counts = settings.ngrams
        if self.ngrams is None or not counts.enabled or counts.weight <= 0 or lo >= hi:
            return None
        ngrams = self.ngrams
        # It depends on the last few ids only: "of the" recurs, and a prepared space finds it.
        evidence = memoized(
            self.evidences,
            (key[-ngrams.context_length :], lo, hi, counts.discount),
            KEPT_EVIDENCES,
            lambda: ngrams.evidence(key, lo, hi, counts.discount),
        )
        return evidence if len(evidence.ids) else None

    def with_ngrams(
        self,
        prediction: Prediction,
        scores: dict[int, float],
        evidence: Evidence,
        settings: Settings,
    ) -> dict[int, float]:
        """Scores as log((1 - lambda) p_network + lambda p_ngram) + log Z: with lambda = 1, the
        counts' own interpolation with the network as its lowest order (ngrams.py)."""
        weight = settings.ngrams.weight
        network_share = max((1.0 - weight) + weight * evidence.network_share, 1e-12)
        ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        where = np.minimum(np.searchsorted(evidence.ids, ids), len(evidence.ids) - 1)
        counted = evidence.ids[where] == ids
        mixed = values + np.log(network_share)
        if counted.any():
            log_z = self.search.log_total(prediction, settings.ranking)
            probability = network_share * np.exp(values[counted] - log_z)
            probability += weight * evidence.explicit[where[counted]]
            mixed[counted] = log_z + np.log(probability)
        return dict(zip(ids.tolist(), mixed.tolist()))

    def rank(
        self,
        prediction: Prediction,
        prefix: str,
        nearby: dict[str, str],
        settings: Settings,
        limit: int | None = None,
        memory: dict[str, tuple[float, str]] | None = None,
        personal: PersonalEvidence | None = None,
    ) -> list[Candidate]:
        """The best `limit` candidates for the prefix (all when None), best first.

        `memory`: {folded word: (cache probability, as written)} from the document cache
        (memory/), mixed into the scores by `mixed_scores`; `personal`: what the user's learned
        phrases say here (personal/), mixed in before it.
        """
        weights = settings.ranking
        vocab = self.vocab
        lo, hi = vocab.prefix_range(prefix)
        typed = fold(prefix)
        if typed:
            matching = {word: written for word, written in nearby.items() if word.startswith(typed)}
        else:
            matching = nearby  # every word matches; only read below
        n_words = vocab.n_words
        boosts = memory or {}
        learned = personal.candidates if personal is not None else {}
        words = [*matching, *boosts, *learned]
        known = dict(zip(words, self.word_ids(words)))
        found = np.fromiter(known.values(), dtype=np.int64, count=len(known))
        in_vocab = np.sort(found[(found >= 0) & (found < n_words)]).tolist()
        unknown_id = vocab.unknown_id
        evidence = self.ngram_evidence(prediction.key, lo, hi, settings)
        counted: list[int] = []
        if evidence is not None:
            counted = top_ids(evidence.ids, evidence.explicit, settings.ngrams.candidates)
        scores = self.search.scores(
            prediction, lo, hi, in_vocab + counted + [unknown_id], weights, settings.cache
        )
        if evidence is not None:
            scores = self.with_ngrams(prediction, scores, evidence, settings)
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
        written_forms = learned | written_forms
        outside = [
            (w, written) for w, written in written_forms.items() if not 0 <= known[w] < n_words
        ]
        outside_scores = [  # a word only the user's counts offer has no score of its own
            unknown_score + (bonus if w in matching else 0.0)
            if w in matching or w in boosts
            else -np.inf
            for w, _ in outside
        ]
        final = np.concatenate([values, np.asarray(outside_scores, dtype=np.float64)])
        if personal is not None and len(final):
            log_z = self.search.log_total(prediction, weights)
            final = personal.mixed(ids, [w for w, _ in outside], final, log_z)
        if boosts and len(final):
            from_cache = cache_probabilities(ids, outside, boosts, known)
            final = mixed_scores(final, from_cache, settings.memory)
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


def cache_probabilities(
    ids: np.ndarray,
    outside: list[tuple[str, str]],
    memory: dict[str, tuple[float, str]],
    known: dict[str, int],
) -> np.ndarray:
    """The document cache's probability of each candidate row of `rank` (0 where it has none)."""
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
