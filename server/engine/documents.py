"""Open documents as the engine keeps them: text, version, language, and typed caches.

Only the `cached_documents` most recently used documents keep their caches (`RecentDocuments`):
an older one's are dropped and rebuilt from its text, on demand, when it is used again.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from nextword.server.engine.states import DocumentStates
from nextword.server.memory.document import DocumentMemory
from nextword.server.text.document import DocumentText

log = logging.getLogger(__name__)


@dataclass
class DocumentCaches:
    """What the engine derives from one document's text and may drop at any time."""

    states: DocumentStates | None = None
    """The network's states, keyed by context (states.py)."""
    memory: DocumentMemory | None = None
    """The document cache of its own words (memory/)."""
    around: tuple[tuple, dict[str, str]] | None = None
    """(what they depend on, the words of the lines around the cursor's)."""


@dataclass
class DocumentState:
    """One open document: its text, version and language, and the engine's caches of it."""

    uri: str
    text: DocumentText
    language_id: str = "plaintext"
    version: int = 0
    caches: DocumentCaches = field(default_factory=DocumentCaches)

    @classmethod
    def open(
        cls, uri: str, text: str, language_id: str = "plaintext", version: int = 0
    ) -> DocumentState:
        return cls(uri, DocumentText.from_text(text), language_id, version)

    @property
    def source(self) -> str:
        return self.text.text

    def edit(self, start: tuple[int, int], end: tuple[int, int], new_text: str) -> None:
        """Apply one edit given in code point (line, column) positions."""
        self.text.replace(start, end, new_text)


class RecentDocuments:
    """The documents that hold caches, least recently used first, at most `limit` of them.

    Holds weak references: a closed document is not kept alive by being listed here.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._order: OrderedDict[str, weakref.ref[DocumentState]] = OrderedDict()
        self.dropped = False
        """Caches were forgotten since this was last reset (lsp/ahead.py then frees memory)."""

    def __len__(self) -> int:
        return len(self._order)

    def touch(self, document: DocumentState, forget: Callable[[DocumentState], None]) -> None:
        """Mark `document` used now; `forget` the caches of those that fall off the end."""
        uri = document.uri
        listed = self._order.get(uri)
        if listed is not None:
            previous = listed()
            if previous is document:
                self._order.move_to_end(uri)
                return
            if previous is not None:  # reopened under the same URI: the old one is stale
                forget(previous)
                self.dropped = True
        self._order[uri] = weakref.ref(document)
        self._order.move_to_end(uri)
        while len(self._order) > self.limit:
            _, oldest = self._order.popitem(last=False)
            stale = oldest()
            if stale is not None:
                log.debug("dropping the caches of %s (not used recently)", stale.uri)
                forget(stale)
                self.dropped = True
