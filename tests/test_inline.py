"""Ghost text (engine/inline.py): a greedy rollout from the cursor, only when confident."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import TINY_BUNDLE, TINY_SOFTMAX_BUNDLE

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.engine.inline import suggest_inline
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


def test_nothing_when_not_confident() -> None:
    unsure = engine_with(min_margin=1e9)
    assert at_end(unsure, STORY + "Then ")[0] is None
    # The only word matching what is typed leads by any margin.
    assert at_end(unsure, STORY + "Zorb")[0] is not None


def test_the_rollout_stops_at_max_words() -> None:
    """The softmax bundle's rollout goes on while it is confident (any margin here): it must
    stop at exactly `max_words`, and a longer rollout must be that one carried on."""
    texts = ("The people of the ", "The Pre")
    for text in texts:
        short, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, min_margin=-1e9, max_words=2), text)
        long, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, min_margin=-1e9, max_words=6), text)
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
    suggestion, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, min_margin=-1e9), "The peo")
    assert suggestion is not None and suggestion.text.startswith("peo")
    assert suggestion.words[0] == "people"


def test_inline_settings_are_read_and_checked() -> None:
    settings, problems = parse_settings(
        {"nextword": {"inlineSuggestions": False, "inline": {"maxWords": 0, "minMargin": 0.5}}}
    )
    assert settings.inline_suggestions is False
    assert settings.inline.min_margin == 0.5
    assert settings.inline.max_words == Settings().inline.max_words
    assert len(problems) == 1 and "maxWords" in problems[0]
