"""The word tokenizer shared by training and serving.

Training (`nextword.exporter`) and the server import this one module, so the text the network
was trained on and the text it reads in the editor are split the same way.

Tokens are words (letters with inner apostrophes or hyphens: "don't", "well-known"), numbers
("1,000", "3.14"), single punctuation characters, and paragraph breaks (a blank line). Spaces
are dropped. Every token keeps its character span in the source text so the server can map a
cursor back to it.

The model sees the *folded* form: NFC-normalised, case-folded, curly apostrophes made straight.
Numbers fold to one symbol, because the network should learn "a number goes here", not digits.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["word", "number", "punct", "paragraph"]

TOKENIZER_VERSION = 1

NUMBER_SYMBOL = "<num>"
PARAGRAPH_SYMBOL = "<p>"
"""Fed to the network where a paragraph starts: the context resets there."""
CONTINUE_SYMBOL = "<cont>"
"""Fed to the network where a context window restarts inside a paragraph."""
UNKNOWN_SYMBOL = "<unk>"

# Letters, plus the combining marks that decomposed (NFD) text puts after them.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_LETTER = rf"(?:[^\W\d_]|[{_MARKS}])"
_WORD = rf"{_LETTER}+(?:['\u2019\-]{_LETTER}+)*"
_NUMBER = r"\d+(?:[.,:]\d+)*"
_TOKEN_RE = re.compile(
    rf"(?P<word>{_WORD})"
    rf"|(?P<number>{_NUMBER})"
    r"|(?P<paragraph>\n[^\S\n]*(?:\n[^\S\n]*)+)"
    r"|(?P<space>\s+)"
    r"|(?P<punct>.)",
    re.DOTALL,
)
_WORD_RE = re.compile(rf"{_WORD}\Z")
_PARTIAL_WORD_RE = re.compile(rf"{_LETTER}+(?:['\u2019\-]{_LETTER}*)*\Z")

_AFTER_EVERY_CHAR = "\U0010ffff"
SENTENCE_END = frozenset(".!?")
SENTENCE_OPENERS = frozenset("\"'“‘«([{")
"""Tokens a sentence may start with before its first word (opening quotes and brackets)."""


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int
    kind: TokenKind

    @property
    def folded(self) -> str:
        return fold_token(self.text, self.kind)


def fold(text: str) -> str:
    """The case-insensitive form words are compared and looked up by."""
    return unicodedata.normalize("NFC", text).casefold().replace("\u2019", "'")


def fold_token(text: str, kind: TokenKind) -> str:
    if kind == "word":
        return fold(text)
    if kind == "number":
        return NUMBER_SYMBOL
    if kind == "paragraph":
        return PARAGRAPH_SYMBOL
    return text


def iter_tokens(text: str, start: int = 0, end: int | None = None) -> Iterator[Token]:
    """Tokens of text[start:end], with spans in `text`'s coordinates (spaces dropped)."""
    for match in _TOKEN_RE.finditer(text, start, len(text) if end is None else end):
        kind = match.lastgroup
        if kind == "space":
            continue
        yield Token(match.group(), match.start(), match.end(), kind)  # type: ignore[arg-type]


def tokenize(text: str) -> list[Token]:
    return list(iter_tokens(text))


def is_word(text: str) -> bool:
    """True if `text` is exactly one word token."""
    return bool(_WORD_RE.match(text))


def word_prefix_at(line: str, column: int) -> tuple[int, str]:
    """Split a line at the cursor into (start of the word being typed, typed part of it).

    `column` is a Python string index. Returns (column, "") when the cursor does not follow a
    partly typed word. A trailing apostrophe or hyphen stays in the prefix ("don'" is a prefix of
    "don't").
    """
    left = line[:column]
    start = column
    # Walk back over letters, marks, and inner apostrophes/hyphens.
    while start > 0:
        char = left[start - 1]
        is_letter = char.isalpha() or unicodedata.category(char).startswith("M")
        inner_joiner = char in "'\u2019-" and start > 1 and left[start - 2].isalpha()
        if not (is_letter or inner_joiner):
            break
        start -= 1
    prefix = left[start:]
    if prefix and not _PARTIAL_WORD_RE.match(prefix):
        return column, ""
    return start, prefix


def paragraph_units(tokens: list[Token]) -> Iterator[list[Token]]:
    """Split a token list at paragraph breaks, dropping the break tokens."""
    current: list[Token] = []
    for token in tokens:
        if token.kind == "paragraph":
            if current:
                yield current
            current = []
        else:
            current.append(token)
    if current:
        yield current


def folded_prefix_range(
    words: list[str], typed: str, lo: int = 0, hi: int | None = None
) -> tuple[int, int]:
    """The range [start, stop) of the sorted `words[lo:hi]` that start with `typed` (both
    folded)."""
    hi = len(words) if hi is None else hi
    start = bisect.bisect_left(words, typed, lo, hi)
    return start, bisect.bisect_left(words, typed + _AFTER_EVERY_CHAR, start, hi)
