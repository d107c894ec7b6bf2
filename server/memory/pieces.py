"""The document cache's window, as pieces of lines.

The window is the text before the word being typed, back to at most `max_lines` lines and
`max_pairs` words, split into pieces (a line, or a ~256-character slice of a long line cut at
whitespace, so the pieces before the cursor do not change while typing). It starts at an anchor
(a paragraph start, or a grid of lines and pieces), so that its start, and with it the contexts
in a paragraph longer than the look-back, stay put.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from nextword.server.settings import MemorySettings
from nextword.server.text.cursor import Cursor
from nextword.server.text.document import DocumentText, piece_ends
from nextword.server.text.tokenizer import iter_tokens

_ANCHOR_LINES = 32
_ANCHOR_PIECES = 8


@dataclass(frozen=True)
class Piece:
    line: int
    start: int
    end: int


PieceTokens = tuple[tuple[str, str | None], ...]
_last_piece: list[tuple[str, PieceTokens]] = [("", ())]
"""The last piece tokenized: the cursor's piece, one word shorter, when a word was typed."""


@lru_cache(maxsize=1 << 12)  # bounded: 16k pieces grew a server jumping around by ~50 MB
def piece_tokens(text: str) -> PieceTokens:
    """(folded, as written for words else None) for every token of a piece."""
    last_text, last_tokens = _last_piece[0]
    # Without line feeds (paragraph breaks, which take in the spaces around them), no token
    # spans a space or tab: text cut after one tokenizes as its two parts.
    if last_text[-1:] in (" ", "\t") and text.startswith(last_text) and "\n" not in text:
        tokens = last_tokens + _tokens_of(text[len(last_text) :])
    else:
        tokens = _tokens_of(text)
    _last_piece[0] = (text, tokens)
    return tokens


def _tokens_of(text: str) -> PieceTokens:
    return tuple(
        (token.folded, token.text if token.kind == "word" else None) for token in iter_tokens(text)
    )


@lru_cache(maxsize=1 << 14)
def piece_word_count(text: str) -> int:
    return sum(written is not None for _, written in piece_tokens(text))


def piece_bounds(content: str, end: int) -> list[tuple[int, int]]:
    """content[:end] as (start, end) pieces (`piece_ends`)."""
    ends = piece_ends(content, 0, end)
    return list(zip([0, *ends[:-1]], ends))


PieceEntry = tuple[Piece, bool, int]
"""A piece, whether a window may start at it (`_is_anchor`), and its word count."""


def line_pieces(text: DocumentText, line: int, end: int | None = None) -> list[PieceEntry]:
    """The pieces of a line (up to column `end`), last first."""
    content = text.content(line)
    bounds = piece_bounds(content, len(content) if end is None else end)
    return [
        (
            Piece(line, start, stop),
            _is_anchor(text, line, index),
            piece_word_count(content[start:stop]),
        )
        for index, (start, stop) in reversed(list(enumerate(bounds)))
    ]


def earlier_pieces(
    text: DocumentText,
    line: int,
    settings: MemorySettings,
    known: list[PieceEntry] | None = None,
) -> list[PieceEntry]:
    """The pieces of the lines before `line` that a window ending on it could reach, nearest
    first: back `max_lines` lines, and up to the first past `max_pairs` words. `known`: this
    for `line - 1`, when no line before that one changed since (then only it is read)."""
    first = line - settings.max_lines  # the last line out of reach
    if known is None:
        lines = range(line - 1, max(-1, first), -1)
        found: Iterator[PieceEntry] = (e for number in lines for e in line_pieces(text, number))
    else:
        latest = line_pieces(text, line - 1) if line - 1 > first else []
        found = itertools.chain(latest, (entry for entry in known if entry[0].line > first))
    entries: list[PieceEntry] = []
    words = 0
    for entry in found:
        entries.append(entry)
        words += entry[2]
        if words > settings.max_pairs:
            break
    return entries


def window_pieces(
    text: DocumentText, cursor: Cursor, settings: MemorySettings, earlier: list[PieceEntry]
) -> list[Piece]:
    """The pieces before the word at the cursor, back to `max_lines` lines and `max_pairs` words,
    starting at an anchor (see `_is_anchor`) when the window holds one. `earlier`: what
    `earlier_pieces` gives for the cursor's line."""
    pieces: list[tuple[Piece, bool]] = []
    words = 0
    for piece, anchor, count in itertools.chain(
        line_pieces(text, cursor.line, cursor.word_start), earlier
    ):
        if words + count > settings.max_pairs:
            break
        words += count
        pieces.append((piece, anchor))
    return _from_anchor(pieces)


def _is_anchor(text: DocumentText, line: int, index: int) -> bool:
    """Where a window may start. The context at a window's start is read back with the
    completion path's bounded look-back, and from there on it is carried piece by piece; in a
    paragraph longer than the look-back the two differ, so a window that started one piece
    later would see different contexts (and recompute every state). Starting only at paragraph
    starts, or on a grid of lines and of pieces, keeps the start (and the contexts) put while
    the user types on."""
    if index == 0:
        return line == 0 or line % _ANCHOR_LINES == 0 or not text.content(line - 1).strip()
    return index % _ANCHOR_PIECES == 0


def _from_anchor(pieces: list[tuple[Piece, bool]]) -> list[Piece]:
    """`pieces` (cursor first) cut back to the furthest anchor, in text order."""
    for last in range(len(pieces) - 1, -1, -1):
        if pieces[last][1]:
            return [piece for piece, _ in pieces[last::-1]]
    return [piece for piece, _ in reversed(pieces)]
