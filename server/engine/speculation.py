"""The costly part of the keystroke after a space, started while the word before it is typed.

A space typed after a word costs a recurrent step over the word (~0.5 ms; after punctuation,
one over the word and one over the punctuation) and a search of the whole vocabulary (~1.4 ms
reading the 12 MB int8 table, then ~0.3 ms rescoring its shortlist): most of that keystroke.
After a completion where a space is likely next (`space_likely`), `Speculation.start` runs the
steps and the int8 run on a worker thread (onnxruntime releases the GIL while it runs, so the
event loop goes on answering; the rescoring, which holds the GIL, is left to the keystroke).
A newer start replaces a job that has not begun. When the space comes and the context is the
job's, `take` hands over the steps and the search, waiting for a job that has begun; otherwise
the job is not used. They are the very computations the keystroke would run (same inputs, same
onnxruntime sessions), so the answers are the same, only sooner.

A space is likely after punctuation or a number, and after a word that led the ranking for its
prefix (`note_ranking`): on held-out prose that held at 96% of word ends and at 21% of the
other keystrokes inside words, so little work is thrown away. Jobs run only while the worker
gets a processor of its own (`has_spare_processor`): on a machine whose processors are all
busy, its work would take their time from the keystrokes (measured with two processors shared
with four other busy programs: p99 of the keystrokes inside words 16 -> 28 ms).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from nextword.server.engine.states import DocumentStates
from nextword.server.model.predictor import CachedStep, Network, Prediction
from nextword.server.model.search import ScanAhead, WordSearch
from nextword.server.settings import RankingWeights
from nextword.server.text.cursor import Cursor
from nextword.server.text.document import DocumentText
from nextword.server.text.tokenizer import fold
from nextword.server.text.window import Key

log = logging.getLogger(__name__)

STARVED_SHARE = 0.7
"""Jobs that ran on a processor for less than this share of their wall time, on average, were
kept waiting by other programs (`Speculation.has_spare_processor`)."""
SHARE_SMOOTHING = 0.25
"""Weight of the last job in the running average of the jobs' shares: one job kept waiting by
the interpreter's lock or the machine's scheduler (one in six on an idle machine) does not
pause them, three in a row on a busy machine do."""
PAUSE_SECONDS = 2.0
"""How long no job is started after a starved one."""
MAX_SPECULATED_STEPS = 2
"""A job steps over at most this many tokens (a word and the punctuation after it)."""


@dataclass(frozen=True)
class Outcome:
    """What a job computed: the step over the word and the search after it."""

    steps: list[tuple[np.ndarray, np.ndarray]]
    """(output, state) after each token stepped, the last the key's."""
    scan: ScanAhead


@dataclass(frozen=True)
class Job:
    key: Key
    """The context after the word: the parent's key and the word's id."""
    weights: RankingWeights
    future: Future[Outcome]


class Speculation:
    """One worker thread and the latest job given to it."""

    def __init__(
        self, network: Network, search: WordSearch, starved_share: float = STARVED_SHARE
    ) -> None:
        self.network = network
        self.search = search
        self.starved_share = starved_share
        self.job: Job | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._word_end: tuple[DocumentText, int, int, int] | None = None
        self._share: float | None = None
        """The last job's processor time over its wall time (set by the worker)."""
        self._average_share = 1.0
        self._paused_until = 0.0

    def note_ranking(self, text: DocumentText, cursor: Cursor, first: str | None) -> None:
        """Remember whether the word typed at the cursor led the ranking for its prefix (first:
        the best candidate's folded form): then the word is likely finished, and a space
        likely comes next. On the text that went on at 96% of the word ends of held-out prose
        and at 21% of the other keystrokes inside words: little work is thrown away."""
        leads = bool(cursor.prefix) and first == fold(cursor.prefix)
        self._word_end = (text, text.edits, cursor.line, cursor.column) if leads else None

    def space_likely(self, text: DocumentText, line: int, column: int) -> bool:
        """Whether a space is likely typed next at (line, column): after punctuation or a
        number, or after a word that led the last ranking, there, with no edit since
        (`note_ranking`)."""
        if not text.content(line)[column - 1].isalpha():
            return True
        noted = self._word_end
        return noted is not None and noted[0] is text and noted[1:] == (text.edits, line, column)

    def start(self, key: Key, known: int, parent: np.ndarray, weights: RankingWeights) -> bool:
        """Run the steps over key[known:] from `parent` (the state after key[:known]) and the
        search of the whole vocabulary after them; False while paused (`has_spare_processor`)."""
        job = self.job
        if job is not None:
            if job.key == key and job.weights == weights:
                return True
            job.future.cancel()  # only if it has not begun
        if not self.has_spare_processor():
            return False
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="nextword-speculation")
        future = self._executor.submit(self._run, key[known:], parent, weights)
        self.job = Job(key, weights, future)
        return True

    def has_spare_processor(self) -> bool:
        """Whether the worker got a processor while it ran lately. Jobs that got less than
        `starved_share` of their wall time (a running average) share the server's processors
        with other busy programs: then their work would delay the keystrokes, so none is
        started for PAUSE_SECONDS, and the jobs after the pause are judged afresh."""
        now, share = time.monotonic(), self._share
        self._share = None
        if share is not None:
            self._average_share += SHARE_SMOOTHING * (share - self._average_share)
            if self._average_share < self.starved_share:
                self._paused_until = now + PAUSE_SECONDS
                self._average_share = 1.0
        return now >= self._paused_until

    def _run(self, tokens: Key, state: np.ndarray, weights: RankingWeights) -> Outcome:
        wall, processor = time.perf_counter(), time.thread_time()
        steps = []
        for token_id in tokens:
            scores, state = self.network.step(token_id, state)
            steps.append((scores, state))
        outcome = Outcome(steps, self.search.scan_ahead(steps[-1][0], weights))
        self._share = (time.thread_time() - processor) / max(time.perf_counter() - wall, 1e-9)
        return outcome

    def take(self, key: Key, weights: RankingWeights) -> Outcome | None:
        """The job's outcome if it was for this context and these weights (waiting for it to
        finish if it has begun), else None."""
        job = self.job
        if job is None or job.key != key or job.weights != weights:
            return None
        self.job = None
        if job.future.cancel():  # not begun (the worker was not given the processor yet)
            return None
        try:
            return job.future.result()
        except Exception:  # onnxruntime raises its own types; the keystroke computes it itself
            log.exception("a speculative step failed")
            return None

    def take_into(
        self, states: DocumentStates, key: Key, weights: RankingWeights
    ) -> Prediction | None:
        """The prediction after `key` from the job (`take`), its states put into `states` and
        its search kept as the keystroke would have kept them; None without such a job."""
        outcome = self.take(key, weights)
        if outcome is None:
            return None
        for length, (scores, state) in enumerate(outcome.steps, len(key) - len(outcome.steps) + 1):
            entry = CachedStep(state, scores)
            states.put(key[:length], entry)
        self.search.keep_scan(key, weights, outcome.scan, entry)
        return Prediction(entry.output, len(outcome.steps), key, entry)

    def close(self) -> None:
        if self.job is not None:
            self.job.future.cancel()
            self.job = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
