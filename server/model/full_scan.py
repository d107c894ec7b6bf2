"""Exact top-k from the int8 table: the keystroke after a space, and a word's first letters.

With nothing typed of the next word the search covers every row. A float32 scan would read
49 MB for 32k words (1.8 ms with the rows in cache, memory-bound); the bundle's int8 table is a
quarter of that, and onnxruntime multiplies it by a quantised query with pre-packed int8 kernels
(graph in `full_scan.onnx`): 0.5 ms in cache, 1.2 ms on average while typing, when other work has
evicted the table between two spaces. Every row's approximate score is kept for the last few
queries, so the first letters of a word (same context, same query, a range of a few thousand
words) reuse the run of the keystroke after the space. The result stays exact:

1. approx_w = scale_w * (q' . codes_w) + w . extra_w, with q' the query quantised to uint8 steps
   of size `step`. Since |q_i - q'_i| <= step, |approx_w - score_w| <= step * l1_w, where
   l1_w = scale_w * sum |codes_w| (kept per word).
2. The `shortlist` best (of the range) by approx are rescored exactly (rows.py); the k-th best
   of those, tau, is a lower bound of the true k-th best score.
3. Any word outside the shortlist has approx <= the shortlist's last approx; if that plus the
   largest error bound is below tau, no outside word can enter the top k. Otherwise every
   word whose approx + bound reaches tau is rescored too (rare; still exact).
"""

from __future__ import annotations

import logging
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnxruntime as ort

from nextword.server.model.derived import cache_home
from nextword.server.model.rows import Int8Rows, release_pages, top_k

log = logging.getLogger(__name__)

GRAPH_PATH = Path(__file__).resolve().parent.parent / "full_scan.onnx"
SLACK = 1e-3
"""Added to every error bound for float32 rounding in the approximate and the exact scores."""
KEPT_APPROXIMATIONS = 4
"""Queries whose approximate scores are kept (128 KB each for 32k words): the context being
typed in and the one prepared after it both stay."""


def transposed_table(codes: np.ndarray) -> np.ndarray:
    """codes.T, contiguous, int8 [dim, n]: in an unnamed temporary file mapped into memory when
    one can be made, else in memory. onnxruntime reads it once, to pre-pack it into its own
    copy, and keeps a pointer to it: file-backed, its pages can leave the resident set
    (`release_pages`; 12 MB for 32k words) and come back from the file if ever read again."""
    home = cache_home()
    try:
        # The user's cache directory, where it exists, is on disk; /tmp may be in memory.
        directory = home if home.is_dir() else None
        with tempfile.TemporaryFile(dir=directory) as file:
            file.truncate(codes.size)
            table = np.memmap(file, dtype=np.int8, mode="r+", shape=codes.T.shape)
    except (OSError, ValueError) as error:
        log.info("the int8 table stays in memory (%s)", error)
        return np.ascontiguousarray(codes.T)
    table[:] = codes.T
    return table


class FullScan:
    """Top-k of rows . query over the n rows (rows.py), or over a range of them."""

    def __init__(
        self, rows: Int8Rows, session_options: ort.SessionOptions, shortlist: int = 256
    ) -> None:
        self.n, self.dim, self.shortlist = rows.n, rows.dim, shortlist
        self.rows = rows
        self.l1 = rows.l1_norms()
        self.largest_l1 = float(self.l1.max()) if self.n else 0.0
        # onnxruntime uses these buffers in place: they live as long as the session.
        transposed = transposed_table(rows.codes)
        self._initializers = {
            "codes": ort.OrtValue.ortvalue_from_numpy(transposed),
            "extra": ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(rows.extra.T)),
            "scale": ort.OrtValue.ortvalue_from_numpy(rows.scales),
        }
        for name, value in self._initializers.items():
            session_options.add_initializer(name, value)
        self.session = ort.InferenceSession(
            GRAPH_PATH.read_bytes(), session_options, providers=["CPUExecutionProvider"]
        )
        release_pages(transposed)  # pre-packed: onnxruntime reads its own copy
        release_pages(rows.codes)  # read whole above; rescoring touches a few rows
        self.fallbacks = 0
        self.runs = 0
        self._approximations: OrderedDict[bytes, tuple[np.ndarray, float]] = OrderedDict()

    def scan(self, query: np.ndarray, k: int) -> list[np.ndarray]:
        """The graph's outputs [values, ids, approx, step] for query float32 [dim + 2] and the
        k best by approximation. Touches no state of this object: a worker thread may run it
        (onnxruntime releases the GIL while it runs)."""
        return self.session.run(
            None,
            {
                "q": query[None, : self.dim],
                "w": query[None, self.dim :],
                "k": np.asarray([k], dtype=np.int64),
            },
        )

    def shortlist_size(self, k: int) -> int:
        """How many rows `search` rescores exactly for the k best."""
        return min(max(self.shortlist, k), self.n)

    def _run(self, query: np.ndarray, k: int) -> list[np.ndarray]:
        self.runs += 1
        outputs = self.scan(query, k)
        self.remember(query, outputs)
        return outputs

    def remember(self, query: np.ndarray, outputs: list[np.ndarray]) -> None:
        """Keep a run's approximations for `approximate` and range searches with the query."""
        key = np.ascontiguousarray(query, dtype=np.float32).tobytes()
        self._approximations[key] = (outputs[2][0], float(outputs[3]))
        self._approximations.move_to_end(key)
        while len(self._approximations) > KEPT_APPROXIMATIONS:
            self._approximations.popitem(last=False)

    def kept(self, query: np.ndarray) -> tuple[np.ndarray, float] | None:
        """(every row's approximate score, the query's quantisation step) if kept."""
        key = np.ascontiguousarray(query, dtype=np.float32).tobytes()
        found = self._approximations.get(key)
        if found is not None:
            self._approximations.move_to_end(key)
        return found

    def approximate(self, query: np.ndarray) -> np.ndarray:
        """Every row's approximate score, float32 [n] (each off by at most step * l1_w); a
        kept one, without a second run, when the query was scanned lately."""
        query = np.ascontiguousarray(query, dtype=np.float32)
        found = self.kept(query)
        return found[0] if found is not None else self._run(query, 1)[2][0]

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best rows for query float32 [dim + 2], best first."""
        k = min(k, self.n)
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        query = np.ascontiguousarray(query, dtype=np.float32)
        return self.finish(query, k, self._run(query, self.shortlist_size(k)))

    def finish(
        self, query: np.ndarray, k: int, outputs: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """`search`'s answer from a run of the graph for the shortlist (`shortlist_size(k)`):
        the shortlist rescored exactly, and every row that could still reach the top k."""
        values, ids, approx, step = outputs
        return self._rescored(query, k, ids[0], float(values[0, -1]), approx[0], float(step), 0)

    def search_kept(
        self, query: np.ndarray, k: int, lo: int, hi: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores, ids) of the k best rows in [lo, hi) from the query's kept approximations;
        None when none are kept (the caller scores the range itself)."""
        found = self.kept(query)
        if found is None:
            return None
        approx, step = found
        in_range = approx[lo:hi]
        size = min(max(self.shortlist, k), hi - lo)
        shortlist = np.argpartition(-in_range, size - 1)[:size] if size < hi - lo else None
        if shortlist is None:
            return top_k(np.arange(lo, hi), self.rows.exact(slice(lo, hi), query), k)
        last = float(in_range[shortlist].min())
        return self._rescored(query, k, lo + shortlist, last, in_range, step, lo)

    def _rescored(
        self, query: np.ndarray, k: int, candidates: np.ndarray, last: float,
        approx: np.ndarray, step: float, lo: int,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The top k of rows lo + [0, len(approx)): the `candidates` (the best by approximation,
        the worst of them at `last`) rescored exactly, widened to every row whose approximation
        plus its error bound reaches the k-th exact score."""
        exact = self.rows.exact(candidates, query)
        tau = float(np.partition(exact, -k)[-k])
        if len(candidates) < len(approx) and last + step * self.largest_l1 + SLACK >= tau:
            self.fallbacks += 1
            bounds = self.l1[lo : lo + len(approx)]
            reach = approx + step * bounds + SLACK >= tau
            candidates = np.union1d(candidates, lo + np.flatnonzero(reach))
            exact = self.rows.exact(candidates, query)
        return top_k(candidates, exact, k)
