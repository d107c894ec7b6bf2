"""The document cache's units: the (prediction, word) pairs of one piece of text.

A unit is walked from the context at its piece's start, with the predictions the completion path
computes anyway (the engine's states are cached by content, so a word typed with completions on
costs no extra recurrent step). The memory never sees the engine: it reads predictions, ids and
context keys through a `Reader` the engine hands it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nextword.server.memory.blocks import MemoryBlock, empty_block, extended_block, make_block
from nextword.server.memory.pieces import piece_tokens
from nextword.server.memory.workspace import SpareRows
from nextword.server.settings import ContextLimits, MemorySettings
from nextword.server.text.tokenizer import CONTINUE_SYMBOL
from nextword.server.text.window import Key, extend_key

UNIT_DTYPE = np.float16
"""What units keep their vectors in: half the memory of float32 (a document keeps up to 4,000
pairs), and the blocks, float32 for the products, are made from them, so every path to a block
reads the same rounded vectors."""
_ROWS_AHEAD = 256
"""The spare kept ready has room for this many more rows than the stable block has now."""


@dataclass(frozen=True)
class Reader:
    """What the document cache reads text with, handed over by the engine for one request."""

    predict: Callable[[Key], np.ndarray]
    """The unit-length vector the network predicts after a context, float32 [dim]."""
    context_key: Callable[[list[str], bool], Key]
    """The context key for a paragraph's tokens (and whether the look-back cut them)."""
    token_id: Callable[[str], int]
    max_context_tokens: int
    dim: int
    settings: MemorySettings
    limits: ContextLimits


@dataclass(frozen=True)
class Unit:
    """The pairs of one piece of text, after the context `start_key`."""

    vectors: np.ndarray
    """Predicted vectors before each word, float16 [words, dim] (`UNIT_DTYPE`)."""
    words: tuple[str, ...]
    written: tuple[str, ...]
    previous: tuple[str, ...]
    """The folded token before each word (the paragraph symbol at a paragraph start)."""
    end_key: Key
    end_token: str


def same_units(units: list[Unit], others: list[Unit]) -> bool:
    return len(units) == len(others) and all(a is b for a, b in zip(units, others))


def build_unit(reader: Reader, start: tuple[Key, str], text: str) -> Unit:
    """Walk a piece from its start (context key, token before), taking the prediction before
    every word."""
    continue_id = reader.token_id(CONTINUE_SYMBOL)
    key, before = start
    vectors: list[np.ndarray] = []
    words: list[str] = []
    written: list[str] = []
    previous: list[str] = []
    for folded, surface in piece_tokens(text):
        if surface is not None:
            vectors.append(reader.predict(key))
            words.append(folded)
            written.append(surface)
            previous.append(before)
        before = folded
        key = extend_key(key, reader.token_id(folded), reader.max_context_tokens, continue_id)
    matrix = (
        np.stack(vectors).astype(UNIT_DTYPE) if vectors else np.zeros((0, reader.dim), UNIT_DTYPE)
    )
    return Unit(matrix, tuple(words), tuple(written), tuple(previous), key, before)


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
    if not len(block) or first is None or not same_units(old[first:], units[: len(old) - first]):
        fresh = assemble(units, dim, spare)
        spare.ready(len(fresh) + _ROWS_AHEAD, dim)  # for the next time, where it is not fresh
        return fresh
    added = units[len(old) - first :]
    drop = sum(len(unit.words) for unit in old[:first])
    if not added:
        vectors = np.zeros((0, dim), UNIT_DTYPE)
    else:
        vectors = np.concatenate([unit.vectors for unit in added])
    words = [word for unit in added for word in unit.words]
    written = [word for unit in added for word in unit.written]
    previous = [token for unit in added for token in unit.previous]
    rows = len(block) - drop + len(words)
    out = spare.take(rows, dim)
    return extended_block(block, drop, vectors, words, written, previous, out)
