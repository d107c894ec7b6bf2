"""Preparing the keystroke after a space (`Engine.prepare_next_word`), and the suppression right
after closing punctuation that makes the keystroke before the space cheap."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import TINY_BUNDLE, default_bundle_present

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.settings import RankingWeights, Settings
from nextword.server.text.cursor import Suppressed, suppressed
from nextword.server.text.document import DocumentText


@pytest.fixture
def engine() -> Engine:
    return load_engine(TINY_BUNDLE)


class CountingSearch:
    """Counts the int8 whole-vocabulary scans an engine runs."""

    def __init__(self, engine: Engine) -> None:
        assert engine.search.full_scan is not None
        self.search = engine.search.full_scan.search
        self.calls = 0
        engine.search.full_scan.search = self  # type: ignore[method-assign]

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.search(*args, **kwargs)


def end_of(document: DocumentState) -> tuple[int, int]:
    line = len(document.text) - 1
    return line, len(document.text.content(line))


def type_text(document: DocumentState, text: str) -> tuple[int, int]:
    position = end_of(document)
    document.edit(position, position, text)
    document.version += 1
    return end_of(document)


def fresh_completions(engine: Engine, text: str) -> list:
    fresh = DocumentState.open("mem://fresh", text)
    return Engine(engine.bundle, engine.settings).complete(fresh, *end_of(fresh))


@pytest.mark.parametrize("word", ["the government", "the house,", "and a 1990", "I said gentlemen"])
def test_a_prepared_space_runs_no_step_and_no_scan(engine: Engine, word: str) -> None:
    document = DocumentState.open("mem://a", "")
    engine.complete(document, *type_text(document, word))
    assert engine.prepare_next_word(document, *end_of(document))
    scans, steps = CountingSearch(engine), engine.stats.recurrent_steps
    completions = engine.complete(document, *type_text(document, " "))
    assert engine.stats.recurrent_steps == steps
    assert scans.calls == 0
    assert completions and completions == fresh_completions(engine, word + " ")


def test_the_prepared_space_is_answered_with_the_completion_kept(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = DocumentState.open("mem://a", "Zorblat met the keeper.\nThe keeper met Zorblat")
    engine.complete(document, *end_of(document))
    assert engine.prepare_next_word(document, *end_of(document))
    computed: list[int] = []
    complete_cursor = engine.complete_cursor
    monkeypatch.setattr(
        engine, "complete_cursor", lambda *a: computed.append(1) or complete_cursor(*a)
    )
    completions = engine.complete(document, *type_text(document, " "))
    assert completions and computed == []
    assert completions == fresh_completions(engine, document.source)
    # The memory took the blocks made for that text: the next word is completed as afresh.
    assert engine.complete(document, *type_text(document, "an")) == fresh_completions(
        engine, document.source
    )
    assert computed == [1]


@pytest.mark.parametrize("typed", ["s", "  ", "\n"])
def test_a_prepared_space_is_not_used_for_another_keystroke(engine: Engine, typed: str) -> None:
    document = DocumentState.open("mem://a", "the government")
    engine.complete(document, *end_of(document))
    assert engine.prepare_next_word(document, *end_of(document))
    position = type_text(document, typed)
    assert engine.complete(document, *position) == fresh_completions(engine, document.source)


def test_a_prepared_space_is_not_used_after_an_edit_elsewhere(engine: Engine) -> None:
    document = DocumentState.open("mem://a", "the house\nthe government")
    assert engine.prepare_next_word(document, *end_of(document))
    document.edit((0, 4), (0, 9), "senate")
    position = type_text(document, " ")
    assert engine.complete(document, *position) == fresh_completions(engine, document.source)
    assert position == end_of(document)


def test_without_preparing_the_space_does_the_work(engine: Engine) -> None:
    """The counterpart of the test above: the counters do see the work when it is not done
    before (so that test can fail)."""
    document = DocumentState.open("mem://a", "")
    engine.complete(document, *type_text(document, "the government"))
    scans, steps = CountingSearch(engine), engine.stats.recurrent_steps
    engine.complete(document, *type_text(document, " "))
    assert engine.stats.recurrent_steps == steps + 1
    assert scans.calls == 1


def test_a_search_prepared_under_other_settings_is_not_reused(engine: Engine) -> None:
    document = DocumentState.open("mem://a", "the government")
    assert engine.prepare_next_word(document, *end_of(document))
    for ranking in (RankingWeights(prior=0.5), RankingWeights(candidates=5)):
        engine.configure(dataclasses.replace(engine.settings, ranking=ranking))
        scans = CountingSearch(engine)
        position = type_text(document, " ")
        assert engine.complete(document, *position) == fresh_completions(engine, document.source)
        assert scans.calls == 1
        document.edit((0, position[1] - 1), position, "")  # take the space back


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("the government ", None),  # right after a space: the request searched this context
        ("", None),
        ("```\nthe government", None),  # in a code block
        ("see http://gover", None),
        ("the government", 6),  # inside a word
    ],
)
def test_nothing_to_prepare(engine: Engine, text: str, column: int | None) -> None:
    document = DocumentState.open("mem://a", text)
    line, end = end_of(document)
    steps = engine.stats.recurrent_steps
    assert not engine.prepare_next_word(document, line, end if column is None else column)
    assert engine.stats.recurrent_steps == steps


def test_nothing_is_prepared_with_the_cache_off() -> None:
    engine = load_engine(TINY_BUNDLE, Settings(cache=False))
    document = DocumentState.open("mem://a", "the government")
    assert not engine.prepare_next_word(document, *end_of(document))
    assert engine.stats.recurrent_steps == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("He lived in Dallas,", Suppressed.AFTER_PUNCTUATION),
        ("the end.", Suppressed.AFTER_PUNCTUATION),
        ('it gave "priority"', Suppressed.AFTER_PUNCTUATION),
        ('it said "no."', Suppressed.AFTER_PUNCTUATION),
        ("(see above)", Suppressed.AFTER_PUNCTUATION),
        ('directed to "', None),  # an opening quote: the word follows it directly
        ('and ("', None),
        ("see (", None),
        ("Dallas, ", None),
        ("Dallas,Harr", None),  # a word typed glued to the comma is still completed
    ],
)
def test_no_completion_right_after_closing_punctuation(
    text: str, reason: Suppressed | None
) -> None:
    document = DocumentText.from_text(text)
    assert suppressed(document, 0, len(text)) is reason


def test_right_after_punctuation_nothing_is_offered_and_the_space_is_prepared(
    engine: Engine,
) -> None:
    document = DocumentState.open("mem://a", "the house,")
    assert engine.complete(document, *end_of(document)) == []
    assert engine.prepare_next_word(document, *end_of(document))
    steps = engine.stats.recurrent_steps
    assert engine.complete(document, *type_text(document, " "))
    assert engine.stats.recurrent_steps == steps


@pytest.mark.skipif(not default_bundle_present(), reason="no default bundle in server/")
def test_with_corpus_counts_the_prepared_space_looks_nothing_up() -> None:
    engine = load_engine()
    assert engine.ranker.ngrams is not None
    document = DocumentState.open("mem://a", "")
    engine.complete(document, *type_text(document, "Ladies and"))
    assert engine.prepare_next_word(document, *end_of(document))
    scans, steps = CountingSearch(engine), engine.stats.recurrent_steps
    lookups = []
    evidence = engine.ranker.ngrams.evidence
    engine.ranker.ngrams.evidence = lambda *args: lookups.append(args) or evidence(*args)  # type: ignore[method-assign]
    completions = engine.complete(document, *type_text(document, " "))
    assert (scans.calls, engine.stats.recurrent_steps - steps, lookups) == (0, 0, [])
    assert completions[0].text == "gentlemen"
    assert completions == fresh_completions(engine, "Ladies and ")


def test_preparing_reads_a_copy_and_leaves_the_document_as_it_is(engine: Engine) -> None:
    document = DocumentState.open("mem://copy", "The people of the United")
    text, lines = document.text, list(document.text.lines)
    seen: list[object] = []
    complete_cursor = engine.complete_cursor

    def watch(doc, text_read, *args, **kwargs):
        seen.append((doc.text, text_read))
        return complete_cursor(doc, text_read, *args, **kwargs)

    engine.complete_cursor = watch  # type: ignore[method-assign]
    try:
        assert engine.prepare_next_word(document, 0, len(lines[0]))
    finally:
        del engine.complete_cursor
    assert seen and all(live is text and read is not text for live, read in seen)
    assert document.text is text and document.text.lines == lines


def test_a_prediction_drops_no_other_documents_caches() -> None:
    """Only a request marks a document used (and may drop the least recent one's caches): a
    prediction for a second document of the same URI leaves the first one's states alone."""
    engine = load_engine(TINY_BUNDLE, Settings(cached_documents=1))
    first = DocumentState.open("mem://same", "the people of")
    engine.complete(first, 0, 13)
    assert first.caches.states is not None and len(first.caches.states)
    second = DocumentState.open("mem://same", "the people of")
    engine.prediction(second, engine.context_key(["the", "people"]))
    assert len(first.caches.states)
