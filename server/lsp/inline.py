"""Ghost text in the language server: the rollout (engine/inline.py) giving way to other work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine
from nextword.server.engine.inline import (
    InlineSuggestion,
    confident,
    inline_cursor,
    rollout,
    suggestion_from,
)


async def ghost_text(
    engine: Engine, document: DocumentState, line: int, column: int, current: Callable[[], bool]
) -> InlineSuggestion | None:
    """Ghost text at (line, column), the event loop let in after each word: a request that came
    with this one (VS Code asks for the list and the ghost text together) is answered first, and
    when `current()` turns false there (an edit, the document closed, the model replaced) the
    rollout ends with no answer, which would be for a text that is gone."""
    cursor = inline_cursor(document, line, column, engine)
    if cursor is None:
        return None
    version, settings = document.version, engine.settings.inline
    words = []
    keep = confident(settings)
    for word in rollout(engine, document, cursor, keep, settings.max_words, settings.budget_ms):
        words.append(word)
        await asyncio.sleep(0)
        if not current() or document.version != version:
            return None
    return suggestion_from(cursor, words)
