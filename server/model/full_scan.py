"""Exact top-k over the whole vocabulary from the int8 table: the keystroke after a space.

With nothing typed of the next word the search covers every row. faiss's float32 scan reads
49 MB for 32k words (1.8 ms with the rows in cache, memory-bound); the bundle's int8 table is a
quarter of that, and onnxruntime multiplies it by a quantised query with pre-packed int8 kernels
(graph in `full_scan.onnx`): 0.5 ms in cache, 1.2 ms on average while typing, when other work has
evicted the table between two spaces. The result stays exact:

1. approx_w = scale_w * (q' . codes_w) + w . extra_w, with q' the query quantised to uint8 steps
   of size `step`. Since |q_i - q'_i| <= step, |approx_w - score_w| <= step * l1_w, where
   l1_w = scale_w * sum |codes_w| (kept per word).
2. The `shortlist` best by approx are rescored exactly in float32 against faiss's own rows;
   the k-th best of those, tau, is a lower bound of the true k-th best score.
3. Any word outside the shortlist has approx <= the shortlist's last approx; if that plus the
   largest error bound is below tau, no outside word can enter the top k. Otherwise every
   word whose approx + bound reaches tau is rescored too (rare; still exact).
"""

from __future__ import annotations

import logging
import mmap
import os
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

GRAPH_PATH = Path(__file__).resolve().parent.parent / "full_scan.onnx"
SLACK = 1e-3
"""Added to every error bound for float32 rounding in the approximate and the exact scores."""


def transposed_table(codes: np.ndarray) -> np.ndarray:
    """codes.T, contiguous, int8 [dim, n]: in an unnamed temporary file mapped into memory when
    one can be made, else in memory. onnxruntime reads it once, to pre-pack it into its own
    copy, and keeps a pointer to it: file-backed, its pages can leave the resident set
    (`release_pages`; 12 MB for 32k words) and come back from the file if ever read again."""
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    try:
        # The user's cache directory, where it exists, is on disk; /tmp may be in memory.
        directory = cache_home if cache_home.is_dir() else None
        with tempfile.TemporaryFile(dir=directory) as file:
            file.truncate(codes.size)
            table = np.memmap(file, dtype=np.int8, mode="r+", shape=codes.T.shape)
    except (OSError, ValueError) as error:
        log.info("the int8 table stays in memory (%s)", error)
        return np.ascontiguousarray(codes.T)
    table[:] = codes.T
    return table


def release_pages(array: np.ndarray) -> None:
    """Let the kernel drop the resident pages of a memory-mapped array (read back from its file
    when touched again)."""
    mapping = getattr(array, "_mmap", None)
    if isinstance(mapping, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


class FullScan:
    """Top-k of rows . query over all n rows, rows = [codes * scale, extra columns]."""

    def __init__(
        self,
        codes: np.ndarray,
        scales: np.ndarray,
        rows: np.ndarray,
        session_options: ort.SessionOptions,
        shortlist: int = 256,
    ) -> None:
        """codes int8 [n, dim], scales float32 [n], rows float32 [n, dim + 2]: the exact rows
        (faiss's storage), whose two last columns are the extra ones; used for rescoring."""
        n, dim = codes.shape
        if rows.shape != (n, dim + 2) or scales.shape != (n,):
            raise ValueError("full scan: table, scales and rows disagree")
        self.n, self.dim, self.shortlist = n, dim, shortlist
        self.rows = rows
        self.l1 = (np.abs(codes.astype(np.int16)).sum(axis=1) * scales).astype(np.float32)
        self.largest_l1 = float(self.l1.max()) if n else 0.0
        # onnxruntime uses these buffers in place: they live as long as the session.
        transposed = transposed_table(codes)
        self._initializers = {
            "codes": ort.OrtValue.ortvalue_from_numpy(transposed),
            "extra": ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(rows[:, dim:].T)),
            "scale": ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(scales, np.float32)),
        }
        for name, value in self._initializers.items():
            session_options.add_initializer(name, value)
        self.session = ort.InferenceSession(
            GRAPH_PATH.read_bytes(), session_options, providers=["CPUExecutionProvider"]
        )
        release_pages(transposed)  # pre-packed: onnxruntime reads its own copy
        self.fallbacks = 0
        self._last: tuple[bytes, np.ndarray] | None = None  # (query, approx) of the last run

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
        outputs = self.scan(query, k)
        self.remember(query, outputs)
        return outputs

    def remember(self, query: np.ndarray, outputs: list[np.ndarray]) -> None:
        """Keep a run's approximations for `approximate` with the same query."""
        self._last = (query.tobytes(), outputs[2][0])

    def approximate(self, query: np.ndarray) -> np.ndarray:
        """Every row's approximate score, float32 [n] (each off by at most step * l1_w); the
        last search's, without a second run, when it was for the same query."""
        query = np.ascontiguousarray(query, dtype=np.float32)
        last = self._last
        if last is None or last[0] != query.tobytes():
            return self._run(query, 1)[2][0]
        return last[1]

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
        candidates = ids[0]
        exact = self.rows[candidates] @ query
        tau = float(np.partition(exact, -k)[-k])
        bound = float(step) * self.largest_l1 + SLACK
        if len(candidates) < self.n and float(values[0, -1]) + bound >= tau:
            self.fallbacks += 1
            reach = approx[0] + float(step) * self.l1 + SLACK >= tau
            candidates = np.union1d(candidates, np.flatnonzero(reach))
            exact = self.rows[candidates] @ query
        order = np.lexsort((candidates, -exact))[:k]
        return exact[order], candidates[order].astype(np.int64)
