"""What a completion request returns, and a completion computed ahead, while the user paused."""

from __future__ import annotations

from dataclasses import dataclass

from nextword.server.memory.document import MemoryState
from nextword.server.settings import Settings
from nextword.server.text.document import DocumentText


@dataclass(frozen=True)
class Completion:
    text: str
    """The word to insert, case restored; it replaces line[word_start:column]."""
    score: float
    line: int
    word_start: int
    column: int
    in_vocabulary: bool


@dataclass(frozen=True)
class PreparedSpace:
    """A completion computed while the user paused, for the text with one more space typed
    (`Engine.prepare_next_word`). It answers a request when the document has that text: one
    edit since, to the same line, which now reads as the prepared one (every other line is
    untouched), with the same settings."""

    text: DocumentText
    """The document's text when prepared (the object, which edits change in place)."""
    edits: int
    last_edit: tuple[int, int, int] | None
    """`text.edits` and `text.last_edit` once the space is typed."""
    line: str
    """The edited line once the space is typed."""
    position: tuple[int, int]
    settings: Settings
    completions: list[Completion]
    memory: MemoryState | None
    """The document cache's blocks for that text, adopted when the completion is used."""

    def answers(self, text: DocumentText, line: int, column: int, settings: Settings) -> bool:
        return (
            text is self.text
            and settings is self.settings
            and text.edits == self.edits
            and text.last_edit == self.last_edit
            and text.clamp(line, column) == self.position
            and text.lines[self.position[0]] == self.line
        )
