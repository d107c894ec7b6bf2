"""The server's side of learning from the user's writing (personal/): the layer attached to
the engine, the finished sentences typed in any served document, the periodic save and the
re-reading of what `nextword learn` wrote.

Sentences are learned while the user pauses (`LEARN_AFTER_SECONDS` after an edit), from the
paragraphs around the lines edited since; each sentence once per document. They are stored
every `SAVE_SECONDS`, when a document closes and at shutdown. With `learning.typing` off nothing
is learned from typing and nothing is written; with `learning.enabled` off nothing is read or
learned at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine
from nextword.server.personal.layer import PersonalLayer
from nextword.server.personal.learn import forget_everything
from nextword.server.personal.store import forget_typed
from nextword.server.text.prose import finished_sentences, prose_paragraphs
from nextword.server.text.tokenizer import SENTENCE_END, Token

log = logging.getLogger(__name__)

LEARN_AFTER_SECONDS = 1.0
"""Pause after an edit before the finished sentences around it are learned."""
TICK_SECONDS = 5.0
"""How often the server checks whether `nextword learn` changed what is learned."""
SAVE_SECONDS = 300.0
"""How often the sentences typed are stored (and at close and shutdown)."""
PARAGRAPH_LINES = 100
"""Lines read around an edited line for its paragraph, at most."""
DIRTY_LINES = 256
"""Edited lines remembered per document between pauses (beyond: the latest)."""
REMEMBERED_SENTENCES = 20_000
"""Sentences remembered per document as learned (then it starts over)."""


def sentences_of(tokens: list[Token], final: bool) -> list[list[Token]]:
    """The finished sentences of a paragraph's tokens (`final`: the last one too, if it ends
    with . ! or ?)."""
    done, rest = finished_sentences(tokens)
    if final and rest and rest[-1].kind == "punct" and rest[-1].text in SENTENCE_END:
        done, rest = tokens, []
    sentences, current = [], []
    for token in done:
        current.append(token)
        if token.kind == "punct" and token.text in SENTENCE_END:
            sentences.append(current)
            current = []
    return sentences


class Learning:
    def __init__(self, documents: dict[str, DocumentState]) -> None:
        self.documents = documents
        """The server's open documents (learned from while the user pauses)."""
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.layer: PersonalLayer | None = None
        self.engine: Engine | None = None
        self.typing = False
        self.dirty: dict[str, set[int]] = {}
        self.last_line: dict[str, int] = {}
        """The line last edited in each document: its last sentence is learned at close."""
        self.learned: dict[str, set[int]] = {}
        self.since_save = 0.0
        self.attached: tuple | None = None

    def attach(self, engine: Engine | None, workspace: str, tell: Callable[[str], None]) -> None:
        """Give the engine the layer for its bundle and this workspace (none when learning is
        off); the warnings about files set aside go to `tell`, once each. A no-op when the
        engine, workspace and settings are those attached."""
        settings = None if engine is None else engine.settings.learning
        attached = (id(engine), workspace, settings and (settings.enabled, settings.typing))
        if attached == self.attached and (engine is None or engine.personal is self.layer):
            return
        self.attached = attached
        self.save()
        self.engine, self.layer = engine, None
        self.typing = bool(settings and settings.enabled and settings.typing)
        if engine is None or settings is None or not settings.enabled:
            if engine is not None:
                engine.personal = None
            return
        layer = PersonalLayer.loaded(engine.vocab, engine.bundle.path, workspace)
        for warning in layer.warnings:
            tell(f"nextword: {warning}")
        layer.warnings.clear()
        self.layer = engine.personal = layer

    def edited(self, document: DocumentState, first: int, last: int) -> None:
        if not self.typing:
            return
        self.last_line[document.uri] = last
        lines = self.dirty.setdefault(document.uri, set())
        if len(lines) < DIRTY_LINES:
            lines.update(range(first, min(last, first + DIRTY_LINES) + 1))
        self.later("learn", LEARN_AFTER_SECONDS, self.learn_open_documents)

    def later(self, name: str, seconds: float, action: Callable[[], None]) -> None:
        """Run `action` in `seconds` on the server's loop (replacing one scheduled under that
        name); nothing without a running loop (the engine used in-process)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if (timer := self.timers.pop(name, None)) is not None:
            timer.cancel()

        def run() -> None:
            self.timers.pop(name, None)
            try:
                action()
            except Exception:  # learning must never take the server down
                log.exception("learning (%s) failed", name)

        self.timers[name] = loop.call_later(seconds, run)

    def learn_open_documents(self) -> None:
        for uri in list(self.dirty):
            document = self.documents.get(uri)
            if document is None:
                self.dirty.pop(uri, None)
            else:
                self.learn(document)

    def start(self) -> None:
        """Begin the periodic checks (`tick`)."""

        def again() -> None:
            self.tick(TICK_SECONDS)
            self.later("tick", TICK_SECONDS, again)

        self.later("tick", TICK_SECONDS, again)

    def learn(self, document: DocumentState, final: bool = False) -> int:
        """Learn the finished sentences around the lines edited since the last time (`final`:
        the document closes, so the last sentence counts too). The sentences learned."""
        lines = self.dirty.pop(document.uri, set())
        if self.layer is None or not self.typing or not lines:
            return 0
        text = document.text
        seen = self.learned.setdefault(document.uri, set())
        if len(seen) > REMEMBERED_SENTENCES:
            seen.clear()
        new: list[list[Token]] = []
        done: set[int] = set()
        for line in sorted(lines):
            if line >= len(text) or line in done or (text.fence_lines and text.in_code_fence(line)):
                continue
            first, last = line, line
            while first > 0 and line - first < PARAGRAPH_LINES and text.content(first - 1).strip():
                first -= 1
            while (
                last + 1 < len(text)
                and last - line < PARAGRAPH_LINES
                and text.content(last + 1).strip()
            ):
                last += 1
            done.update(range(first, last + 1))
            paragraph = "".join(text.lines[first : last + 1])
            ended = final or last + 1 < len(text)  # a blank line follows: the paragraph is done
            for tokens in prose_paragraphs(paragraph):
                for sentence in sentences_of(tokens, ended):
                    key = hash(tuple(token.folded for token in sentence))
                    if key not in seen:
                        seen.add(key)
                        new.append(sentence)
        if new:
            self.layer.learn_typed(new)
            self.engine_changed()
        return len(new)

    def closed(self, document: DocumentState) -> None:
        """Learn what is left of the document (its last sentence too) and store it."""
        last = self.last_line.pop(document.uri, None)
        if last is not None:
            self.edited(document, last, last)
        self.learn(document, final=True)
        self.learned.pop(document.uri, None)
        self.save()

    def tick(self, seconds: float) -> None:
        """Every TICK_SECONDS: re-read what `nextword learn` wrote if it changed; store the
        typed sentences every SAVE_SECONDS."""
        if self.layer is None:
            return
        if self.layer.refresh():
            self.engine_changed()
            for warning in self.layer.warnings:
                log.warning("%s", warning)
            self.layer.warnings.clear()
        self.since_save += seconds
        if self.since_save >= SAVE_SECONDS:
            self.save()

    def save(self) -> None:
        self.since_save = 0.0
        if self.layer is not None and self.typing:
            self.layer.save_typed()

    def shutdown(self) -> None:
        """Learn what the open documents hold still unlearned, and store it."""
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for uri, document in list(self.documents.items()):
            if uri in self.last_line:
                self.closed(document)
        self.save()

    def forget(self) -> None:
        """Drop what is loaded and this session's sentences (the caller deletes the files)."""
        self.dirty.clear()
        if self.layer is not None:
            self.layer.forget()
            self.engine_changed()

    def engine_changed(self) -> None:
        """A completion prepared before the change would not be what a fresh one gives."""
        if self.engine is not None:
            self.engine.prepared = None


def forget_learned(learning: Learning, workspace: str | None, everything: bool) -> int:
    """The `nextword.forget` command's part: the sentences typed in this workspace (every
    learned file with "all"), and what the server holds of them. The files removed."""
    learning.forget()
    if everything:
        return len(forget_everything())
    return len(forget_typed(workspace)) if workspace else 0
