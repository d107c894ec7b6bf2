"""The words' search rows, kept in the precision the bundle ships them in.

Row w is [e_w; b_w; log frequency_w]: the unit-length target vector (int8 codes times one float32
scale per word), the word's bias and its log prior. A query [similarity * q; similarity; prior]
scores a word by one inner product with its row (model/search.py). The codes stay int8 (the
bundle's array, memory-mapped): float32 values exist only for the words being scored, a chunk at
a time, so the 32k-word table costs 12 MB, not the 49 MB of a float32 copy.
"""

from __future__ import annotations

import mmap

import numpy as np

CHUNK_ROWS = 4096
"""Rows converted to float32 at once when many are scored (6 MB for 384 dimensions)."""


def release_pages(array: np.ndarray) -> None:
    """Let the kernel drop the resident pages of a memory-mapped array (read back from its file
    when touched again): a pass over a whole table leaves none behind."""
    mapping = getattr(array, "_mmap", None)
    if mapping is None and isinstance(array.base, np.memmap):
        mapping = getattr(array.base, "_mmap", None)
    if isinstance(mapping, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


class Int8Rows:
    """codes int8 [n, dim] (may be memory-mapped), scales float32 [n] (row = codes * scale, unit
    length) and extra float32 [n, 2] (bias, log prior)."""

    def __init__(self, codes: np.ndarray, scales: np.ndarray, extra: np.ndarray) -> None:
        n, dim = codes.shape
        if scales.shape != (n,) or extra.shape != (n, 2):
            raise ValueError("rows: codes, scales and extra columns disagree")
        self.codes = codes
        self.scales = np.ascontiguousarray(scales, dtype=np.float32)
        self.extra = np.ascontiguousarray(extra, dtype=np.float32)
        self.n, self.dim = n, dim

    def vectors(self, ids: np.ndarray | slice) -> np.ndarray:
        """The target vectors e_w of `ids`, float32 [len, dim]."""
        return self.codes[ids].astype(np.float32) * self.scales[ids, None]

    def rows(self, ids: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Whole rows [e_w; b_w; log frequency_w] of `ids`, float32 [len, dim + 2]."""
        return np.hstack([self.vectors(ids), self.extra[ids]])

    def exact(self, ids: np.ndarray | slice, query: np.ndarray) -> np.ndarray:
        """Each row's score, float32 [len(ids)]: e_w . q + [b_w, prior_w] . the two extras."""
        dots = self.codes[ids].astype(np.float32) @ query[: self.dim]
        return dots * self.scales[ids] + self.extra[ids] @ query[self.dim :]

    def exact_range(self, lo: int, hi: int, query: np.ndarray) -> np.ndarray:
        """The scores of rows [lo, hi), float32, a chunk of rows at a time."""
        scores = np.empty(max(hi - lo, 0), np.float32)
        for start in range(lo, hi, CHUNK_ROWS):
            end = min(start + CHUNK_ROWS, hi)
            scores[start - lo : end - lo] = self.exact(slice(start, end), query)
        return scores

    def l1_norms(self) -> np.ndarray:
        """scale_w * sum |codes_w| per row, float32 [n] (the int8 scan's error bound)."""
        norms = np.empty(self.n, np.float32)
        for start in range(0, self.n, CHUNK_ROWS):
            end = min(start + CHUNK_ROWS, self.n)
            sums = np.abs(self.codes[start:end].astype(np.int16)).sum(axis=1)
            norms[start:end] = sums * self.scales[start:end]
        return norms


def top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the k best, best first, ties by id."""
    if k < len(scores):  # the k best and every row tied with the k-th
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        best = np.flatnonzero(scores >= kth)
        ids, scores = ids[best], scores[best]
    order = np.lexsort((ids, -scores))[:k]
    return scores[order], ids[order].astype(np.int64)
