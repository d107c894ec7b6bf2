"""The continuous cache (Grave et al., ICLR 2017): the document's own words, found by context.

For every word written in a bounded window before the cursor, the memory keeps the pair
(the network's predicted vector just before the word, the word as written). At a cursor, a word
w that matches the typed prefix scores

    cache(w) = sum over stored pairs (v_i, w) of exp(theta * (cos(p, v_i) - 1)) * f_i

where p is the prediction at the cursor and f_i is `same_previous` when the stored word followed
the same token as the cursor's word does, else 1 (the network reads every unknown word as the
same symbol, so without it a name's second word could not be told from what follows it).
Normalised over the words matching the prefix, this
p_cache is mixed with the model's distribution over the same words as in Grave et al.:
(1 - weight) * p_model + weight * p_cache (`mixed_scores`). Words the vocabulary lacks (names,
jargon, identifiers) become candidates this way, written as the user wrote them.

The stored vectors are the predictions the completion path computes anyway: the memory walks the
window with the same context keys (paragraph start, a continue marker every max_context_tokens)
and asks `Engine.prediction`, whose states are cached by content; a word typed with completions
on costs no extra recurrent step. The content is a deterministic function of (text, cursor):

- the window is the text before the word being typed, back to at most `max_lines` lines and
  `max_pairs` words, split into pieces (a line, or a ~256-character slice of a long line cut at
  whitespace, so the pieces before the cursor do not change while typing);
- the window starts at an anchor (a paragraph start, or a grid of lines and pieces), so that
  its start, and with it the contexts in a paragraph longer than the look-back, stay put;
- each piece's pairs are cached by (context and token at its start, its text): an edit costs only
  the pieces it touches (and the ones after it in the same paragraph); the assembled block is
  reused while the pieces are the same objects (every keystroke inside a word).

Workspace memory (off by default) adds the last block of every other open document, and the
persisted memory (persist.py, off by default) adds what earlier sessions learned.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nextword.server.text.cursor import Cursor, paragraph_tokens
from nextword.server.text.document import DocumentState, DocumentText
from nextword.server.text.tokenizer import CONTINUE_SYMBOL, PARAGRAPH_SYMBOL, fold, iter_tokens

if TYPE_CHECKING:
    from nextword.server.engine.engine import Engine

Key = tuple[int, ...]

_PIECE = 256
_SPACE = re.compile(r"\s")
_AFTER_EVERY_CHAR = "\U0010ffff"
_UNITS_PER_DOCUMENT = 4096
_ANCHOR_LINES = 32
_ANCHOR_PIECES = 8
_ROWS_AHEAD = 256
"""The spare kept ready has room for this many more rows than the stable block has now."""
MOST_WORDS = 64
"""The memory offers at most this many words per request (the likeliest), like the search."""


@dataclass
class MemorySettings:
    enabled: bool = True
    """Complete with the document's own words, found by context (the continuous cache)."""
    max_pairs: int = 2000
    """Most (prediction, word) pairs kept for one document: the words before the cursor."""
    max_lines: int = 400
    """Lines before the cursor the memory reads back at most."""
    theta: float = 10.0
    """Sharpness: how much more a pair in a similar context counts than one in another."""
    weight: float = 0.3
    """Mixing weight lambda: p = (1 - lambda) * p_model + lambda * p_cache."""
    temperature: float = 1.0
    """Turns ranking scores into p_model = softmax(score / temperature) for the mixing (the
    scores are log-probabilities up to a constant, so 1 is the model's own distribution)."""
    same_previous: float = 5.0
    """Factor for a pair whose word followed the same token as the cursor's word does. The
    network reads every unknown word alike, so this is what tells "Zorblat _" from "Quenwick _"."""
    min_norm: float = 0.0
    """The cache's mass is divided by its total or by this, whichever is larger (0: always by
    the total, as in Grave et al.). 1 is the weight of one pair in an identical context."""
    half_weight_pairs: float = 100.0
    """The cache gets weight * n / (n + this) when it holds n pairs: a few words are weak
    evidence, and a 3-word document must not make its own words the likeliest next ones."""
    workspace: bool = False
    """Also use the words of the other open documents (off: documents never share words)."""
    persist: bool = False
    """Keep what was learned between sessions, per workspace, in the user's data directory."""


@dataclass(frozen=True)
class Piece:
    line: int
    start: int
    end: int


@dataclass(frozen=True)
class Unit:
    """The pairs of one piece of text, after the context `start_key`."""

    vectors: np.ndarray
    """Predicted vectors before each word, float32 [words, dim]."""
    words: tuple[str, ...]
    written: tuple[str, ...]
    previous: tuple[str, ...]
    """The folded token before each word (the paragraph symbol at a paragraph start)."""
    end_key: Key
    end_token: str


@dataclass(frozen=True)
class MemoryBlock:
    """Pairs ready for scoring: rows sorted by word, so a prefix's rows are one slice."""

    vectors: np.ndarray
    """float32 [pairs, dim], unit length."""
    words: list[str]
    """Sorted distinct folded words."""
    written: list[str]
    """Each word as last written."""
    starts: np.ndarray
    """Row where each word's pairs start (len(words) + 1 entries)."""
    previous: np.ndarray
    """Per row, the index in `tokens` of the token before the word (-1: unknown)."""
    tokens: list[str]
    """Sorted distinct tokens before the words."""
    positions: np.ndarray
    """Per row, the pair's index in text order (what `extended_block` drops and appends by)."""

    def __len__(self) -> int:
        return len(self.vectors)

    def word_range(self, typed: str) -> tuple[int, int]:
        lo = bisect.bisect_left(self.words, typed)
        return lo, bisect.bisect_left(self.words, typed + _AFTER_EVERY_CHAR, lo)

    def masses(
        self, query: np.ndarray, typed: str, previous: str, settings: MemorySettings
    ) -> tuple[int, np.ndarray]:
        """(lo, sums): the cache mass of words[lo + i] is sums[i], for the words starting with
        `typed` (folded)."""
        lo, hi = self.word_range(typed)
        if lo == hi:
            return lo, np.zeros(0)
        first, last = int(self.starts[lo]), int(self.starts[hi])
        similarity = self.vectors[first:last] @ query
        weights = np.exp(settings.theta * (similarity.astype(np.float64) - 1.0))
        previous_id = bisect.bisect_left(self.tokens, previous)
        if previous_id == len(self.tokens) or self.tokens[previous_id] != previous:
            previous_id = -2
        if settings.same_previous != 1.0 and previous_id >= 0:
            same = self.previous[first:last] == previous_id
            weights = np.where(same, weights * settings.same_previous, weights)
        return lo, np.add.reduceat(weights, self.starts[lo:hi] - first)


def empty_block(dim: int) -> MemoryBlock:
    empty = np.zeros(0, np.int64)
    vectors = np.zeros((0, dim), np.float32)
    return MemoryBlock(vectors, [], [], np.zeros(1, np.int64), empty, [], empty)


def make_block(
    vectors: np.ndarray,
    words: list[str],
    written: list[str],
    previous: list[str] | None = None,
    out: np.ndarray | None = None,
) -> MemoryBlock:
    """A block from pairs in text order (the last spelling of a word wins); `previous`: the
    token before each word ("" where unknown); `out`: float32 memory of at least as many rows
    for the block's vectors."""
    if not words:
        return empty_block(vectors.shape[1] if vectors.ndim == 2 else 0)
    previous = previous or [""] * len(words)
    distinct = sorted(set(words))
    number = {word: i for i, word in enumerate(distinct)}
    codes = np.fromiter(map(number.__getitem__, words), dtype=np.int64, count=len(words))
    order = np.argsort(codes, kind="stable")
    spelling = dict(zip(words, written))  # the last spelling of each word
    starts = np.zeros(len(distinct) + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=len(distinct)), out=starts[1:])
    if out is None:
        rows = np.ascontiguousarray(vectors[order], dtype=np.float32)
    else:
        rows = out[: len(words)]
        np.take(vectors.astype(np.float32, copy=False), order, axis=0, out=rows, mode="clip")
    tokens = sorted(set(previous) - {""})
    number_of = {token: i for i, token in enumerate(tokens)}
    before = np.fromiter(map(number_of.get, previous, repeat(-1)), np.int64, len(previous))
    spelled = [spelling[word] for word in distinct]
    return MemoryBlock(rows, distinct, spelled, starts, before[order], tokens, order)


def extended_block(
    block: MemoryBlock,
    drop: int,
    vectors: np.ndarray,
    words: list[str],
    written: list[str],
    previous: list[str],
    out: np.ndarray | None = None,
) -> MemoryBlock:
    """make_block(the block's pairs after its first `drop`, then the given pairs), equal to it
    array for array, without re-sorting the kept rows: they are in order already, so only the
    new pairs are placed and the vectors are copied once (into `out[:rows]` when given, which
    must not overlap the block). With a full window this is what every ~50 words typed cost (a
    piece becomes stable, or the window's start moves), and rebuilding 2,000 rows took 1.5-5 ms
    of the keystroke."""
    if not len(block):
        return make_block(vectors, words, written, previous, out)
    counts = np.diff(block.starts)
    row_codes = np.repeat(np.arange(len(block.words)), counts)
    if drop:
        kept_rows = np.flatnonzero(block.positions >= drop)
        counts = np.bincount(row_codes[kept_rows], minlength=len(block.words))
    else:
        kept_rows = np.arange(len(block))
    alive = np.flatnonzero(counts)
    kept_words = list(itertools.compress(block.words, counts.tolist()))
    final_words, shift = _with_inserted(kept_words, set(words))
    spelling = list(itertools.compress(block.written, counts.tolist()))
    for index in shift.insertions:
        spelling.insert(index, "")
    number = {word: bisect.bisect_left(final_words, word) for word in set(words)}
    for word, spelled in zip(words, written):
        spelling[number[word]] = spelled  # the last spelling wins, as in make_block
    new_code = np.full(len(block.words), -1, np.int64)
    new_code[alive] = shift.moved(len(kept_words))
    codes = np.concatenate(
        [new_code[row_codes[kept_rows]], np.fromiter(map(number.__getitem__, words), np.int64)]
    )
    order = np.argsort(codes, kind="stable")
    destination = np.empty_like(order)
    destination[order] = np.arange(len(order))
    source = np.zeros(len(order), np.int64)
    source[destination[: len(kept_rows)]] = kept_rows
    if out is None:
        out = np.empty((len(order), block.vectors.shape[1]), np.float32)
    rows = out[: len(order)]
    block.vectors.take(source, axis=0, out=rows, mode="clip")  # "raise" would copy via a buffer
    rows[destination[len(kept_rows) :]] = vectors

    names = block.tokens
    if drop:  # the tokens still used (np.unique's first call in a process takes ~8 ms)
        present = np.bincount(block.previous[kept_rows] + 1, minlength=len(names) + 1)[1:] > 0
        used = np.flatnonzero(present)
        kept_tokens = list(itertools.compress(names, present.tolist()))
    else:
        used, kept_tokens = np.arange(len(names)), names
    tokens, token_shift = _with_inserted(kept_tokens, set(previous) - {""})
    token_code = np.full(len(names) + 1, -1, np.int64)  # the last entry maps -1 to -1
    token_code[used] = token_shift.moved(len(kept_tokens))
    before = np.concatenate(
        [
            token_code[block.previous[kept_rows]],
            np.asarray(
                [bisect.bisect_left(tokens, token) if token else -1 for token in previous],
                np.int64,
            ),
        ]
    )
    positions = np.concatenate(
        [block.positions[kept_rows] - drop, np.arange(len(kept_rows), len(order))]
    )
    starts = np.zeros(len(final_words) + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=len(final_words)), out=starts[1:])
    return MemoryBlock(rows, final_words, spelling, starts, before[order], tokens, positions[order])


@dataclass(frozen=True)
class _Insertions:
    insertions: list[int]
    """Where each new item went in the merged list (ascending)."""
    at: np.ndarray
    """Where each new item went in the old list."""

    def moved(self, old: int) -> np.ndarray:
        """The merged index of each of the `old` items."""
        steps = np.arange(old)
        return steps + np.searchsorted(self.at, steps, side="right")


def _with_inserted(items: list[str], more: set[str]) -> tuple[list[str], _Insertions]:
    """(sorted items with the new ones of `more` merged in, where they went); `items` sorted."""
    new = sorted(item for item in more if not _holds(items, item))
    at = [bisect.bisect_left(items, item) for item in new]
    merged = list(items)
    for index, (where, item) in enumerate(zip(at, new)):
        merged.insert(where + index, item)
    insertions = [where + index for index, where in enumerate(at)]
    return merged, _Insertions(insertions, np.asarray(at, np.int64))


def _holds(items: list[str], item: str) -> bool:
    index = bisect.bisect_left(items, item)
    return index < len(items) and items[index] == item


def combine_mass(
    blocks: list[MemoryBlock],
    query: np.ndarray,
    typed: str,
    previous: str,
    settings: MemorySettings,
) -> dict[str, tuple[float, str]]:
    """{word: (probability, as written)}: the cache distribution over the words matching the
    prefix, over all the blocks (the MOST_WORDS likeliest; a word's spelling from the first block
    that has it).

    The largest block's masses stay a numpy array, and only its best MOST_WORDS (ties included)
    become Python objects: with a full window and nothing typed that block holds hundreds of
    distinct words, and a dict of them all cost ~1 ms per keystroke after a space."""
    parts = [(block, *block.masses(query, typed, previous, settings)) for block in blocks]
    parts = [part for part in parts if len(part[2])]
    if not parts:
        return {}
    base_index = max(range(len(parts)), key=lambda i: (len(parts[i][2]), -i))
    base, base_lo, base_sums = parts[base_index]
    base_sums = base_sums.copy()
    base_hi = base_lo + len(base_sums)
    spelled: dict[int, str] = {}  # base offset -> spelling from a block before the base
    others: dict[str, list] = {}  # word in no base row -> [mass, spelling]
    for index, (block, lo, sums) in enumerate(parts):
        if index == base_index:
            continue
        for offset, value in enumerate(sums.tolist()):
            word, written = block.words[lo + offset], block.written[lo + offset]
            row = bisect.bisect_left(base.words, word, base_lo, base_hi)
            if row < base_hi and base.words[row] == word:
                base_sums[row - base_lo] += value
                if index < base_index:
                    spelled.setdefault(row - base_lo, written)
            elif word in others:
                others[word][0] += value
            else:
                others[word] = [value, written]
    norm = float(base_sums.sum()) + sum(mass for mass, _ in others.values())
    if norm <= 0.0:
        return {}
    # Words met only in unlike contexts get little mass; divided by at least `min_norm` (1: one
    # pair's full weight) they stay unlikely instead of sharing all of the cache's probability,
    # which in a short document made every earlier word a strong candidate.
    norm = max(norm, settings.min_norm)
    pairs = sum(len(block) for block in blocks)
    norm *= (pairs + settings.half_weight_pairs) / max(pairs, 1)
    if len(base_sums) > MOST_WORDS:
        threshold = np.partition(base_sums, -MOST_WORDS)[-MOST_WORDS]
        rows = np.flatnonzero(base_sums >= threshold).tolist()
    else:
        rows = list(range(len(base_sums)))
    candidates = [
        (float(base_sums[row]), base.words[base_lo + row],
         spelled.get(row, base.written[base_lo + row]))
        for row in rows
    ]  # fmt: skip
    candidates += [(mass, word, written) for word, (mass, written) in others.items()]
    candidates.sort(key=lambda item: (-item[0], item[1]))
    return {word: (mass / norm, written) for mass, word, written in candidates[:MOST_WORDS]}


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
    """content[:end] as pieces split at the first whitespace after each multiple of `_PIECE`."""
    bounds: list[tuple[int, int]] = []
    start, point = 0, _PIECE
    while point < end:
        space = _SPACE.search(content, point, end)
        if space is None:
            break
        bounds.append((start, space.start()))
        start = space.start()
        point = (start // _PIECE + 1) * _PIECE
    bounds.append((start, end))
    return bounds


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
    document: DocumentState, cursor: Cursor, settings: MemorySettings, earlier: list[PieceEntry]
) -> list[Piece]:
    """The pieces before the word at the cursor, back to `max_lines` lines and `max_pairs` words,
    starting at an anchor (see `_is_anchor`) when the window holds one. `earlier`: what
    `earlier_pieces` gives for the cursor's line."""
    text = document.text
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


class SpareRows:
    """Memory for the next stable block's vectors, handed on by the block it replaces.

    With a full window a document's stable block (2,000 rows, 3 MB) is rebuilt every ~50 words.
    Fresh memory for it cost ~700 page faults, 2-10 ms of one keystroke on this project's VMs;
    memory written before costs none. One buffer serves every document: a block gives its
    memory back as it is replaced, and the next rebuild, in any document, writes into it."""

    ROWS_ROUNDED_TO = 512

    def __init__(self) -> None:
        self.buffer: np.ndarray | None = None

    def _fits(self, rows: int, dim: int) -> bool:
        """The spare holds `rows` rows, and not more than twice the memory they need (a small
        document's block does not keep a large buffer)."""
        buffer = self.buffer
        capacity = self._capacity(rows)
        return buffer is not None and buffer.shape[1] == dim and rows <= len(buffer) <= 2 * capacity

    def _capacity(self, rows: int) -> int:
        return -(-max(rows, 1) // self.ROWS_ROUNDED_TO) * self.ROWS_ROUNDED_TO

    def take(self, rows: int, dim: int) -> np.ndarray:
        """A buffer of at least `rows` rows: the spare when it fits, else a new one."""
        if not self._fits(rows, dim):
            return np.empty((self._capacity(rows), dim), np.float32)
        buffer, self.buffer = self.buffer, None
        assert buffer is not None
        return buffer

    def ready(self, rows: int, dim: int) -> None:
        """Have a spare that fits `rows` rows, its pages there (written once), so that the next
        rebuild faults none."""
        if not self._fits(rows, dim):
            self.buffer = np.zeros((self._capacity(rows), dim), np.float32)
            self.buffer.fill(0.0)  # np.zeros may leave the pages to be faulted on first write

    def give_back(self, block: MemoryBlock) -> None:
        """`block` is used by no one any more: its vectors' memory may be overwritten."""
        memory = block.vectors if block.vectors.base is None else block.vectors.base
        if not isinstance(memory, np.ndarray) or memory.ndim != 2 or memory.dtype != np.float32:
            return
        if self.buffer is None or memory.shape[0] > self.buffer.shape[0]:
            self.buffer = memory


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

    def unit(
        self, engine: Engine, document: DocumentState, start: tuple[Key, str], text: str
    ) -> Unit:
        cache_key = (*start, text)
        unit = self.units.get(cache_key)
        if unit is not None:
            self.units.move_to_end(cache_key)
            return unit
        unit = self._extended(engine, document, start, text)
        if unit is None:
            unit = build_unit(engine, document, start, text)
        self.units[cache_key] = unit
        self.pairs += len(unit.words)
        self.added_pairs += len(unit.words)
        most_pairs = 2 * engine.settings.memory.max_pairs  # the window, and room to move
        while len(self.units) > 1 and (
            len(self.units) > _UNITS_PER_DOCUMENT or self.pairs > most_pairs
        ):
            _, dropped = self.units.popitem(last=False)
            self.pairs -= len(dropped.words)
        return unit

    def _extended(
        self, engine: Engine, document: DocumentState, start: tuple[Key, str], text: str
    ) -> Unit | None:
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
        more = build_unit(engine, document, (last.end_key, last.end_token), rest)
        return Unit(
            np.concatenate([last.vectors, more.vectors]),
            last.words + more.words,
            last.written + more.written,
            last.previous + more.previous,
            more.end_key,
            more.end_token,
        )

    def update(self, engine: Engine, document: DocumentState, cursor: Cursor) -> list[MemoryBlock]:
        """The blocks for the text before the cursor's word."""
        units, source = self.window_units(engine, document, cursor)
        stable, spare = self.stable, engine.spare_rows
        if not _same_units(units[:-1], self.last_units[:-1]):
            stable = reassembled(stable, self.last_units[:-1], units[:-1], self.dim, spare)
        self.adopt(MemoryState(units, source, stable, self._tail_of(units)), spare)
        return self.blocks

    def state_at(self, engine: Engine, document: DocumentState, cursor: Cursor) -> MemoryState:
        """What `update` would make of the blocks, without changing them (for a text the
        document does not have yet: `adopt` it when it does). The stable block, when it changes,
        is assembled afresh: this one may be dropped, so it takes no memory from the spare."""
        units, source = self.window_units(engine, document, cursor)
        stable = self.stable
        if not _same_units(units[:-1], self.last_units[:-1]):
            stable = assemble(units[:-1], self.dim)
        return MemoryState(units, source, stable, self._tail_of(units))

    def _tail_of(self, units: list[Unit]) -> MemoryBlock:
        if _same_units(units[-1:], self.last_units[-1:]):
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
        self, engine: Engine, document: DocumentState, cursor: Cursor
    ) -> tuple[list[Unit], tuple[tuple[Key, str], str] | None]:
        """The units of the window's pieces, and the (start, text) of the last one."""
        settings = engine.settings
        text = document.text
        # Typing changes only the cursor's line: what the lines before it give (their pieces,
        # and the units of those in the window) is kept while those lines are the same strings.
        reach = settings.memory.max_lines + settings.context.lookback_lines
        depends = (
            cursor.line,
            settings.memory,
            settings.context,
            tuple(text.lines[max(0, cursor.line - reach) : cursor.line]),
        )
        previous = self.earlier
        moved_down = previous is not None and _one_line_on(previous[0], depends)
        if previous is None or previous[0] != depends:
            known = previous[1] if moved_down and previous is not None else None
            self.earlier = (depends, earlier_pieces(text, cursor.line, settings.memory, known))
        assert self.earlier is not None
        pieces = window_pieces(document, cursor, settings.memory, self.earlier[1])
        before_line = next(
            (i for i in range(len(pieces)) if pieces[i].line == cursor.line), len(pieces)
        )
        walk_depends = (self.earlier[0], pieces[0] if pieces else None, before_line)
        walked = self.walked
        # The LRU of units is refreshed by walking: walk again before it could drop them.
        if walked is not None and (
            self.added_pairs - walked.walk.added_pairs > settings.memory.max_pairs // 2
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
                more = self.walk(engine, document, pieces[done:before_line], walked.walk)
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
            walk = self.walk(engine, document, pieces[:before_line], start)
            walked = Walked(walk_depends, pieces[:before_line], walk)
        self.walked = walked
        here = self.walk(engine, document, pieces[before_line:], walked.walk)
        return walked.walk.units + here.units, here.source

    def walk(
        self, engine: Engine, document: DocumentState, pieces: list[Piece], start: Walk
    ) -> Walk:
        """The units of `pieces` (in text order), from where `start` left off."""
        units: list[Unit] = []
        key, before, source = start.key, start.before, start.source
        paragraph = (engine.vocab.id_of(PARAGRAPH_SYMBOL),)
        text = document.text
        for piece in pieces:
            content = text.content(piece.line)
            if piece.start == 0 and not content.strip():
                key, before = paragraph, PARAGRAPH_SYMBOL  # the next line starts a paragraph
                continue
            if key is None:
                limits = engine.settings.context
                tokens, truncated = paragraph_tokens(text, piece.line, piece.start, limits)
                key = engine.context_key(tokens, truncated)
                before = tokens[-1] if tokens else PARAGRAPH_SYMBOL
            source = ((key, before), content[piece.start : piece.end])
            unit = self.unit(engine, document, *source)
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


def _same_units(units: list[Unit], others: list[Unit]) -> bool:
    return len(units) == len(others) and all(a is b for a, b in zip(units, others))


def build_unit(engine: Engine, document: DocumentState, start: tuple[Key, str], text: str) -> Unit:
    """Walk a piece from its start (context key, token before), taking the cached prediction
    before every word."""
    vocab = engine.vocab
    limit = engine.bundle.max_context_tokens
    continue_id = vocab.id_of(CONTINUE_SYMBOL)
    start_key, before = start
    first, tail = start_key[0], list(start_key[1:])
    vectors: list[np.ndarray] = []
    words: list[str] = []
    written: list[str] = []
    previous: list[str] = []
    for folded, surface in piece_tokens(text):
        if surface is not None:
            prediction = engine.prediction(document, (first, *tail))
            vectors.append(prediction.direction[0])
            words.append(folded)
            written.append(surface)
            previous.append(before)
        before = folded
        tail.append(vocab.id_of(folded))
        if len(tail) >= limit:  # context_symbols: a new window every `limit` tokens
            first, tail = continue_id, []
    dim = engine.bundle.output_dim
    matrix = np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)
    return Unit(matrix, tuple(words), tuple(written), tuple(previous), (first, *tail), before)


def assemble(units: list[Unit], dim: int, spare: SpareRows | None = None) -> MemoryBlock:
    """The block of the units' pairs (its vectors in memory from `spare` when given)."""
    words = [word for unit in units for word in unit.words]
    if not words:
        return empty_block(dim)
    vectors = np.concatenate([unit.vectors for unit in units])
    written = [word for unit in units for word in unit.written]
    previous = [token for unit in units for token in unit.previous]
    out = None if spare is None else spare.take(len(words), dim)
    return make_block(vectors, words, written, previous, out)


def reassembled(
    block: MemoryBlock, old: list[Unit], units: list[Unit], dim: int, spare: SpareRows
) -> MemoryBlock:
    """assemble(units), given block = assemble(old): when `units` are `old` less some at the
    front and with some more at the end (the window moved on), the block is extended instead,
    into memory from `spare`."""
    first = next((index for index, unit in enumerate(old) if units and unit is units[0]), None)
    if not len(block) or first is None or not _same_units(old[first:], units[: len(old) - first]):
        fresh = assemble(units, dim, spare)
        spare.ready(len(fresh) + _ROWS_AHEAD, dim)  # for the next time, where it is not fresh
        return fresh
    added = units[len(old) - first :]
    drop = sum(len(unit.words) for unit in old[:first])
    if not added:
        vectors = np.zeros((0, dim), np.float32)
    else:
        vectors = np.concatenate([unit.vectors for unit in added])
    words = [word for unit in added for word in unit.words]
    written = [word for unit in added for word in unit.written]
    previous = [token for unit in added for token in unit.previous]
    rows = len(block) - drop + len(words)
    out = spare.take(rows, dim)
    return extended_block(block, drop, vectors, words, written, previous, out)


def document_memory(engine: Engine, document: DocumentState) -> DocumentMemory:
    memory = document.caches.get("memory")
    if memory is None:
        memory = DocumentMemory(engine.bundle.output_dim)
        document.caches["memory"] = memory
    return memory


class WorkspaceMemory:
    """The last block of every open document (used only with `workspace` on), and the block
    loaded from the persisted store (used only with `persist` on)."""

    def __init__(self) -> None:
        self.documents: dict[str, list[MemoryBlock]] = {}
        self.persisted: MemoryBlock | None = None
        self.store: Path | None = None
        """The file `persisted` came from and is written back to (persist.py)."""

    def others(self, uri: str) -> list[MemoryBlock]:
        names = sorted(name for name in self.documents if name != uri)
        return [block for name in names for block in self.documents[name]]

    def drop(self, uri: str) -> None:
        self.documents.pop(uri, None)


def memory_blocks(engine: Engine, document: DocumentState, cursor: Cursor) -> list[MemoryBlock]:
    """The blocks a completion at the cursor may use (none when the memory is off)."""
    settings = engine.settings.memory
    if not settings.enabled or engine.index is None:
        return []
    blocks = document_memory(engine, document).update(engine, document, cursor)
    workspace = engine.workspace_memory
    if settings.workspace:
        workspace.documents[document.uri] = list(blocks)
        blocks = blocks + workspace.others(document.uri)
    if settings.persist and workspace.persisted is not None:
        blocks.append(workspace.persisted)
    return blocks


def previous_token(cursor: Cursor) -> str:
    """The folded token before the cursor's word (the paragraph symbol at a paragraph start)."""
    return cursor.tokens[-1] if cursor.tokens else PARAGRAPH_SYMBOL


def memory_bonuses(
    engine: Engine, blocks: list[MemoryBlock], query: np.ndarray, prefix: str, previous: str
) -> dict[str, tuple[float, str]]:
    """{folded word: (cache probability, as written)} for the words matching the typed prefix;
    `previous`: the folded token before the word."""
    if not blocks:
        return {}
    vector = np.asarray(query, dtype=np.float32).reshape(-1)
    return combine_mass(blocks, vector, fold(prefix), previous, engine.settings.memory)


def mixed_scores(
    scores: np.ndarray, from_cache: np.ndarray, settings: MemorySettings
) -> np.ndarray:
    """Grave et al.'s interpolation, restricted to the words matching the prefix: the
    candidates' ranking scores (float64) and their cache probabilities (0 for a word the memory
    does not know) -> the mixed scores.

    The ranking scores become a distribution p_model = softmax(score / temperature) over the
    candidates; the mixture (1 - weight) * p_model + weight * p_cache is mapped back to the
    score scale, so a word the memory does not know keeps its score (shifted by the same constant
    for every candidate: temperature * log(1 - weight)).
    """
    temperature, weight = settings.temperature, min(settings.weight, 0.999)
    top = float(scores.max())
    model = np.exp((scores - top) / temperature)
    total = float(model.sum())
    mixed = (1.0 - weight) * model / total + weight * from_cache
    with np.errstate(divide="ignore"):
        return temperature * np.log(mixed) + top + temperature * np.log(total)
