"""What the document caches share: the other documents' blocks and the stored block (both off by
default), and one spare buffer for the next stable block's vectors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nextword.server.memory.blocks import MemoryBlock


class SharedBlocks:
    """The last block of every open document (used only with `workspace` on), and the block
    loaded from the persisted store (used only with `persist` on)."""

    def __init__(self) -> None:
        self.documents: dict[str, list[MemoryBlock]] = {}
        self.persisted: MemoryBlock | None = None
        self.store: Path | None = None
        """The file `persisted` came from and is written back to (persist.py)."""

    def others(self, uri: str) -> list[MemoryBlock]:
        names = sorted(name for name in self.documents if name != uri)
        return [block for name in names for block in self.documents[name]]

    def drop(self, uri: str) -> None:
        self.documents.pop(uri, None)


class SpareRows:
    """A buffer for the next stable block's vectors, handed on by the block it replaces.

    With a full window a document's stable block (2,000 rows, 3 MB) is rebuilt every ~50 words.
    A freshly allocated buffer for it cost ~700 page faults, 2-10 ms of one keystroke on this
    project's VMs; pages written before cost none. One buffer serves every document: a block
    gives its buffer back as it is replaced, and the next rebuild, in any document, writes into
    it."""

    ROWS_ROUNDED_TO = 512

    def __init__(self) -> None:
        self.buffer: np.ndarray | None = None

    def _fits(self, rows: int, dim: int) -> bool:
        """The spare holds `rows` rows, and not more than twice the bytes they need (a small
        document's block does not keep a large buffer)."""
        buffer = self.buffer
        capacity = self._capacity(rows)
        return buffer is not None and buffer.shape[1] == dim and rows <= len(buffer) <= 2 * capacity

    def _capacity(self, rows: int) -> int:
        return -(-max(rows, 1) // self.ROWS_ROUNDED_TO) * self.ROWS_ROUNDED_TO

    def take(self, rows: int, dim: int) -> np.ndarray:
        """A buffer of at least `rows` rows: the spare when it fits, else a new one."""
        if not self._fits(rows, dim):
            return np.empty((self._capacity(rows), dim), np.float32)
        buffer, self.buffer = self.buffer, None
        assert buffer is not None
        return buffer

    def ready(self, rows: int, dim: int) -> None:
        """Have a spare that fits `rows` rows, its pages there (written once), so that the next
        rebuild faults none."""
        if not self._fits(rows, dim):
            self.buffer = np.zeros((self._capacity(rows), dim), np.float32)
            self.buffer.fill(0.0)  # np.zeros may leave the pages to be faulted on first write

    def give_back(self, block: MemoryBlock) -> None:
        """`block` is used by no one any more: its vectors' buffer may be overwritten."""
        buffer = block.vectors if block.vectors.base is None else block.vectors.base
        if not isinstance(buffer, np.ndarray) or buffer.ndim != 2 or buffer.dtype != np.float32:
            return
        if self.buffer is None or buffer.shape[0] > self.buffer.shape[0]:
            self.buffer = buffer
