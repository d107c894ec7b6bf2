"""Hypothesis at the document and engine level: hostile text and positions never break them.

Edits come with any positions (past the end, start after end, inside a surrogate pair or a
UTF-8 sequence) in any client encoding, over text full of control characters, lone surrogates,
right-to-left and combining marks, and every LSP line end. Invariants: nothing raises, the
line list stays well formed, completions point inside their line, and the document after the
edits completes exactly like the same text opened fresh.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from nextword.server.engine.documents import DocumentState
from nextword.server.lsp.convert import (
    apply_change,
    character_of,
    column_of,
    position_from_client,
)
from nextword.server.text.document import is_fence_line, split_lines

PIECES = [
    "the ", "of ", "President ", "United ", "gover", "nment ", "States. ", " ", "\t", "-", "'",
    "\n", "\r\n", "\r", "\n\n", "\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028",
    "\u0301", "e\u0301", "\u05e9\u05dc\u05d5\u05dd ", "\u0627\u0644\u0633", "\u202e", "\u200f",
    "\u200d", "\ufeff", "\U0001f600", "\U0001d54f", "\ud800", "\udfff", "\u00e9", "```", "~~~\n",
    "`", "http://a.b/c ", "3 ", "\u0130", "\u00df",
]  # fmt: skip
ENCODINGS = ["utf-16", "utf-8", "utf-32"]

texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
numbers = st.one_of(st.integers(0, 12), st.integers(0, 400), st.just((1 << 31) - 1))
positions = st.builds(types.Position, line=numbers, character=numbers)
edits = st.lists(st.tuples(positions, positions, texts), min_size=1, max_size=12)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def change(start: types.Position, end: types.Position, text: str):
    return types.TextDocumentContentChangePartial(range=types.Range(start, end), text=text)


def assert_well_formed(document: DocumentState) -> None:
    lines = document.text.lines
    assert lines, "a document always has a line"
    for line in lines[:-1]:
        assert re.search(r"(\r\n|\r|\n)\Z", line), repr(line)
    for line in lines:
        body = line[:-2] if line.endswith("\r\n") else line.rstrip("\r\n")
        assert "\n" not in body and "\r" not in body, repr(line)
    fences = [i for i, line in enumerate(lines) if is_fence_line(line)]
    assert document.text.fence_lines == fences
    assert split_lines(document.source) == lines


@FAST
@given(texts, edits, st.sampled_from(ENCODINGS))
def test_any_edit_keeps_the_document_well_formed(initial: str, edit_list, encoding) -> None:
    codec = PositionCodec(encoding)
    document = DocumentState.open("mem://fuzz", initial)
    for start, end, text in edit_list:
        apply_change(document, change(start, end, text), codec)
        assert_well_formed(document)


@FAST
@given(texts, edits, st.lists(positions, min_size=1, max_size=6), st.sampled_from(ENCODINGS))
def test_hostile_edits_then_completion_equals_fresh(
    tiny_engine, initial: str, edit_list, cursors, encoding
) -> None:
    codec = PositionCodec(encoding)
    document = DocumentState.open("mem://fuzz-edited", initial)
    for start, end, text in edit_list:
        apply_change(document, change(start, end, text), codec)
        line, column = position_from_client(document.text, start, codec)
        tiny_engine.complete(document, line, column)  # fill the cache on the way
    fresh = DocumentState.open("mem://fuzz-fresh", document.source)
    for cursor in cursors:
        line, column = position_from_client(document.text, cursor, codec)
        assert 0 <= line < len(document.text)
        content = document.text.content(line)
        assert 0 <= column <= len(content)
        got = tiny_engine.complete(document, line, column)
        assert got == tiny_engine.complete(fresh, line, column)
        for completion in got:
            assert 0 <= completion.word_start <= completion.column <= len(content)
            assert character_of(codec, content, completion.column) <= codec.client_num_units(
                content
            )
    tiny_engine.drop_caches(document)
    tiny_engine.drop_caches(fresh)


units = st.lists(
    st.sampled_from(list("ab \u00e9\u20ac\u0301\u05d0\U0001f600\U0001d54f\ud800\udfff")),
    max_size=16,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(units, st.integers(0, 70), st.sampled_from(ENCODINGS))
def test_position_conversion_matches_the_pygls_codec(content: str, character, encoding) -> None:
    """The document's fast conversion agrees with pygls' codec, mid-character positions too."""
    while "\ud800\udfff" in content:  # two lone halves that would pair up when encoded
        content = content.replace("\ud800\udfff", "\ud800")  # (which can pair anew: loop)
    codec = PositionCodec(encoding)
    if character >= codec.client_num_units(content):
        expected = len(content)
    else:
        position = types.Position(line=0, character=character)
        expected = codec.position_from_client_units([content], position).character
    assert column_of(codec, content, character) == expected
    column = min(character, len(content))
    assert character_of(codec, content, column) == codec.client_num_units(content[:column])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_megabyte_line_costs_bounded_work(tiny_engine, encoding: str) -> None:
    """Completing anywhere on a 1 MB line runs at most one context's recurrent steps and
    reads a bounded context, whatever the position."""
    from nextword.server.text.cursor import analyse_cursor

    codec = PositionCodec(encoding)
    line = ("the people of the United States \u00e9 " * 40_000)[: 1 << 20]
    document = DocumentState.open("mem://mega", line)
    limits = tiny_engine.settings.context
    # The context, plus the memory's window (memory.py): a bound that does not grow with the
    # line (a whole 1 MB line would be ~180k steps).
    memory = tiny_engine.settings.memory
    max_steps = 2 * (tiny_engine.bundle.max_context_tokens + memory.max_pairs * memory.enabled) + 2
    for character in (0, 1000, 500_000, 1 << 20, (1 << 31) - 1):
        _, column = position_from_client(document.text, types.Position(0, character), codec)
        cursor = analyse_cursor(document.text, 0, column, limits)
        if cursor is not None:
            assert sum(len(token) for token in cursor.tokens) <= limits.lookback_chars
        before = tiny_engine.stats.recurrent_steps
        tiny_engine.complete(document, 0, column)
        assert tiny_engine.stats.recurrent_steps - before <= max_steps
        apply_change(
            document, change(types.Position(0, character), types.Position(0, character), "x"), codec
        )
    assert_well_formed(document)
    tiny_engine.drop_caches(document)
