"""One document's cache of its own words (Grave et al., ICLR 2017), found by context.

For every word written in a bounded window before the cursor (pieces.py), the cache keeps the
pair (the network's predicted vector just before the word, the word as written) (units.py), as
two blocks (blocks.py): the pieces but the last, reassembled only when one changes, and the
piece the cursor is in. The content is a deterministic function of (text, cursor): each piece's
pairs are cached by (context and token at its start, its text), so an edit costs only the pieces
it touches (and the ones after it in the same paragraph), and the assembled block is reused
while the pieces are the same objects (every keystroke inside a word). Words the vocabulary
lacks (names, jargon, identifiers) become candidates this way, written as the user wrote them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from nextword.server.memory.blocks import MemoryBlock, empty_block
from nextword.server.memory.pieces import (
    Piece,
    PieceEntry,
    earlier_pieces,
    piece_tokens,
    window_pieces,
)
from nextword.server.memory.units import Reader, Unit, assemble, build_unit, reassembled, same_units
from nextword.server.memory.workspace import SpareRows
from nextword.server.text.cursor import Cursor, paragraph_tokens
from nextword.server.text.document import DocumentText
from nextword.server.text.tokenizer import PARAGRAPH_SYMBOL
from nextword.server.text.window import Key

_UNITS_PER_DOCUMENT = 4096


class DocumentMemory:
    """One document's units (cached by content) and its window's pairs as two blocks."""

    def __init__(self, dim: int) -> None:
        self.units: OrderedDict[tuple[Key, str, str], Unit] = OrderedDict()
        self.pairs = 0
        """Pairs in `units`: bounded, so jumping around a long document keeps few windows."""
        self.last_units: list[Unit] = []
        self.dim = dim
        self.stable = empty_block(dim)
        """The pairs of the window's pieces but the last: reassembled only when one changes."""
        self.tail = empty_block(dim)
        """The pairs of the piece the cursor is in (changes with every word typed)."""
        self.tail_source: tuple[tuple[Key, str], str] | None = None
        """(start, text) of the last update's last unit, which `_extended` may grow."""
        self.added_pairs = 0
        """Pairs ever put in `units` (it only grows): how far the LRU has moved on."""
        self.earlier: tuple[tuple, list[PieceEntry]] | None = None
        """(what it depends on, `earlier_pieces` for the cursor's line)."""
        self.walked: Walked | None = None
        """The walk over the window's pieces before the cursor's line."""

    def __len__(self) -> int:
        return len(self.stable) + len(self.tail)

    @property
    def blocks(self) -> list[MemoryBlock]:
        return [self.stable, self.tail]

    def combined(self) -> MemoryBlock:
        """All the window's pairs in one block."""
        return assemble(self.last_units, self.dim)

    def unit(self, reader: Reader, start: tuple[Key, str], text: str) -> Unit:
        cache_key = (*start, text)
        unit = self.units.get(cache_key)
        if unit is not None:
            self.units.move_to_end(cache_key)
            return unit
        unit = self._extended(reader, start, text)
        if unit is None:
            unit = build_unit(reader, start, text)
        self.units[cache_key] = unit
        self.pairs += len(unit.words)
        self.added_pairs += len(unit.words)
        most_pairs = 2 * reader.settings.max_pairs  # the window, and room to move
        while len(self.units) > 1 and (
            len(self.units) > _UNITS_PER_DOCUMENT or self.pairs > most_pairs
        ):
            _, dropped = self.units.popitem(last=False)
            self.pairs -= len(dropped.words)
        return unit

    def _extended(self, reader: Reader, start: tuple[Key, str], text: str) -> Unit | None:
        """The piece the cursor is in, grown by the word just typed: the last update's unit for
        it walked on over the new words only (None: not that case)."""
        if self.tail_source is None or not self.last_units:
            return None
        last, (last_start, last_text) = self.last_units[-1], self.tail_source
        if last_start != start or not text.startswith(last_text):
            return None
        rest = text[len(last_text) :]
        if piece_tokens(text) != piece_tokens(last_text) + piece_tokens(rest):
            return None  # the new text joins onto the old one's last token
        more = build_unit(reader, (last.end_key, last.end_token), rest)
        return Unit(
            np.concatenate([last.vectors, more.vectors]),
            last.words + more.words,
            last.written + more.written,
            last.previous + more.previous,
            more.end_key,
            more.end_token,
        )

    def update(
        self, reader: Reader, text: DocumentText, cursor: Cursor, spare: SpareRows
    ) -> list[MemoryBlock]:
        """The blocks for the text before the cursor's word."""
        units, source = self.window_units(reader, text, cursor)
        stable = self.stable
        if not same_units(units[:-1], self.last_units[:-1]):
            stable = reassembled(stable, self.last_units[:-1], units[:-1], self.dim, spare)
        self.adopt(MemoryState(units, source, stable, self._tail_of(units)), spare)
        return self.blocks

    def state_at(self, reader: Reader, text: DocumentText, cursor: Cursor) -> MemoryState:
        """What `update` would make of the blocks, without changing them (for a text the
        document does not have yet: `adopt` it when it does). The stable block, when it changes,
        is assembled afresh: this one may be dropped, so it takes no memory from the spare."""
        units, source = self.window_units(reader, text, cursor)
        stable = self.stable
        if not same_units(units[:-1], self.last_units[:-1]):
            stable = assemble(units[:-1], self.dim)
        return MemoryState(units, source, stable, self._tail_of(units))

    def _tail_of(self, units: list[Unit]) -> MemoryBlock:
        if same_units(units[-1:], self.last_units[-1:]):
            return self.tail
        return assemble(units[-1:], self.dim)

    def adopt(self, state: MemoryState, spare: SpareRows) -> None:
        """Take the blocks of `state` (from `state_at`, now that the document has that text, or
        from `update`); the stable block it replaces gives its memory back."""
        if state.stable is not self.stable:
            spare.give_back(self.stable)
        self.last_units, self.tail_source = state.units, state.source
        self.stable, self.tail = state.stable, state.tail

    def window_units(
        self, reader: Reader, text: DocumentText, cursor: Cursor
    ) -> tuple[list[Unit], tuple[tuple[Key, str], str] | None]:
        """The units of the window's pieces, and the (start, text) of the last one."""
        # Typing changes only the cursor's line: what the lines before it give (their pieces,
        # and the units of those in the window) is kept while those lines are the same strings.
        settings = reader.settings
        reach = settings.max_lines + reader.limits.lookback_lines
        depends = (
            cursor.line,
            settings,
            reader.limits,
            tuple(text.lines[max(0, cursor.line - reach) : cursor.line]),
        )
        previous = self.earlier
        moved_down = previous is not None and _one_line_on(previous[0], depends)
        if previous is None or previous[0] != depends:
            known = previous[1] if moved_down and previous is not None else None
            self.earlier = (depends, earlier_pieces(text, cursor.line, settings, known))
        assert self.earlier is not None
        pieces = window_pieces(text, cursor, settings, self.earlier[1])
        before_line = next(
            (i for i in range(len(pieces)) if pieces[i].line == cursor.line), len(pieces)
        )
        walk_depends = (self.earlier[0], pieces[0] if pieces else None, before_line)
        walked = self.walked
        # The LRU of units is refreshed by walking: walk again before it could drop them.
        if walked is not None and (
            self.added_pairs - walked.walk.added_pairs > settings.max_pairs // 2
        ):
            walked = None
        if walked is not None and walked.depends != walk_depends:
            # A new line (Enter): the walk over the lines above goes on over the last one.
            done = len(walked.pieces)
            if (
                moved_down
                and previous is not None
                and walked.depends[0] == previous[0]
                and pieces[:done] == walked.pieces
                and done <= before_line
            ):
                more = self.walk(reader, text, pieces[done:before_line], walked.walk)
                walk = Walk(
                    walked.walk.units + more.units,
                    more.key,
                    more.before,
                    more.source,
                    walked.walk.added_pairs,
                )
                walked = Walked(walk_depends, pieces[:before_line], walk)
            else:
                walked = None
        if walked is None:
            start = Walk([], None, PARAGRAPH_SYMBOL, None, self.added_pairs)
            walk = self.walk(reader, text, pieces[:before_line], start)
            walked = Walked(walk_depends, pieces[:before_line], walk)
        self.walked = walked
        here = self.walk(reader, text, pieces[before_line:], walked.walk)
        return walked.walk.units + here.units, here.source

    def walk(self, reader: Reader, text: DocumentText, pieces: list[Piece], start: Walk) -> Walk:
        """The units of `pieces` (in text order), from where `start` left off."""
        units: list[Unit] = []
        key, before, source = start.key, start.before, start.source
        paragraph = (reader.token_id(PARAGRAPH_SYMBOL),)
        for piece in pieces:
            content = text.content(piece.line)
            if piece.start == 0 and not content.strip():
                key, before = paragraph, PARAGRAPH_SYMBOL  # the next line starts a paragraph
                continue
            if key is None:
                tokens, truncated = paragraph_tokens(text, piece.line, piece.start, reader.limits)
                key = reader.context_key(tokens, truncated)
                before = tokens[-1] if tokens else PARAGRAPH_SYMBOL
            source = ((key, before), content[piece.start : piece.end])
            unit = self.unit(reader, *source)
            units.append(unit)
            key, before = unit.end_key, unit.end_token
        return Walk(units, key, before, source, start.added_pairs)


def _one_line_on(old: tuple, new: tuple) -> bool:
    """Whether `window_units`' `new` dependencies are the `old` ones with the cursor one line
    further down and no line above the old cursor's changed (the old line may have)."""
    if new[0] != old[0] + 1 or new[1:3] != old[1:3]:
        return False
    above = len(new[3]) - 1  # the lines both depend on: the new ones but the last
    return above <= len(old[3]) and old[3][len(old[3]) - above :] == new[3][:above]


@dataclass(frozen=True)
class Walked:
    """A walk over the window's pieces before the cursor's line, and what it depends on."""

    depends: tuple
    pieces: list[Piece]
    walk: Walk


@dataclass(frozen=True)
class MemoryState:
    """A document memory's window units and blocks, for one text and cursor."""

    units: list[Unit]
    source: tuple[tuple[Key, str], str] | None
    stable: MemoryBlock
    tail: MemoryBlock


@dataclass(frozen=True)
class Walk:
    """Units walked over pieces, and where the walk stands after them."""

    units: list[Unit]
    key: Key | None
    """The context after the last piece (None: nothing walked yet)."""
    before: str
    source: tuple[tuple[Key, str], str] | None
    """(start, text) of the last unit."""
    added_pairs: int
    """`DocumentMemory.added_pairs` when the walk began."""
