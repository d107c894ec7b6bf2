"""Recurrent states and predictions, cached per document and addressed by content.

The state after reading a sequence of token ids depends only on that sequence, so the cache key
is the sequence itself (the context as the network reads it: a paragraph or continue marker and
the tokens since). An edit needs no explicit invalidation: the contexts after it change, so their
keys change, and the old entries simply stop being asked for and age out. An edit in paragraph 3
leaves paragraph 900's keys, and so its entries, untouched.

Each document has its own least-recently-used table, bounded in bytes, and all documents
together are bounded too (the least recently used entry of any document goes first). An entry's
bytes are its arrays, its key and the Python objects that hold them (`entry_bytes`), so the
bounds are what the cache costs in memory.
"""

from __future__ import annotations

from collections import OrderedDict

from nextword.server.model.predictor import CachedStep
from nextword.server.text.window import Key

ENTRY_OVERHEAD = 700
"""Bytes of the objects that hold one entry besides its arrays' data and its key's items: the
arrays' headers, the step, the key tuple and the two tables' links (measured: 20,000 entries
with 22-token keys took 4,455 bytes each, 3,584 of them float32 data)."""


def entry_bytes(key: Key, entry: CachedStep) -> int:
    return entry.nbytes + 8 * len(key) + ENTRY_OVERHEAD


class DocumentStates:
    """One document's cached steps, least recently used first."""

    def __init__(self, owner: StateCache) -> None:
        self.owner = owner
        self.entries: OrderedDict[Key, CachedStep] = OrderedDict()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: Key) -> CachedStep | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            self.owner.touch(self, key)
        return entry

    def cached_length(self, key: Key, most_missing: int) -> int:
        """The length of the longest prefix of `key` cached (the key itself included), looking
        no further back than `most_missing` tokens short of it; 0: none."""
        for length in range(len(key), max(len(key) - most_missing, 1) - 1, -1):
            if key[:length] in self.entries:
                return length
        return 0

    def put(self, key: Key, entry: CachedStep) -> None:
        if key in self.entries:
            self._drop(key)
        self.entries[key] = entry
        size = entry_bytes(key, entry)
        self.nbytes += size
        self.owner.added(self, key, size)
        while self.nbytes > self.owner.document_bytes and len(self.entries) > 1:
            oldest = next(iter(self.entries))
            self._drop(oldest)

    def _drop(self, key: Key) -> None:
        size = entry_bytes(key, self.entries.pop(key))
        self.nbytes -= size
        self.owner.removed(self, key, size)

    def clear(self) -> None:
        for key in list(self.entries):
            self._drop(key)


class StateCache:
    """All documents' cached steps, with a global byte budget."""

    def __init__(self, document_bytes: int, total_bytes: int) -> None:
        self.document_bytes = document_bytes
        self.total_bytes = total_bytes
        self.nbytes = 0
        self._order: OrderedDict[tuple[int, Key], DocumentStates] = OrderedDict()

    def new_document(self) -> DocumentStates:
        return DocumentStates(self)

    def touch(self, states: DocumentStates, key: Key) -> None:
        self._order.move_to_end((id(states), key))

    def added(self, states: DocumentStates, key: Key, nbytes: int) -> None:
        self._order[(id(states), key)] = states
        self.nbytes += nbytes
        while self.nbytes > self.total_bytes and len(self._order) > 1:
            (_, oldest_key), owner = next(iter(self._order.items()))
            owner._drop(oldest_key)

    def removed(self, states: DocumentStates, key: Key, nbytes: int) -> None:
        del self._order[(id(states), key)]
        self.nbytes -= nbytes

    def __len__(self) -> int:
        return len(self._order)
