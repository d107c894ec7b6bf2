"""What the text says at the cursor: whether to complete, the typed prefix, and the context.

Everything here is a deterministic function of (text, cursor) that reads a bounded amount of
text, so its cost does not grow with the document:

- the paragraph before the cursor is read back to the last blank line, but at most
  `ContextLimits.lookback_lines` lines and `lookback_chars` characters; a single line longer than
  that is read from a point on a grid of its columns, so the cut stays put while typing;
- the words near the cursor (for the ranking's document bonus) come from a window of lines.

Lines are tokenized one at a time and the results cached by line text: no token spans a line
end (a blank line is a paragraph break and ends the look-back), so the tokens of a paragraph are
the concatenation of its lines' tokens.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from nextword.server.settings import ContextLimits
from nextword.server.text.document import PIECE_CHARS, DocumentText, piece_ends
from nextword.server.text.tokenizer import (
    PARAGRAPH_SYMBOL,
    SENTENCE_END,
    SENTENCE_OPENERS,
    iter_tokens,
    word_prefix_at,
)

_CLOSERS = frozenset(",.;:!?)]}…»”’")
_QUOTES = frozenset("\"'")
_JOINERS = "'\u2019-"
_LONGEST_WORD = 128
_SPACE = re.compile(r"\s")


class Suppressed(Enum):
    """Why no completion makes sense at a cursor; the value says it to the user."""

    INSIDE_WORD = "inside a word"
    AFTER_NUMBER = "after a number"
    AFTER_PUNCTUATION = "right after punctuation"
    IN_CODE_BLOCK = "in a code block"
    IN_INLINE_CODE = "in inline code"
    IN_ADDRESS = "in a URL or address"


@dataclass(frozen=True)
class LineTokens:
    folded: tuple[str, ...]
    """Every token's folded form, as the network reads it."""
    words: tuple[tuple[str, str], ...]
    """(folded, as written) for each word token."""


def tokenize_line(text: str) -> LineTokens:
    folded: list[str] = []
    words: list[tuple[str, str]] = []
    for token in iter_tokens(text):
        folded.append(token.folded)
        if token.kind == "word":
            words.append((folded[-1], token.text))
    return LineTokens(tuple(folded), tuple(words))


line_tokens = lru_cache(maxsize=1 << 11)(tokenize_line)
"""`tokenize_line` cached by text: for whole lines and for pieces of the cursor's line.
Bounded by count (a line is at most `lookback_chars` long here): 2,048 lines are ~8 cursors'
look-backs; 65,536 grew the server by 260 MB when completing all over a 1M-word document."""


@dataclass(frozen=True)
class Cursor:
    """A cursor where a completion makes sense."""

    line: int
    word_start: int
    """Column where the typed part of the word starts (== column when nothing is typed)."""
    column: int
    prefix: str
    tokens: tuple[str, ...]
    """Folded tokens of the paragraph before the word (bounded look-back)."""
    truncated: bool = False
    """The look-back limits cut the paragraph: `tokens` do not start at its start."""

    @property
    def previous_token(self) -> str:
        """The folded token before the word (the paragraph symbol at a paragraph start)."""
        return self.tokens[-1] if self.tokens else PARAGRAPH_SYMBOL

    @property
    def sentence_start(self) -> bool:
        """At a paragraph start or after . ! ? (skipping opening quotes and brackets)."""
        for token in reversed(self.tokens):
            if token not in SENTENCE_OPENERS:
                return token in SENTENCE_END
        return True


def _is_letter(char: str) -> bool:
    return char.isalpha() or unicodedata.category(char).startswith("M")


def _inside_word(content: str, column: int) -> bool:
    """The cursor has word characters right after it: it is not at the end of a word."""
    if column >= len(content):
        return False
    after = content[column]
    if after.isalnum() or unicodedata.category(after).startswith("M"):
        return True
    return after in _JOINERS and column + 1 < len(content) and _is_letter(content[column + 1])


def word_at(content: str, column: int) -> tuple[int, str]:
    """`word_prefix_at`, reading at most `_LONGEST_WORD` characters back (no word is longer)."""
    offset = max(0, column - _LONGEST_WORD)
    start, prefix = word_prefix_at(content[offset:column], column - offset)
    return start + offset, prefix


def is_address(chunk: str) -> bool:
    """A run of non-space characters that is (the start of) a URL or an e-mail address."""
    return "://" in chunk or chunk.lower().startswith("www.") or "@" in chunk


def _in_url_or_address(content: str, column: int) -> bool:
    chunk_start = max(content.rfind(" ", 0, column), content.rfind("\t", 0, column)) + 1
    return is_address(content[chunk_start:column])


def _in_inline_code(content: str, column: int) -> bool:
    return content.count("`", 0, column) % 2 == 1


def _closes(content: str, index: int) -> bool:
    """content[index] ends what comes before it: closing punctuation, or a straight quote that
    follows a word or a sentence's end ("priority"| or Taxation."| but not to "|)."""
    char = content[index]
    if char in _CLOSERS:
        return True
    return (
        char in _QUOTES
        and index > 0
        and (content[index - 1].isalnum() or content[index - 1] in _CLOSERS)
    )


def suppressed(text: DocumentText, line: int, column: int) -> Suppressed | None:
    """Why no completion makes sense at the cursor, or None when one does."""
    content = text.content(line)
    if _inside_word(content, column):
        return Suppressed.INSIDE_WORD
    word_start, _ = word_at(content, column)
    if word_start > 0 and content[word_start - 1].isdigit():
        return Suppressed.AFTER_NUMBER
    if word_start == column and column > 0 and _closes(content, column - 1):
        return Suppressed.AFTER_PUNCTUATION  # a word inserted here would lack its space
    if text.fence_lines and text.in_code_fence(line):
        return Suppressed.IN_CODE_BLOCK
    if _in_inline_code(content, word_start):
        return Suppressed.IN_INLINE_CODE
    if _in_url_or_address(content, column):
        return Suppressed.IN_ADDRESS
    return None


def _line_cut(content: str, end: int, budget: int) -> int:
    """Where to start reading a line that is longer than the look-back budget.

    A point on a grid of a quarter of the budget, so it stays put while the user types on.
    """
    if end <= budget:
        return 0
    grid = max(1, budget // 4)
    return ((end - budget) // grid) * grid


def span_tokens(content: str, start: int, end: int, size: int = PIECE_CHARS) -> list[LineTokens]:
    """The tokens of content[start:end], piece by piece (`piece_ends`: the pieces before the
    last one come from the cache while the user types at `end`)."""
    pieces = []
    for piece_end in piece_ends(content, start, end, size):
        if piece_end > start:
            pieces.append(line_tokens(content[start:piece_end]))
        start = piece_end
    return pieces


def paragraph_tokens(
    text: DocumentText, line: int, word_start: int, limits: ContextLimits
) -> tuple[list[str], bool]:
    """Folded tokens from the paragraph start to `word_start` on `line`, and whether the
    look-back limits cut the paragraph short."""
    content = text.content(line)
    cut = _line_cut(content, word_start, limits.lookback_chars)
    parts = [piece.folded for piece in reversed(span_tokens(content, cut, word_start))]
    budget = limits.lookback_chars - (word_start - cut)
    number = line - 1
    truncated = cut > 0
    while not truncated and number >= 0:
        previous = text.content(number)
        if not previous.strip():
            break
        if len(previous) > budget or line - number > limits.lookback_lines:
            truncated = True
            break
        parts.append(line_tokens(previous).folded)
        budget -= len(previous)
        number -= 1
    return [token for part in reversed(parts) for token in part], truncated


def analyse_cursor(
    text: DocumentText, line: int, column: int, limits: ContextLimits
) -> Cursor | None:
    """The cursor's prefix and context, or None where no completion makes sense."""
    line, column = text.clamp(line, column)
    if suppressed(text, line, column) is not None:
        return None
    word_start, prefix = word_at(text.content(line), column)
    tokens, truncated = paragraph_tokens(text, line, word_start, limits)
    return Cursor(line, word_start, column, prefix, tuple(tokens), truncated)


def nearby_words(
    text: DocumentText, cursor: Cursor, limits: ContextLimits, around: dict[str, str]
) -> dict[str, str]:
    """Words written near the cursor, {folded: as first written}, nearest lines first.

    The word being typed is left out (its typed part is not a word of the document). `around`:
    `words_around` the cursor's line (`Engine.words_around` keeps it between keystrokes).
    """
    found: dict[str, str] = {}
    content = text.content(cursor.line)
    cut = _line_cut(content, cursor.word_start, limits.lookback_chars)
    space_after = _SPACE.search(content, cursor.column + limits.lookback_chars)
    after_end = len(content) if space_after is None else space_after.start()
    pieces = span_tokens(content, cut, cursor.word_start)
    pieces += span_tokens(content, cursor.column, after_end)
    for piece in pieces:
        for folded, written in piece.words:
            found.setdefault(folded, written)
    for folded, written in around.items():
        found.setdefault(folded, written)
    return found


def words_around(text: DocumentText, line: int, limits: ContextLimits) -> dict[str, str]:
    """The words of the lines near `line` (not of `line` itself), {folded: as first written},
    nearest lines first."""
    found: dict[str, str] = {}
    lines: list[str] = []
    for distance in range(1, max(limits.window_lines_before, limits.window_lines_after) + 1):
        if distance <= limits.window_lines_before and line - distance >= 0:
            lines.append(text.content(line - distance))
        if distance <= limits.window_lines_after and line + distance < len(text):
            lines.append(text.content(line + distance))
    for line_text in lines:
        if len(line_text) > limits.lookback_chars:
            continue
        for folded, written in line_tokens(line_text).words:
            found.setdefault(folded, written)
    return found
