"""Ghost text (inline.py): a greedy rollout from the cursor, only when confident."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import TINY_BUNDLE, TINY_SOFTMAX_BUNDLE

from nextword.server.engine.engine import Engine, load_engine
from nextword.server.engine.inline import extend_key, suggest_inline
from nextword.server.settings import Settings, parse_settings
from nextword.server.text.document import DocumentState

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


def test_at_most_max_words() -> None:
    engine = engine_with(min_margin=-1e9, max_words=2)
    suggestion, _ = at_end(engine, "The people of the ")
    if suggestion is not None:
        assert 1 <= len(suggestion.words) <= 2
        assert suggestion.text == " ".join(suggestion.words)
    longer = engine_with(min_margin=-1e9, max_words=6)
    for text in ("The people of the ", STORY + "We met "):
        suggestion, _ = at_end(longer, text)
        assert suggestion is None or len(suggestion.words) <= 6


def test_nothing_inside_a_word_or_before_more_text(engine: Engine) -> None:
    document = DocumentState.open("mem://inline", STORY + "Zorb and more")
    assert suggest_inline(engine, document, 1, 10) is None  # text follows on the line
    document = DocumentState.open("mem://inline", STORY + "Zorblat")
    assert suggest_inline(engine, document, 1, 9) is None  # inside a word


def test_extending_a_key_matches_the_context_policy(engine: Engine) -> None:
    tokens = ["the", "people", ",", "of"] * engine.bundle.max_context_tokens
    for n in range(len(tokens) - 1):
        extended = extend_key(engine, engine.context_key(tokens[:n]), tokens[n])
        assert extended == engine.context_key(tokens[: n + 1])


def test_softmax_bundles_roll_out_too() -> None:
    suggestion, _ = at_end(engine_with(TINY_SOFTMAX_BUNDLE, min_margin=-1e9), "The peo")
    assert suggestion is None or suggestion.text.lower().startswith("peo")


def test_inline_settings_are_read_and_checked() -> None:
    settings, problems = parse_settings(
        {"nextword": {"inlineSuggestions": False, "inline": {"maxWords": 0, "minMargin": 0.5}}}
    )
    assert settings.inline_suggestions is False
    assert settings.inline.min_margin == 0.5
    assert settings.inline.max_words == Settings().inline.max_words
    assert len(problems) == 1 and "maxWords" in problems[0]
