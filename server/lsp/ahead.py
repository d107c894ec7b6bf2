"""Work done for the next keystroke between keystrokes: right after a completion is answered,
the steps and the search a space there will need (`Engine.speculate`, on the engine's worker
thread); while the user pauses (no edit for `PREPARE_AFTER_SECONDS`), the whole completion
after that space (`Engine.prepare_next_word`), then the memory of caches dropped since is given
back to the system (engine/heap.py). An edit cancels what has not started."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine
from nextword.server.engine.heap import release_free_memory

log = logging.getLogger(__name__)

PREPARE_AFTER_SECONDS = 0.01
"""Idle time after a completion before the next word is prepared: longer than the gaps between
an editor's messages for one keystroke, shorter than the gap between two keystrokes."""


class WorkAhead:
    """The scheduled work of the server's open documents (at most one of each kind)."""

    def __init__(
        self, documents: dict[str, DocumentState], engine: Callable[[], Engine | None]
    ) -> None:
        self.documents = documents
        self.engine = engine
        self.speculation: asyncio.Handle | None = None
        self.preparation: asyncio.TimerHandle | None = None

    def schedule(self, document: DocumentState, line: int, column: int) -> None:
        """After a completion at (line, column): speculate once the answer is sent, prepare
        if no edit comes for a while."""
        self.cancel()
        loop, at = asyncio.get_running_loop(), (document, document.version, line, column)
        self.speculation = loop.call_soon(self._run, Engine.speculate, *at)
        self.preparation = loop.call_later(
            PREPARE_AFTER_SECONDS, self._run, Engine.prepare_next_word, *at
        )

    def cancel(self) -> None:
        for handle in filter(None, (self.speculation, self.preparation)):
            handle.cancel()
        self.speculation = self.preparation = None

    def _run(self, work: Callable[..., bool], document: DocumentState, *at: int) -> None:
        """Run `work` for the document at `at` = (version, line, column), if it is still open
        at that version."""
        version, line, column = at
        engine = self.engine()
        if engine is None or self.documents.get(document.uri) is not document:
            return
        try:
            if document.version == version:
                work(engine, document, line, column)
        except Exception:  # a failed preparation costs only the speed-up
            log.exception("%s at %s %d:%d failed", work.__name__, document.uri, line, column)
        if work is Engine.prepare_next_word and engine.recent.dropped:
            engine.recent.dropped = False
            release_free_memory()
