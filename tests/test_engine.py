"""The engine and its parts without the LSP: document store, cursor rules, ranking, settings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import TINY_BUNDLE, TINY_SOFTMAX_BUNDLE
from pygls.workspace.position_codec import PositionCodec

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import load_engine
from nextword.server.engine.ranking import restore_case
from nextword.server.engine.states import StateCache, entry_bytes
from nextword.server.lsp.convert import character_of, column_of, filter_text
from nextword.server.model.bundle import BundleError
from nextword.server.model.predictor import CachedStep
from nextword.server.settings import ContextLimits, Settings, parse_settings
from nextword.server.text.cursor import (
    Suppressed,
    analyse_cursor,
    paragraph_tokens,
    suppressed,
    words_around,
)
from nextword.server.text.document import DocumentText, split_lines


def words(completions) -> list[str]:
    return [completion.text for completion in completions]


def complete_end(engine, text: str, language: str = "plaintext"):
    document = DocumentState.open("mem://test", text, language)
    lines = split_lines(text)
    return engine.complete(document, len(lines) - 1, len(lines[-1]))


# -- document store ---------------------------------------------------------------------------


def test_split_lines_uses_lsp_line_ends_only() -> None:
    assert split_lines("a\nb\r\nc\rd\u2028e\x0cf") == ["a\n", "b\r\n", "c\r", "d\u2028e\x0cf"]
    assert split_lines("") == [""]
    assert split_lines("x\n") == ["x\n", ""]


@pytest.mark.parametrize(
    ("text", "start", "end", "new", "expected"),
    [
        ("abc\ndef", (0, 1), (1, 2), "X", "aXf"),
        ("abc\ndef", (1, 3), (1, 3), "\n\n", "abc\ndef\n\n"),
        ("ab\r\ncd", (0, 2), (1, 0), "", "abcd"),
        ("ab\rcd", (1, 0), (1, 0), "\n", "ab\r\ncd"),
        ("ab\ncd", (0, 2), (0, 2), "\r", "ab\r\ncd"),
        ("ab\ncd", (5, 0), (9, 9), "!", "ab\ncd!"),
    ],
)
def test_edits_match_string_edits(text, start, end, new, expected) -> None:
    document = DocumentText.from_text(text)
    document.replace(start, end, new)
    assert document.text == expected
    assert document.lines == split_lines(expected)


def test_fence_lines_follow_edits() -> None:
    document = DocumentText.from_text("a\n```\ncode\n```\nb")
    assert document.fence_lines == [1, 3]
    document.replace((0, 0), (0, 0), "x\ny\n")
    assert document.fence_lines == [3, 5]
    assert document.in_code_fence(4) and not document.in_code_fence(6)
    document.replace((5, 0), (5, 3), "")
    assert document.fence_lines == [3]
    assert document.in_code_fence(6)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_columns_round_trip_through_the_codec(encoding: str) -> None:
    codec = PositionCodec(encoding)
    line = "a😀é b"
    units = {"utf-8": [0, 1, 5, 7, 8, 9], "utf-16": [0, 1, 3, 4, 5, 6], "utf-32": list(range(6))}
    for column, character in enumerate(units[encoding]):
        assert character_of(codec, line, column) == character
        assert column_of(codec, line, character) == column
    assert column_of(codec, line, 999) == len(line)


# -- where completions make sense -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("see http://exam", Suppressed.IN_ADDRESS),
        ("mail me at bob@exa", Suppressed.IN_ADDRESS),
        ("in 1990s the 12th", Suppressed.AFTER_NUMBER),
        ("some `co", Suppressed.IN_INLINE_CODE),
        ("```\nsome text", Suppressed.IN_CODE_BLOCK),
        ("~~~~\n```\nthe", Suppressed.IN_CODE_BLOCK),
    ],
)
def test_no_completion_where_it_makes_no_sense(text: str, reason: Suppressed) -> None:
    document = DocumentText.from_text(text)
    line = len(document) - 1
    assert suppressed(document, line, len(document.content(line))) is reason


def test_no_completion_inside_a_word() -> None:
    document = DocumentText.from_text("the government")
    assert suppressed(document, 0, 8) is Suppressed.INSIDE_WORD
    assert suppressed(document, 0, 14) is None
    assert suppressed(DocumentText.from_text("```\nx\n```\nafter"), 3, 5) is None


def test_context_is_the_paragraph_before_the_word() -> None:
    document = DocumentText.from_text("Old text.\n\nThe first line\nand the sec")
    cursor = analyse_cursor(document, 3, 11, ContextLimits())
    assert cursor is not None
    assert (cursor.prefix, cursor.word_start) == ("sec", 8)
    assert cursor.tokens == ("the", "first", "line", "and", "the")
    assert not cursor.sentence_start


def test_lookback_is_bounded_in_lines_and_characters() -> None:
    text = "\n".join(f"line {i} words" for i in range(50)) + "\nlast "
    document = DocumentText.from_text(text)
    tokens, truncated = paragraph_tokens(document, 50, 5, ContextLimits(lookback_lines=3))
    assert tokens == ["line", "<num>", "words"] * 3 + ["last"] and truncated
    long_line = "word " * 10_000
    document = DocumentText.from_text(long_line)
    limits = ContextLimits(lookback_chars=1000)
    tokens, truncated = paragraph_tokens(document, 0, len(long_line), limits)
    assert 190 <= len(tokens) <= 250 and truncated
    assert paragraph_tokens(document, 0, 20, limits) == (["word"] * 4, False)


def test_a_cut_context_starts_with_the_continue_marker(tiny_engine) -> None:
    vocab = tiny_engine.vocab
    assert tiny_engine.context_key(["the"], truncated=True)[0] == vocab.id_of("<cont>")
    assert tiny_engine.context_key(["the"])[0] == vocab.id_of("<p>")


def test_sentence_start_skips_opening_quotes() -> None:
    document = DocumentText.from_text('He left. "')
    cursor = analyse_cursor(document, 0, 10, ContextLimits())
    assert cursor is not None and cursor.sentence_start


# -- case and filter text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("display", "typed", "sentence_start", "expected"),
    [
        ("the", "Th", False, "The"),
        ("london", "LO", False, "LONDON"),
        ("the", "", True, "The"),
        ("London", "lon", False, "London"),
        ("I", "", False, "I"),
        ("the", "th", True, "the"),
        ("information", "I", False, "Information"),
    ],
)
def test_restore_case(display: str, typed: str, sentence_start: bool, expected: str) -> None:
    assert restore_case(display, typed, sentence_start) == expected


def test_filter_text_starts_with_what_was_typed() -> None:
    assert filter_text("London", "lon") == "london"
    assert filter_text("don't", "don’") == "don’t"
    assert filter_text("the", "") == "the"


# -- the engine -------------------------------------------------------------------------------


def test_prefix_filters_candidates(tiny_engine) -> None:
    found = words(complete_end(tiny_engine, "Ladies and gover"))
    assert sorted(found) == ["govern", "government", "governor"]
    assert all(word.startswith("Gover") for word in words(complete_end(tiny_engine, "Gover")))
    assert complete_end(tiny_engine, "xyzzy") == []


def test_display_form_and_sentence_start(tiny_engine) -> None:
    assert "London" in words(complete_end(tiny_engine, "we went to lon"))
    found = words(complete_end(tiny_engine, "It rained. "))
    assert found and all(word[0].isupper() for word in found)


def test_words_of_the_document_become_candidates(tiny_engine) -> None:
    text = "The zebrafish swam.\n\nAnother zebr"
    found = complete_end(tiny_engine, text)
    assert [c.text for c in found if not c.in_vocabulary] == ["zebrafish"]
    assert complete_end(tiny_engine, "zebr") == []  # the typed word itself is not a candidate


def test_the_fully_typed_word_is_left_out_only_when_identical(tiny_engine) -> None:
    assert "government" not in words(complete_end(tiny_engine, "the government"))
    assert "London" in words(complete_end(tiny_engine, "to london"))


def test_settings_shape_the_results(tiny_engine) -> None:
    engine = load_engine(TINY_BUNDLE, Settings(max_items=2))
    assert len(complete_end(engine, "the ")) == 2
    engine.configure(Settings(min_score=1e9))
    assert complete_end(engine, "the ") == []


def test_cache_off_gives_the_same_completions(tiny_engine) -> None:
    uncached = load_engine(TINY_BUNDLE, Settings(cache=False))
    text = "The president spoke to the people of the United States and the gov"
    for end in range(1, len(text) + 1):
        assert complete_end(tiny_engine, text[:end]) == complete_end(uncached, text[:end])


def test_a_word_boundary_costs_one_step(tiny_engine) -> None:
    document = DocumentState.open("mem://steps", "")
    text = "the people of the united states govern themselves and the"
    steps = []
    for column, char in enumerate(text):
        document.edit((0, column), (0, column), char)
        before = tiny_engine.stats.recurrent_steps
        tiny_engine.complete(document, 0, column + 1)
        steps.append(tiny_engine.stats.recurrent_steps - before)
    assert max(steps) <= 1
    assert sum(steps) <= text.count(" ") + 1


def test_softmax_bundle_ranks_logits_in_the_range() -> None:
    engine = load_engine(TINY_SOFTMAX_BUNDLE)
    assert sorted(words(complete_end(engine, "and gover"))) == ["govern", "government", "governor"]
    scores = [c.score for c in complete_end(engine, "the ")]
    assert scores == sorted(scores, reverse=True)


def test_broken_bundles_raise_bundle_error(tmp_path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_engine(tmp_path / "nowhere")
    for name in TINY_BUNDLE.iterdir():
        (tmp_path / name.name).write_bytes(name.read_bytes())
    (tmp_path / "predictor.onnx").write_bytes(b"not onnx")
    with pytest.raises(BundleError, match="predictor.onnx"):
        load_engine(tmp_path)


# -- state cache ------------------------------------------------------------------------------


def test_state_cache_is_bounded_per_document_and_globally() -> None:
    step = CachedStep(np.zeros(100, np.float32), np.zeros(100, np.float32))
    size = entry_bytes((0,), step)  # every key below has one token
    cache = StateCache(document_bytes=size * 3, total_bytes=size * 5)
    first, second = cache.new_document(), cache.new_document()
    for i in range(10):
        first.put((i,), dataclasses.replace(step))
    assert list(first.entries) == [(7,), (8,), (9,)]
    assert first.get((8,)) is not None
    for i in range(3):
        second.put((i,), dataclasses.replace(step))
    assert len(cache) == 5 and len(second) == 3
    assert list(first.entries) == [(9,), (8,)]  # (7,) went first: (8,) was used since


# -- settings ---------------------------------------------------------------------------------


def test_settings_from_nested_or_flat_options() -> None:
    settings, problems = parse_settings({"nextword": {"maxItems": 9, "ranking": {"prior": 0.5}}})
    assert (settings.max_items, settings.ranking.prior, problems) == (9, 0.5, [])
    settings, problems = parse_settings({"max_items": 3, "otherTool": 1})
    assert (settings.max_items, problems) == (3, [])


def test_invalid_settings_fall_back_to_defaults_and_are_named() -> None:
    options = {
        "nextword": {
            "maxItems": "many",
            "languages": "markdown",
            "cache": False,
            "ranking": {"prior": None},
            "minScore": None,
            "typo": 1,
        }
    }
    settings, problems = parse_settings(options)
    assert settings.max_items == 6 and settings.languages == Settings().languages
    assert settings.cache is False and settings.min_score is None
    assert settings.ranking.prior == Settings().ranking.prior
    text = "\n".join(problems)
    for name in ("maxItems", "languages", "ranking.prior", "typo"):
        assert name in text
    assert len(problems) == 4
    assert parse_settings({"nextword": {"maxItems": 0}})[0].max_items == 6
    assert parse_settings("nonsense")[1]


def _biased_copy(tmp_path, bias: dict[str, float], declared: bool = True, stored: bool = True):
    """tiny_bundle plus a word bias (output_bias.npy), as the table-softmax exporter writes it."""
    import json
    import shutil

    from nextword.server.model.bundle import MANIFEST, OUTPUT_BIAS, load_bundle, write_manifest

    path = tmp_path / "biased"
    shutil.copytree(TINY_BUNDLE, path)
    vocab = load_bundle(TINY_BUNDLE).vocab
    values = np.zeros(len(vocab), dtype=np.float32)
    for word, value in bias.items():
        values[vocab.index[word]] = value
    if stored:
        np.save(path / OUTPUT_BIAS, values)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["network"]["word_bias"] = declared
    manifest.pop("files")
    write_manifest(path, manifest)
    return path


def test_a_learned_word_bias_joins_the_score(tmp_path) -> None:
    plain = words(complete_end(load_engine(TINY_BUNDLE), "We hold these g"))
    target = next(word for word in reversed(plain) if word != plain[0])
    biased = load_engine(_biased_copy(tmp_path, {target.casefold(): 50.0}))
    assert biased.bundle.output_bias is not None
    assert words(complete_end(biased, "We hold these g"))[0] == target
    # Bias is a score, not a filter: it does not bring a word outside the prefix in.
    assert target not in words(complete_end(biased, "We hold these x"))


def test_a_bundle_that_declares_a_word_bias_must_carry_it(tmp_path) -> None:
    with pytest.raises(BundleError, match="output_bias.npy"):
        load_engine(_biased_copy(tmp_path, {}, declared=True, stored=False))


def test_the_words_around_a_line_are_kept_only_while_those_lines_stay() -> None:
    """`Engine.words_around` keeps the nearby lines' words between keystrokes; any edit to a
    line it read (above or below, within the window) must be seen."""
    limits = ContextLimits(window_lines_before=2, window_lines_after=1)
    engine = load_engine(TINY_BUNDLE)
    engine.configure(dataclasses.replace(engine.settings, context=limits))
    document = DocumentState.open("mem://around", "far away\nalpha beta\ngamma\ndelta \nomega")
    edits = [
        ((3, 6), (3, 6), "x"),  # the line itself
        ((1, 0), (1, 5), "zeta"),  # two lines above
        ((4, 0), (4, 5), "psi"),  # the line below
        ((0, 0), (0, 3), "near"),  # out of the window
        ((2, 0), (2, 0), "new\n"),  # a line inserted above: the line moves down
    ]
    line = 3
    for start, end, text in edits:
        assert engine.words_around(document, document.text, line) == words_around(
            document.text, line, limits
        )
        document.edit(start, end, text)
        line += text.count("\n")
        assert engine.words_around(document, document.text, line) == words_around(
            document.text, line, limits
        )


def numeric_settings(instance: object, path: str = "") -> dict[str, object]:
    """{dotted snake_case path: default} of every int or float setting."""
    import dataclasses

    found: dict[str, object] = {}
    for item in dataclasses.fields(instance):  # type: ignore[arg-type]
        value = getattr(instance, item.name)
        if dataclasses.is_dataclass(value):
            found |= numeric_settings(value, f"{path}{item.name}.")
        elif "int" in str(item.type) or "float" in str(item.type):
            found[f"{path}{item.name}"] = value
    return found


def test_every_numeric_setting_has_bounds_that_hold_its_default() -> None:
    from nextword.server.settings import BOUNDS

    numeric = numeric_settings(Settings())
    assert sorted(BOUNDS) == sorted(numeric)  # and no bound names a setting that is not there
    for name, default in numeric.items():
        low, high = BOUNDS[name]
        assert default is None or low <= default <= high, name


def test_out_of_bounds_settings_are_reported_and_replaced() -> None:
    options = {
        "context": {"lookbackChars": 10**9, "lookbackLines": 10**9, "windowLinesBefore": 10**9},
        "ngrams": {"candidates": 500},  # fine for ranking.candidates, too many here
        "ranking": {"candidates": 500},
    }
    settings, problems = parse_settings({"nextword": options})
    assert settings.context == Settings().context
    assert settings.ngrams.candidates == Settings().ngrams.candidates
    assert settings.ranking.candidates == 500
    assert len(problems) == 4, problems
    assert "nextword.context.lookbackChars = 1000000000 is invalid" in problems[0]
