"""The document cache (memory/): the document's own words, found by context."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import TINY_BUNDLE, TINY_SOFTMAX_BUNDLE, default_bundle_present
from hypothesis import given, settings
from hypothesis import strategies as st

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.memory import blocks, pieces, units
from nextword.server.memory import document as document_memory
from nextword.server.memory.blocks import extended_block, make_block
from nextword.server.memory.mixing import MOST_WORDS, combine_mass, mixed_scores
from nextword.server.memory.pieces import piece_bounds
from nextword.server.memory.units import assemble
from nextword.server.settings import MemorySettings, Settings, parse_settings
from nextword.server.text.cursor import analyse_cursor

NAME = "Zorblat Quenwick"
# Far more lines than the ranking's nearby-words window, so only the memory can know the name.
FILLER = "\n".join(f"Line {i} of the people and the government." for i in range(60))
STORY = f"{NAME} came. Then {NAME} left. We met {NAME} again.\n{FILLER}\nToday "


def engine_with(bundle=TINY_BUNDLE, **memory) -> Engine:
    settings = Settings()
    settings.memory = dataclasses.replace(settings.memory, **memory)
    return load_engine(bundle, settings)


def end_of(document: DocumentState) -> tuple[int, int]:
    last = len(document.text) - 1
    return last, len(document.text.content(last))


def words_at_end(engine: Engine, document: DocumentState) -> list[str]:
    return [completion.text for completion in engine.complete(document, *end_of(document))]


@pytest.fixture(scope="module")
def memory_engine() -> Engine:
    return engine_with()


def test_a_made_up_name_is_completed_from_its_first_letters(memory_engine: Engine) -> None:
    document = DocumentState.open("mem://story", STORY + "Zo")
    assert words_at_end(memory_engine, document)[0] == "Zorblat"
    document = DocumentState.open("mem://story", STORY + "Zorblat Qu")
    assert words_at_end(memory_engine, document)[0] == "Quenwick"


def test_without_the_memory_the_name_is_not_offered() -> None:
    engine = engine_with(enabled=False)
    document = DocumentState.open("mem://story", STORY + "Zo")
    assert "Zorblat" not in words_at_end(engine, document)


def test_the_name_keeps_the_case_it_was_written_in(memory_engine: Engine) -> None:
    document = DocumentState.open("mem://story", STORY.replace("Zorblat", "ZorBlat") + "zo")
    # Typed in lower case: the word as written (restore_case leaves a lower-case prefix alone).
    assert "ZorBlat" in words_at_end(memory_engine, document)


def test_words_do_not_leak_into_another_document(memory_engine: Engine) -> None:
    memory_engine.complete(DocumentState.open("mem://a", STORY), STORY.count("\n"), 6)
    other = DocumentState.open("mem://b", "Here Zo")
    assert "Zorblat" not in words_at_end(memory_engine, other)


def test_workspace_memory_shares_words_between_open_documents() -> None:
    engine = engine_with(workspace=True)
    first = DocumentState.open("mem://a", STORY)
    engine.complete(first, STORY.count("\n"), 6)
    other = DocumentState.open("mem://b", "Here Zo")
    assert "Zorblat" in words_at_end(engine, other)
    engine.drop_caches(first)  # closed: its words go with it
    other = DocumentState.open("mem://c", "Here Zo")
    assert "Zorblat" not in words_at_end(engine, other)


def test_the_memory_is_bounded_by_max_pairs() -> None:
    engine = engine_with(max_pairs=10)
    document = DocumentState.open("mem://story", STORY + "Zo")
    words_at_end(engine, document)
    assert 0 < len(document.caches.memory) <= 10
    assert "Zorblat" not in words_at_end(engine, document)  # the name is further back


def test_typing_inside_a_word_reuses_the_block(memory_engine: Engine) -> None:
    document = DocumentState.open("mem://typing", STORY + "Z")
    words_at_end(memory_engine, document)
    blocks = document.caches.memory.blocks
    steps = memory_engine.stats.recurrent_steps
    document.edit((STORY.count("\n"), 7), (STORY.count("\n"), 7), "o")
    words_at_end(memory_engine, document)
    assert all(a is b for a, b in zip(document.caches.memory.blocks, blocks))
    assert memory_engine.stats.recurrent_steps == steps


def test_an_edit_far_back_equals_a_fresh_build(memory_engine: Engine) -> None:
    document = DocumentState.open("mem://edited", STORY + "Zo")
    before = words_at_end(memory_engine, document)
    document.edit((0, 0), (0, 0), "Once ")
    fresh = DocumentState.open("mem://fresh", "Once " + STORY + "Zo")
    assert memory_engine.complete(document, STORY.count("\n"), 8) == memory_engine.complete(
        fresh, STORY.count("\n"), 8
    )
    assert before[0] == "Zorblat"


def test_a_piece_grown_word_by_word_equals_one_built_at_once(
    memory_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[str] = []
    build_unit = document_memory.build_unit
    monkeypatch.setattr(
        document_memory, "build_unit", lambda *a: walked.append(a[2]) or build_unit(*a)
    )
    line = "The keeper of the lighthouse saw Zorblat Quenwick and the keeper waved at "
    document = DocumentState.open("mem://grown", "")
    for end in range(1, len(line) + 1):
        document.edit((0, end - 1), (0, end - 1), line[end - 1])
        memory_engine.complete(document, 0, end)
    assert "waved " in walked  # the last word alone: the piece before it was reused
    grown = document.caches.memory.blocks[-1]
    fresh_document = DocumentState.open("mem://fresh-grown", line)
    memory_engine.complete(fresh_document, 0, len(line))
    fresh = fresh_document.caches.memory.blocks[-1]
    assert grown.words == fresh.words and grown.written == fresh.written
    assert np.array_equal(grown.vectors, fresh.vectors)
    assert np.array_equal(grown.previous, fresh.previous)


def test_softmax_bundles_complete_without_the_memory() -> None:
    engine = engine_with(TINY_SOFTMAX_BUNDLE)
    document = DocumentState.open("mem://story", STORY + "Zo")
    words_at_end(engine, document)
    assert document.caches.memory is None


def test_memory_settings_are_read_and_checked() -> None:
    settings, problems = parse_settings(
        {"nextword": {"memory": {"enabled": False, "maxPairs": 0, "theta": 20}}}
    )
    assert settings.memory.enabled is False
    assert settings.memory.theta == 20
    assert settings.memory.max_pairs == MemorySettings().max_pairs
    assert len(problems) == 1 and "maxPairs" in problems[0]
    settings, problems = parse_settings({"memory": {"halfWeightPairs": -1, "minNorm": 2}})
    assert settings.memory.half_weight_pairs == MemorySettings().half_weight_pairs
    assert settings.memory.min_norm == 2 and len(problems) == 1


def test_mixing_keeps_the_order_of_words_the_memory_does_not_know() -> None:
    scores, from_cache = np.array([0.5, 0.4, 0.1]), np.array([0.0, 0.0, 1.0])  # only "c" known
    mixed = mixed_scores(scores, from_cache, MemorySettings(weight=0.5, temperature=0.1))
    shift = 0.1 * np.log(0.5)
    assert mixed[0] == pytest.approx(0.5 + shift)
    assert mixed[1] == pytest.approx(0.4 + shift)
    assert mixed[2] > scores[2] + shift  # the memory's word gained


def mass_of(block, query, typed, previous, settings) -> dict[str, tuple[float, str]]:
    """{word: (cache mass, as written)} of one block's words starting with `typed`."""
    lo, sums = block.masses(query, typed, previous, settings)
    return {block.words[lo + i]: (v, block.written[lo + i]) for i, v in enumerate(sums.tolist())}


def test_blocks_sort_rows_by_word_and_keep_the_last_spelling() -> None:
    vectors = np.eye(3, dtype=np.float32)
    block = make_block(vectors, ["b", "a", "b"], ["B", "a", "bB"])
    assert block.words == ["a", "b"] and block.written == ["a", "bB"]
    masses = mass_of(block, np.asarray([0, 0, 1], np.float32), "b", "", MemorySettings(theta=1.0))
    assert masses["b"][0] == pytest.approx(np.exp(-1.0) + 1.0)


def test_pairs_after_the_same_token_count_more() -> None:
    vectors = np.ones((3, 2), dtype=np.float32) / np.sqrt(2)
    block = make_block(vectors, ["x", "y", "y"], ["x", "y", "y"], ["zorblat", "came", "left"])
    query = vectors[0]
    plain = mass_of(block, query, "", "zorblat", MemorySettings(theta=1.0, same_previous=1.0))
    boosted = mass_of(block, query, "", "zorblat", MemorySettings(theta=1.0, same_previous=4.0))
    assert plain["x"][0] == pytest.approx(1.0) and plain["y"][0] == pytest.approx(2.0)
    assert boosted["x"][0] == pytest.approx(4.0) and boosted["y"][0] == pytest.approx(2.0)


def test_every_block_sees_the_token_before_the_cursor_word() -> None:
    """The same-token factor applies in every block, not only the first."""
    vectors = np.ones((1, 2), dtype=np.float32) / np.sqrt(2)
    first = make_block(vectors, ["x"], ["x"], ["zorblat"])
    second = make_block(vectors, ["y"], ["y"], ["zorblat"])
    settings = MemorySettings(theta=1.0, same_previous=4.0, half_weight_pairs=0.0)
    masses = combine_mass([first, second], vectors[0], "", "zorblat", settings)
    assert masses["x"][0] == pytest.approx(0.5) and masses["y"][0] == pytest.approx(0.5)
    masses = combine_mass([first, second], vectors[0], "", "quenwick", settings)
    assert masses["x"][0] == pytest.approx(0.5) and masses["y"][0] == pytest.approx(0.5)
    mixed = make_block(np.vstack([vectors, vectors]), ["x", "x"], ["x", "x"], ["a", "b"])
    masses = combine_mass([mixed, second], vectors[0], "", "zorblat", settings)
    assert masses["y"][0] == pytest.approx(4.0 / 6.0)  # 4 for y after zorblat, 1 + 1 for x


def shares_by_dicts(blocks, query, typed, previous, settings):
    """The cache distribution the slow way: every word's mass summed through a dict over the
    blocks (spelling from the first block that has it), each word's share of the total, the
    MOST_WORDS likeliest. The normalisation's extras (min_norm, half_weight_pairs) are checked
    against figures of their own below; here they are off."""
    assert settings.min_norm == 0 and settings.half_weight_pairs == 0
    total: dict[str, tuple[float, str]] = {}
    for block in blocks:
        for word, (mass, written) in mass_of(block, query, typed, previous, settings).items():
            seen = total.get(word)
            total[word] = (mass + seen[0], seen[1]) if seen else (mass, written)
    norm = sum(mass for mass, _ in total.values())
    best = sorted(total.items(), key=lambda item: (-item[1][0], item[0]))[:MOST_WORDS]
    return {word: (mass / norm, written) for word, (mass, written) in best}


def test_combined_masses_equal_the_shares_summed_by_dicts() -> None:
    rng = np.random.default_rng(7)
    vocabulary = [f"w{i:03d}" for i in range(300)]
    settings = MemorySettings(theta=3.0, half_weight_pairs=0.0)
    for trial in range(40):
        blocks = []
        for size in rng.integers(0, 900, rng.integers(1, 4)):
            words = [vocabulary[i] for i in rng.integers(0, 300 if trial % 2 else 40, size)]
            written = [word.upper() if rng.random() < 0.3 else word for word in words]
            vectors = rng.standard_normal((size, 8)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
            before = [vocabulary[i] for i in rng.integers(0, 5, size)]
            blocks.append(make_block(vectors, words, written, before))
        query = rng.standard_normal(8).astype(np.float32)
        query /= np.linalg.norm(query)
        for typed in ("", "w0", "w1", "w29", "x"):
            fast = combine_mass(blocks, query, typed, vocabulary[1], settings)
            plain = shares_by_dicts(blocks, query, typed, vocabulary[1], settings)
            assert list(fast) == list(plain)
            assert [w for _, w in fast.values()] == [w for _, w in plain.values()]
            assert np.allclose([m for m, _ in fast.values()], [m for m, _ in plain.values()])


def test_min_norm_keeps_words_from_unlike_contexts_unlikely() -> None:
    block = make_block(np.asarray([[1.0, 0.0]], np.float32), ["x"], ["x"])
    query = np.asarray([0.0, 1.0], np.float32)  # orthogonal: weight exp(-theta)
    plain = combine_mass([block], query, "", "", MemorySettings(theta=5.0, half_weight_pairs=0))
    floored = MemorySettings(theta=5.0, min_norm=1.0, half_weight_pairs=0)
    assert plain["x"][0] == pytest.approx(1.0)
    assert combine_mass([block], query, "", "", floored)["x"][0] == pytest.approx(np.exp(-5.0))


def test_a_memory_of_few_pairs_gets_little_weight() -> None:
    settings = MemorySettings(theta=1.0, half_weight_pairs=3.0)
    vectors = np.ones((1, 2), dtype=np.float32) / np.sqrt(2)
    one = make_block(vectors, ["x"], ["x"])
    assert combine_mass([one], vectors[0], "", "", settings)["x"][0] == pytest.approx(0.25)
    three = make_block(np.vstack([vectors] * 3), ["x", "y", "y"], ["x", "y", "y"])
    masses = combine_mass([three], vectors[0], "", "", settings)
    assert masses["x"][0] == pytest.approx(0.5 / 3) and masses["y"][0] == pytest.approx(1 / 3)


@pytest.mark.skipif(not default_bundle_present(), reason="no default bundle")
@pytest.mark.parametrize("text", ["Ladies and ", "The President of the United "])
def test_a_short_document_does_not_offer_its_own_words_first(text: str) -> None:
    with_memory = load_engine()
    without = load_engine(settings=parse_settings({"memory": {"enabled": False}})[0])
    document = DocumentState.open("mem://short", text)
    first = with_memory.complete(document, 0, len(text))[0].text
    assert first == without.complete(document, 0, len(text))[0].text
    assert first.lower() not in text.lower().split()


def test_long_lines_split_into_stable_pieces() -> None:
    line = " ".join(["word"] * 200)
    pieces = piece_bounds(line, len(line))
    assert len(pieces) > 1
    assert "".join(line[a:b] for a, b in pieces) == line
    typing = piece_bounds(line, 700)  # the cursor mid-line: all but the last piece are stable
    assert typing[:-1] == pieces[: len(typing) - 1]


def assert_same_block(block: blocks.MemoryBlock, expected: blocks.MemoryBlock) -> None:
    assert block.words == expected.words and block.written == expected.written
    assert block.tokens == expected.tokens
    for name in ("vectors", "starts", "previous", "positions"):
        got, want = getattr(block, name), getattr(expected, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name


pair_words = st.sampled_from(["a", "b", "bb", "c", "zorblat", "Zorblat", "é"])
pairs = st.lists(st.tuples(pair_words, st.sampled_from(["", "a", "the", "<p>"])), max_size=30)


@settings(max_examples=300, deadline=None)
@given(old=pairs, new=pairs, cut=st.floats(0, 1), into_buffer=st.booleans())
def test_an_extended_block_equals_one_made_at_once(old, new, cut, into_buffer) -> None:
    rng = np.random.default_rng(len(old) * 31 + len(new))
    vectors = rng.standard_normal((len(old) + len(new), 4)).astype(np.float32)
    words = [word.lower() for word, _ in old + new]
    written = [word for word, _ in old + new]
    previous = [token for _, token in old + new]
    drop = int(cut * len(old))
    block = make_block(vectors[: len(old)], words[: len(old)], written[: len(old)], previous)
    out = np.full((len(old) + len(new) + 2, 4), np.nan, np.float32) if into_buffer else None
    tail = slice(len(old), None)
    extended = extended_block(
        block, drop, vectors[tail], words[tail], written[tail], previous[tail], out
    )
    expected = make_block(vectors[drop:], words[drop:], written[drop:], previous[drop:])
    assert_same_block(extended, expected)


@pytest.mark.parametrize("prepare", [False, True])
@pytest.mark.parametrize("window", [{"max_pairs": 24, "max_lines": 6}, {"max_lines": 3}])
def test_the_stable_block_moving_down_long_documents_equals_a_fresh_one(
    monkeypatch: pytest.MonkeyPatch, prepare: bool, window: dict
) -> None:
    """Two documents typed in turn, with a window so small that every line moves it: each
    stable block is extended (its first pairs dropped, new ones appended) into memory that
    the other document's replaced blocks gave back, and must equal one assembled afresh; the
    window's units (kept for the lines above the cursor's, carried on at each new line) must
    be those a fresh memory finds. With `prepare`, a space is prepared after every keystroke
    (the blocks made for it are adopted when it comes, dropped when another key comes)."""
    engine = engine_with(**window)
    extended: list[int] = []
    original = units.extended_block
    monkeypatch.setattr(units, "extended_block", lambda *a: extended.append(a[1]) or original(*a))
    adopted: list[bool] = []  # whether the adopted state moved the stable block
    adopt = document_memory.DocumentMemory.adopt
    monkeypatch.setattr(
        document_memory.DocumentMemory,
        "adopt",
        lambda self, *a: adopted.append(a[0].stable is not self.stable) or adopt(self, *a),
    )
    documents = [DocumentState.open(f"mem://moving-{n}", "") for n in range(2)]
    for number in range(14):
        for document in documents:
            for char in f"Line {number} of {NAME} and the people, said the keeper.\n":
                line = len(document.text) - 1
                column = len(document.text.content(line))
                document.edit((line, column), (line, column), char)
                words_at_end(engine, document)
                if prepare:
                    engine.prepare_next_word(document, *end_of(document))
                kept = document.caches.memory
                fresh_block = assemble(kept.last_units[:-1], engine.bundle.output_dim)
                assert_same_block(kept.stable, fresh_block)
                cursor = analyse_cursor(document.text, *end_of(document), engine.settings.context)
                if cursor is not None:  # None right after punctuation
                    fresh_memory = document_memory.DocumentMemory(engine.bundle.output_dim)
                    fresh_units, _ = fresh_memory.window_units(
                        engine.memory_reader(document), document.text, cursor
                    )
                    assert [unit.written for unit in kept.last_units] == [
                        unit.written for unit in fresh_units
                    ]
    moving_by_words = "max_pairs" in window  # else it moves at each line, by its end
    if prepare:  # the stable blocks moved when a prepared space came, made in the pause
        assert len(adopted) > 20 and (sum(adopted) > 10 or not moving_by_words)
    else:
        assert len(extended) > 20 and sum(drop > 0 for drop in extended) > 10
    fresh_engine = engine_with(**window)
    for document in documents:
        fresh = DocumentState.open("mem://fresh", document.source)
        assert words_at_end(engine, document) == words_at_end(fresh_engine, fresh)


@settings(max_examples=500, deadline=None)
@given(
    first=st.text(st.sampled_from("ab1 \n\t,.")) | st.text(),
    space=st.sampled_from(["", " ", "\t", "  ", "\n"]),
    rest=st.text(st.sampled_from("ab1 \n\t,.")) | st.text(),
)
def test_a_piece_tokenized_after_its_start_tokenizes_like_a_whole_one(first, space, rest) -> None:
    """piece_tokens reuses the tokens of the piece tokenized just before when it is a prefix
    ending in a space or tab (the cursor's piece, one word shorter)."""
    pieces.piece_tokens.cache_clear()
    pieces.piece_tokens(first + space)
    assert pieces.piece_tokens(first + space + rest) == pieces._tokens_of(first + space + rest)
