"""The central invariant, at the engine level: incremental equals fresh.

After any sequence of edits, with completions asked along the way (so cached states from
earlier texts are around), the completions at any position equal those of a fresh engine that
opened the final text: same items, same order, same scores.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from conftest import TINY_BUNDLE, TINY_SOFTMAX_BUNDLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextword.exporter.data import provisional_to_vocab, tokenize_corpus
from nextword.exporter.ngrams import count_ngrams
from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.model.bundle import load_bundle
from nextword.server.model.ngrams import table_from_arrays
from nextword.server.settings import ContextLimits, NgramSettings, Settings
from nextword.server.text.cursor import span_tokens, tokenize_line
from nextword.server.text.document import DocumentText, split_lines

FRAGMENTS = [
    "the ", "gover", "n", "ment ", " ", ".", ". ", ", ", "\n", "\n\n", "\r\n", "\r", "é", "ß",
    "😀", "👍🏽", "Lon", "don ", "I ", "UNITED ", "1990", "`", "```\n", "~~~\n", "http://x.y ",
    "don't ", "-", "\t", "Émile ", "ﬁ", "zebrafish ", "people ", "of ", "and ", "said",
    "e\u0301", "States. ", '"', "\u2028",
]  # fmt: skip
# Small limits so that every bound (context windows, look-back, word window) is crossed.
LIMITS = ContextLimits(lookback_lines=4, lookback_chars=60, window_lines_before=3,
                       window_lines_after=2)  # fmt: skip
TEST_SETTINGS = Settings(context=LIMITS, document_cache_megabytes=1, cache_megabytes=1)

texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=12).map("".join)
edits = st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 12), texts, st.floats(0, 1)), max_size=10
)


def position_of(text: str, offset: int) -> tuple[int, int]:
    """(line, column) of a code point offset (moved off the middle of a \\r\\n)."""
    if 0 < offset < len(text) and text[offset - 1 : offset + 1] == "\r\n":
        offset -= 1
    line, line_start = 0, 0
    for line_text in split_lines(text)[:-1]:
        if line_start + len(line_text) > offset:
            break
        line_start += len(line_text)
        line += 1
    return line, offset - line_start


def offset_of(text: str, position: tuple[int, int]) -> int:
    lines = split_lines(text)
    return sum(len(line) for line in lines[: position[0]]) + position[1]


def all_positions(text: str) -> list[tuple[int, int]]:
    lines = DocumentText.from_text(text)
    return [(n, c) for n in range(len(lines)) for c in range(len(lines.content(n)) + 1)]


def run_edits(engine: Engine, initial: str, edit_list) -> tuple[DocumentState, str]:
    document = DocumentState.open("mem://incremental", initial)
    text = initial
    engine.complete(document, *position_of(text, len(text)))
    for version, (where, length, new_text, ask_at) in enumerate(edit_list, 1):
        start = position_of(text, int(where * len(text)))
        end = position_of(text, min(len(text), offset_of(text, start) + length))
        first, last = offset_of(text, start), offset_of(text, end)
        text = text[:first] + new_text + text[last:]
        document.edit(start, end, new_text)
        document.version = version
        assert document.source == text
        engine.complete(document, *position_of(text, first + len(new_text)))
        engine.complete(document, *position_of(text, int(ask_at * len(text))))
    return document, text


def assert_equals_fresh(
    engine: Engine, document: DocumentState, text: str, positions: list[tuple[int, int]]
) -> None:
    """Completions at `positions` equal those of a fresh engine that opened `text`."""
    fresh_engine = Engine(engine.bundle, TEST_SETTINGS)
    fresh = DocumentState.open("mem://fresh", text)
    for line, column in positions:
        assert engine.complete(document, line, column) == fresh_engine.complete(
            fresh, line, column
        ), (text, line, column)


shared_engine = load_engine(TINY_BUNDLE, TEST_SETTINGS)


@settings(max_examples=300, deadline=None)
@given(text=texts, chunk=st.integers(1, 8), cut=st.floats(0, 1))
def test_line_pieces_tokenize_like_the_whole(text: str, chunk: int, cut: float) -> None:
    """The cursor line is tokenized in cached pieces split at whitespace: same tokens."""
    line = text.replace("\n", " ").replace("\r", " ")
    start = int(cut * len(line))
    pieces = span_tokens(line, start, len(line), chunk)
    whole = tokenize_line(line[start:])
    assert [token for piece in pieces for token in piece.folded] == list(whole.folded)
    assert [word for piece in pieces for word in piece.words] == list(whole.words)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=texts, edit_list=edits)
def test_incremental_equals_fresh(initial: str, edit_list) -> None:
    document, text = run_edits(shared_engine, initial, edit_list)
    fresh_text = DocumentText.from_text(text)
    assert document.text.lines == fresh_text.lines
    assert document.text.fence_lines == fresh_text.fence_lines
    assert_equals_fresh(shared_engine, document, text, all_positions(text)[:80])


@settings(max_examples=100, deadline=None)
@given(initial=texts, edit_list=edits, ahead=st.sampled_from(["none", "speculate", "prepare"]))
def test_typing_a_character_at_a_time_equals_fresh(initial: str, edit_list, ahead: str) -> None:
    """Typing the final text into an empty document, asking at every keystroke; with `ahead`,
    doing after each one what the server does ahead of a space (`speculate`: the step and the
    search on the worker thread, let finish; `prepare`: the whole completion, as when the user
    pauses): then every answer, prepared or not, is compared with a fresh engine's."""
    _, text = run_edits(shared_engine, initial, edit_list)
    shared_engine.speculation.starved_share = 0.0  # a loaded test machine must not pause it
    document = DocumentState.open("mem://typed", "")
    for offset, char in enumerate(text):
        position = position_of(text[:offset], offset)
        document.edit(position, position, char)
        cursor = position_of(text[: offset + 1], offset + 1)
        completions = shared_engine.complete(document, *cursor)
        if ahead != "none":
            fresh = DocumentState.open("mem://fresh", text[: offset + 1])
            assert completions == Engine(shared_engine.bundle, TEST_SETTINGS).complete(
                fresh, *cursor
            ), (text[: offset + 1], cursor)
        if ahead == "prepare":
            shared_engine.prepare_next_word(document, *cursor)
        elif ahead == "speculate" and shared_engine.speculate(document, *cursor):
            assert shared_engine.speculation.job is not None
            shared_engine.speculation.job.future.result()
    assert document.source == text
    assert_equals_fresh(shared_engine, document, text, all_positions(text)[-40:])


softmax_engine = load_engine(TINY_SOFTMAX_BUNDLE, TEST_SETTINGS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=texts, edit_list=edits)
def test_incremental_equals_fresh_for_softmax_bundles(initial: str, edit_list) -> None:
    document, text = run_edits(softmax_engine, initial, edit_list)
    assert_equals_fresh(softmax_engine, document, text, all_positions(text)[:40])


COUNTED_TEXT = """The President of the United States spoke to the government and the people.
Ladies and gentlemen, the people of London govern themselves. The people of the state.
Ladies and gentlemen, the government of the people, by the people, for the people.
I think I know the governor of the state. The President of the United States.
"""


def with_counts(path: Path) -> Engine:
    """An engine on a tiny bundle given corpus counts of COUNTED_TEXT (every count kept)."""
    bundle = load_bundle(path)
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        corpus.write_text(COUNTED_TEXT, encoding="utf-8")
        tokenized = tokenize_corpus([corpus], dev_every=0, paragraphs="lines")
    lookup = provisional_to_vocab(tokenized, bundle.vocab)
    paragraphs = [lookup[paragraph] for paragraph in tokenized.train]
    arrays = count_ngrams(paragraphs, bundle.vocab, bundle.max_context_tokens, min_count=1)
    table = table_from_arrays(arrays, len(bundle.vocab), bundle.vocab.n_words)
    return Engine(dataclasses.replace(bundle, ngrams=table), TEST_SETTINGS)


counted_engines = [with_counts(TINY_BUNDLE), with_counts(TINY_SOFTMAX_BUNDLE)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=texts, edit_list=edits, which=st.sampled_from([0, 0, 1]))
def test_incremental_equals_fresh_with_corpus_counts(initial: str, edit_list, which: int) -> None:
    engine = counted_engines[which]
    document, text = run_edits(engine, initial, edit_list)
    assert_equals_fresh(engine, document, text, all_positions(text)[:60])


def test_the_counts_reach_the_tiny_engines() -> None:
    """The property above exercises the counts: they change what is offered here."""
    text = "Ladies and "
    for engine in counted_engines:
        outcomes = {}
        for name, ngrams in [
            ("off", NgramSettings(enabled=False)), ("default", NgramSettings()),
            ("counts decide", NgramSettings(weight=1.0)),
        ]:  # fmt: skip
            variant = Engine(engine.bundle, dataclasses.replace(TEST_SETTINGS, ngrams=ngrams))
            found = variant.complete(DocumentState.open("mem://c", text), 0, len(text))
            outcomes[name] = [completion.text for completion in found]
        assert outcomes["counts decide"][0] == "gentlemen"
        assert outcomes["default"] != outcomes["off"]
