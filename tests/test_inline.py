"""Ghost text (engine/inline.py): a greedy rollout from the cursor, only when confident."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import TINY_BUNDLE, TINY_SOFTMAX_BUNDLE

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.engine.inline import (
    GhostWord,
    confident,
    kept_words,
    suggest_inline,
    top_probability,
)
from nextword.server.engine.ranking import Candidate
from nextword.server.settings import Settings, parse_settings

NAME = "Zorblat Quenwick"
STORY = f"{NAME} came. Then {NAME} left. We met {NAME} again.\nToday "


def engine_with(bundle=TINY_BUNDLE, **inline) -> Engine:
    settings = Settings()
    settings.inline = dataclasses.replace(settings.inline, **inline)
    return load_engine(bundle, settings)


def at_end(engine: Engine, text: str):
    document = DocumentState.open("mem://inline", text)
    last = len(document.text) - 1
    return suggest_inline(engine, document, last, len(document.text.content(last))), document


@pytest.fixture(scope="module")
def engine() -> Engine:
    return engine_with()


def test_the_rest_of_a_made_up_name_is_suggested(engine: Engine) -> None:
    suggestion, document = at_end(engine, STORY + "Zorb")
    assert suggestion is not None
    assert suggestion.text.startswith("Zorblat")
    assert (suggestion.line, suggestion.word_start, suggestion.column) == (1, 6, 10)
    # The first word is the completion the popup would rank first.
    top = engine.complete(document, 1, 10)[0].text
    assert suggestion.words[0] == top


def test_the_typed_letters_are_kept_as_typed(engine: Engine) -> None:
    suggestion, _ = at_end(engine, STORY + "zorb")
    assert suggestion is not None and suggestion.text.startswith("zorb")


ANY = {"min_probability": 0.0, "min_probability_typed": 0.0, "min_phrase_probability": 0.0}
"""Thresholds that keep every word: the rollout stops only at max_words or the budget."""


def test_nothing_when_not_confident() -> None:
    unsure = engine_with(min_probability=1.0, min_probability_typed=1.0)
    assert at_end(unsure, STORY + "Then ")[0] is None
    # The only word matching what is typed has all the probability.
    assert at_end(unsure, STORY + "Zorb")[0] is not None


def test_the_rollout_stops_at_max_words() -> None:
    """The softmax bundle's rollout goes on while it is confident (any probability here): it must
    stop at exactly `max_words`, and a longer rollout must be that one carried on."""
    texts = ("The people of the ", "The Pre")
    for text in texts:
        short, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, **ANY, max_words=2, budget_ms=1e3), text)
        long, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, **ANY, max_words=6, budget_ms=1e3), text)
        assert short is not None and long is not None
        assert len(short.words) == 2 and len(long.words) == 6
        assert long.words[:2] == short.words
        assert short.text.endswith(" ".join(short.words[1:]))


def test_nothing_inside_a_word_or_before_more_text(engine: Engine) -> None:
    document = DocumentState.open("mem://inline", STORY + "Zorb and more")
    assert suggest_inline(engine, document, 1, 10) is None  # text follows on the line
    document = DocumentState.open("mem://inline", STORY + "Zorblat")
    assert suggest_inline(engine, document, 1, 9) is None  # inside a word


def test_softmax_bundles_roll_out_too() -> None:
    suggestion, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, **ANY), "The peo")
    assert suggestion is not None and suggestion.text.startswith("peo")
    assert suggestion.words[0] == "people"


def test_inline_settings_are_read_and_checked() -> None:
    settings, problems = parse_settings(
        {"nextword": {"inlineSuggestions": False, "inline": {"maxWords": 0, "minProbability": 0.6}}}
    )
    assert settings.inline_suggestions is False
    assert settings.inline.min_probability == 0.6
    assert settings.inline.max_words == Settings().inline.max_words
    assert len(problems) == 1 and "maxWords" in problems[0]


def test_the_budget_bounds_the_phrase() -> None:
    """Past the first word no word is started once the budget is spent: with none, one word."""
    text = "The people of the "
    free, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, **ANY, max_words=6, budget_ms=1e3), text)
    bounded, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, **ANY, max_words=6, budget_ms=0), text)
    assert free is not None and len(free.words) == 6
    assert bounded is not None and bounded.words == free.words[:1]


def test_the_phrase_stops_where_its_probability_falls() -> None:
    """A threshold on the phrase's probability keeps the longest prefix of the unthresholded
    rollout whose product of probabilities reaches it, as `kept_words` reads it."""
    text = "The people of the "
    free, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, **ANY, max_words=6, budget_ms=1e3), text)
    assert free is not None
    products = np.cumprod(free.probabilities)
    floor = float(products[2])  # keeps exactly three words, unless the third ties the fourth
    settings = {**ANY, "min_phrase_probability": floor, "max_words": 6, "budget_ms": 1e3}
    cut, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, **settings), text)
    expected = int((products >= floor).sum())
    assert cut is not None and cut.words == free.words[:expected] and expected >= 3
    words = [GhostWord(w, p) for w, p in zip(free.words, free.probabilities)]
    inline = dataclasses.replace(Settings().inline, **settings)
    kept = kept_words(words, confident(inline), False, 6)
    assert tuple(w.word for w in kept) == cut.words


def test_probability_is_the_top_candidates_share() -> None:
    candidates = [Candidate(w, w, s, True) for w, s in (("a", 0.0), ("b", -math.log(3)))]
    assert top_probability(candidates) == pytest.approx(0.75)
    assert top_probability(candidates[:1]) == 1.0
