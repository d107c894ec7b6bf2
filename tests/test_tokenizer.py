"""The shared tokenizer: what training and serving both rely on."""

from __future__ import annotations

import pytest

from nextword.server.text.tokenizer import (
    CONTINUE_SYMBOL,
    NUMBER_SYMBOL,
    PARAGRAPH_SYMBOL,
    fold,
    is_word,
    paragraph_units,
    tokenize,
    word_prefix_at,
)
from nextword.server.text.window import context_symbols


def texts(text: str) -> list[str]:
    return [token.text for token in tokenize(text)]


def folded(text: str) -> list[str]:
    return [token.folded for token in tokenize(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't know", ["I", "don't", "know"]),
        ("she'd've gone", ["she'd've", "gone"]),
        ("the dogs' bones", ["the", "dogs", "'", "bones"]),
        ("'quoted'", ["'", "quoted", "'"]),
        ("rock 'n' roll", ["rock", "'", "n", "'", "roll"]),
    ],
)
def test_contractions_keep_inner_apostrophes(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_curly_apostrophe_is_one_word_and_folds_to_straight() -> None:
    tokens = tokenize("Don\u2019t")
    assert [t.text for t in tokens] == ["Don\u2019t"]
    assert tokens[0].folded == "don't"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("well-known", ["well-known"]),
        ("state-of-the-art design", ["state-of-the-art", "design"]),
        ("x--y", ["x", "-", "-", "y"]),
        ("-dash", ["-", "dash"]),
        ("end-", ["end", "-"]),
        ("a - b", ["a", "-", "b"]),
    ],
)
def test_hyphens_join_only_inside_words(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_numbers_fold_to_one_symbol() -> None:
    tokens = tokenize("It cost 1,000 dollars, or 3.14 each, at 10:30")
    numbers = [t for t in tokens if t.kind == "number"]
    assert [t.text for t in numbers] == ["1,000", "3.14", "10:30"]
    assert {t.folded for t in numbers} == {NUMBER_SYMBOL}
    assert texts("1999.") == ["1999", "."]


def test_punctuation_is_one_token_per_character() -> None:
    assert texts('He said: "Stop!"') == ["He", "said", ":", '"', "Stop", "!", '"']


def test_spans_point_into_the_source() -> None:
    text = "  Hello,  wörld! 42"
    for token in tokenize(text):
        assert text[token.start : token.end] == token.text


def test_unicode_letters_and_case_folding() -> None:
    assert folded("Straße NAÏVE Élan") == ["strasse", "naïve", "élan"]
    assert texts("Москва и Київ") == ["Москва", "и", "Київ"]


def test_decomposed_text_is_one_word_and_folds_like_composed() -> None:
    decomposed = "cafe\u0301 nai\u0308ve"
    assert texts(decomposed) == ["cafe\u0301", "nai\u0308ve"]
    assert folded(decomposed) == folded("café naïve") == ["café", "naïve"]
    assert fold("CAFE\u0301") == "café"


def test_astral_characters_do_not_break_tokens() -> None:
    tokens = tokenize("smile 😀 please")
    assert [t.text for t in tokens] == ["smile", "😀", "please"]
    assert [t.kind for t in tokens] == ["word", "punct", "word"]


def test_paragraph_breaks_need_a_blank_line() -> None:
    tokens = tokenize("One line\nsame paragraph.\n\nNew one.\n   \n\nThird")
    kinds = [t.kind for t in tokens]
    assert kinds.count("paragraph") == 2
    assert [t.folded for t in tokens if t.kind == "paragraph"] == [PARAGRAPH_SYMBOL] * 2
    units = list(paragraph_units(tokens))
    assert [[t.text for t in unit] for unit in units] == [
        ["One", "line", "same", "paragraph", "."],
        ["New", "one", "."],
        ["Third"],
    ]


def test_is_word() -> None:
    assert is_word("don't") and is_word("well-known") and is_word("Ünïcode")
    assert not is_word("don'") and not is_word("two words") and not is_word("42")


@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        ("I don", 5, (2, "don")),
        ("I don'", 6, (2, "don'")),
        ("well-kn", 7, (0, "well-kn")),
        ("hello ", 6, (6, "")),
        ("hello", 0, (0, "")),
        ("say hello world", 9, (4, "hello")),
        ("(Lon", 4, (1, "Lon")),
        ("naïv", 4, (0, "naïv")),
        ("cafe\u0301", 5, (0, "cafe\u0301")),
        ("end.", 4, (4, "")),
    ],
)
def test_word_prefix_at(line: str, column: int, expected: tuple[int, str]) -> None:
    assert word_prefix_at(line, column) == expected


def test_context_symbols_restart_at_paragraph_and_window() -> None:
    tokens = [f"w{i}" for i in range(7)]
    assert context_symbols([], 3) == [PARAGRAPH_SYMBOL]
    assert context_symbols(tokens[:2], 3) == [PARAGRAPH_SYMBOL, "w0", "w1"]
    assert context_symbols(tokens[:3], 3) == [CONTINUE_SYMBOL]
    assert context_symbols(tokens[:5], 3) == [CONTINUE_SYMBOL, "w3", "w4"]
    assert context_symbols(tokens, 3) == [CONTINUE_SYMBOL, "w6"]
    with pytest.raises(ValueError):
        context_symbols(tokens, 0)


def test_context_symbols_bound_the_work() -> None:
    tokens = ["w"] * 1000
    for end in range(0, 1000, 37):
        assert len(context_symbols(tokens[:end], 64)) <= 64
