"""Pruning the corpus counts to a size (exporter/ngram_pruning.py), 4-grams, and the file format's
checks at load (server/ngrams.py)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_prefix_range_agrees, word_ids, word_vocab

from nextword.exporter.ngram_pruning import (
    compressed_size,
    count_order,
    link_tails,
    raise_tails,
    ranks,
    relative_entropy_costs,
)
from nextword.exporter.ngrams import count_ngrams, sequences
from nextword.server.engine.engine import Engine
from nextword.server.model.ngrams import (
    FILE_NAME,
    NgramError,
    NgramTable,
    encode_level,
    load_ngrams,
    table_from_arrays,
)
from nextword.server.model.vocab import Vocabulary
from nextword.server.settings import Settings

WORDS = ["a", "and", "barks", "big", "cat", "dog", "gentlemen", "ladies", "sat", "the", "women"]
WORDS += [f"w{number:03d}" for number in range(300)]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return word_vocab(WORDS)


def table_of(arrays: dict[str, np.ndarray], vocab: Vocabulary) -> NgramTable:
    return table_from_arrays(arrays, len(vocab), vocab.n_words)


def kept(table: NgramTable, vocab: Vocabulary, text: str) -> bool:
    """Whether the table holds the n-gram `text` (context words, then the word)."""
    *context, word = [vocab.index[token] for token in text.split()]
    level = table.levels[len(context) - 1]
    key = sum(id_ * len(vocab) ** power for power, id_ in enumerate(reversed(context)))
    row = level.find(key)
    if row < 0:
        return False
    return word in level.next_ids[level.offsets[row] : level.offsets[row + 1]].tolist()


def noise(vocab: Vocabulary, paragraphs: int, seed: int = 0) -> list[np.ndarray]:
    """Paragraphs of random filler words: many n-grams seen once."""
    rng = np.random.default_rng(seed)
    fillers = [vocab.index[f"w{number:03d}"] for number in range(300)]
    return [rng.choice(fillers, size=8).astype(np.int32) for _ in range(paragraphs)]


def test_a_frequent_phrase_survives_a_tight_budget(vocab: Vocabulary) -> None:
    """Among many n-grams seen once, "ladies and gentlemen" is kept: "and" alone would say
    "women" as often."""
    paragraphs = [word_ids(vocab, "ladies and gentlemen"), word_ids(vocab, "cat and women")] * 40
    paragraphs += noise(vocab, 400)
    everything = count_ngrams(paragraphs, vocab, 64)
    budget = compressed_size(everything) // 4
    pruned = count_ngrams(paragraphs, vocab, 64, max_bytes=budget)
    assert compressed_size(pruned) <= budget
    table = table_of(pruned, vocab)
    assert kept(table, vocab, "ladies and gentlemen")
    assert kept(table, vocab, "and gentlemen")
    assert sum(len(level.next_ids) for level in table.levels) < len(everything["bigram_next"])


def test_the_size_budget_holds_and_more_room_keeps_more(vocab: Vocabulary) -> None:
    paragraphs = noise(vocab, 600, seed=1)
    sizes, numbers = [], []
    for budget in (6_000, 12_000, 24_000):
        arrays = count_ngrams(paragraphs, vocab, 64, order=4, max_bytes=budget)
        table = table_of(arrays, vocab)  # every kept n-gram's tail is kept: the load checks it
        sizes.append(compressed_size(arrays))
        numbers.append(sum(len(level.next_ids) for level in table.levels))
        assert sizes[-1] <= budget
        assert sizes[-1] > 0.9 * budget  # it fills the room it has
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    with pytest.raises(ValueError, match="no n-gram fits"):
        count_ngrams(paragraphs, vocab, 64, max_bytes=200)


def test_a_singleton_the_backoff_predicts_goes_before_one_it_does_not(vocab: Vocabulary) -> None:
    """After "dog" comes "barks" every time, so "big dog barks" (seen once) says nothing the
    bigram does not: relative entropy drops it first. "the cat sat" (also once) is news: after
    "cat" comes "women" otherwise."""
    paragraphs = [word_ids(vocab, "a dog barks")] * 30 + [word_ids(vocab, "ladies cat women")] * 30
    paragraphs += [word_ids(vocab, "big dog barks"), word_ids(vocab, "the cat sat")]
    chunks_flat = _flat(paragraphs, vocab)
    orders = [count_order(chunks_flat, length, len(vocab), vocab.n_words) for length in (1, 2)]
    link_tails(orders, len(vocab))
    costs = relative_entropy_costs(orders, vocab.n_words, discount=0.75)
    places = ranks(raise_tails(orders, costs))
    trigrams = orders[1]
    key = {
        text: np.flatnonzero(
            (trigrams.contexts[trigrams.row] == _key(vocab, text.split()[:2]))
            & (trigrams.words == vocab.index[text.split()[2]])
        )[0]
        for text in ("big dog barks", "the cat sat")
    }
    assert trigrams.counts[key["big dog barks"]] == trigrams.counts[key["the cat sat"]] == 1
    assert costs[1][key["big dog barks"]] < costs[1][key["the cat sat"]] / 100
    assert places[1][key["big dog barks"]] > places[1][key["the cat sat"]]
    # with room for all but a few n-grams, the redundant one is gone and the news is kept
    everything = count_ngrams(paragraphs, vocab, 64)
    pruned = table_of(
        count_ngrams(paragraphs, vocab, 64, max_bytes=compressed_size(everything) - 40), vocab
    )
    assert kept(pruned, vocab, "the cat sat")
    assert not kept(pruned, vocab, "big dog barks")


def _flat(paragraphs: list[np.ndarray], vocab: Vocabulary) -> np.ndarray:
    from nextword.exporter.data import make_chunks

    chunks = make_chunks(paragraphs, vocab, 64)
    return sequences(chunks.tokens, chunks.starts, chunks.lengths, chunks.first)


def _key(vocab: Vocabulary, words: list[str]) -> int:
    return sum(vocab.index[w] * len(vocab) ** p for p, w in enumerate(reversed(words)))


FOURGRAM_TEXT = [
    "the ladies and gentlemen", "the ladies and gentlemen", "big ladies and women",
    "ladies and women", "ladies and women", "a dog and cat", "the dog barks",
]  # fmt: skip


def test_fourgram_evidence_is_a_distribution(vocab: Vocabulary) -> None:
    """explicit(w) + share * p_network(w) sums to one over all words, through four levels, and
    a prefix's range sees the same numbers as the whole vocabulary."""
    paragraphs = [word_ids(vocab, text) for text in FOURGRAM_TEXT]
    table = table_of(count_ngrams(paragraphs, vocab, 64, order=4), vocab)
    assert len(table.levels) == 3 and table.context_length == 3
    rng = np.random.default_rng(0)
    n = vocab.n_words
    v = vocab.index
    contexts = ["the ladies and", "big ladies and", "<p> ladies and", "dog ladies and",
                "a dog and", "cat cat cat"]  # fmt: skip
    for context in contexts:
        key = tuple(v[word] for word in context.split())
        for discount in (0.0, 0.5, 0.9):
            network = rng.dirichlet(np.ones(n))
            evidence = table.evidence(key, 0, n, discount)
            assert evidence.explicit.sum() + evidence.network_share == pytest.approx(1.0)
            assert (evidence.explicit >= 0).all() and evidence.network_share >= 0
            total = evidence.explicit.sum() + evidence.network_share * network.sum()
            assert total == pytest.approx(1.0)
            assert_prefix_range_agrees(table, vocab, key, discount)


def test_fourgram_evidence_by_hand(vocab: Vocabulary) -> None:
    paragraphs = [word_ids(vocab, text) for text in FOURGRAM_TEXT]
    table = table_of(count_ngrams(paragraphs, vocab, 64, order=4), vocab)
    v, d = vocab.index, 0.5
    evidence = table.evidence((v["the"], v["ladies"], v["and"]), 0, vocab.n_words, d)
    got = dict(zip(evidence.ids.tolist(), evidence.explicit.tolist()))
    # "and" -> gentlemen 2, women 3, cat 1 (6; 3 kinds); "ladies and" -> gentlemen 2, women 3;
    # "the ladies and" -> gentlemen 2
    bigram = {"gentlemen": (2 - d) / 6, "women": (3 - d) / 6, "cat": (1 - d) / 6}
    backoff2 = 1 - (5 - 2 * d) / 5
    trigram = {w: backoff2 * p for w, p in bigram.items()}
    trigram["gentlemen"] += (2 - d) / 5
    trigram["women"] += (3 - d) / 5
    backoff3 = 1 - (2 - d) / 2
    fourgram = {w: backoff3 * p for w, p in trigram.items()}
    fourgram["gentlemen"] += (2 - d) / 2
    assert got == pytest.approx({v[w]: p for w, p in fourgram.items()})
    assert evidence.network_share == pytest.approx(3 * d / 6 * backoff2 * backoff3)
    # a 4-gram context never seen backs off to the trigram's numbers exactly
    other = table.evidence((v["dog"], v["ladies"], v["and"]), 0, vocab.n_words, d)
    assert dict(zip(other.ids.tolist(), other.explicit.tolist())) == pytest.approx(
        {v[w]: p for w, p in trigram.items()}
    )


def test_the_engine_keeps_fourgram_evidence_apart_by_the_third_last_word(
    tiny_engine: Engine,
) -> None:
    """Its lookup cache is keyed by as many ids as the counts read."""
    bundle = tiny_engine.bundle
    vocab = bundle.vocab
    words = [vocab.folded[i] for i in range(6)]
    a, b, c, x, y, z = (vocab.index[w] for w in words)
    paragraphs = [np.asarray([a, b, c, x])] * 3 + [np.asarray([y, b, c, z])] * 3
    arrays = count_ngrams(paragraphs, vocab, 64, order=4)
    table = table_from_arrays(arrays, len(vocab), vocab.n_words)
    ranker = Engine(bundle, Settings()).ranker
    ranker.ngrams = table
    first = ranker.ngram_evidence((a, b, c), 0, vocab.n_words, Settings())
    second = ranker.ngram_evidence((y, b, c), 0, vocab.n_words, Settings())
    assert first is not None and second is not None
    best = {int(e.ids[np.argmax(e.explicit)]) for e in (first, second)}
    assert best == {x, z}


# -- the file's checks ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fourgram_arrays(vocab: Vocabulary) -> dict[str, np.ndarray]:
    return count_ngrams([word_ids(vocab, text) for text in FOURGRAM_TEXT], vocab, 64, order=4)


def _changed(arrays: dict[str, np.ndarray], name: str, change) -> dict[str, np.ndarray]:
    array = arrays[name].copy()
    change(array)
    return dict(arrays, **{name: array})


def _set(index: int | slice, value: int):
    def change(array: np.ndarray) -> None:
        array[index] = value

    return change


DAMAGE = [
    ("format", _set(0, 3), "has format 3"),
    ("order", _set(0, 5), "holds 5-grams"),
    ("vocab_size", _set(0, 7), "another vocabulary"),
    ("trigram_context", _set(1, 0), "trigram contexts are not sorted"),
    ("fourgram_context", _set(0, (1 << 32) - 1), "fourgram context is out of range"),
    ("bigram_next", _set(slice(None), 0), "bigram continuations are not ascending"),
    ("bigram_next", _set(0, 60000), "bigram continuations are not ascending word ids"),
    ("trigram_count", _set(0, 0), "trigram count is out of range"),
    ("fourgram_total", _set(slice(None), 0), "fourgram totals are smaller than their counts"),
    ("trigram_total", _set(slice(None), 1), "trigram totals are smaller than their counts"),
    ("bigram_kept", _set(0, 9), "kept numbers do not cover"),
]


@pytest.mark.parametrize(("name", "change", "reason"), DAMAGE, ids=[d[2] for d in DAMAGE])
def test_a_damaged_file_is_refused_with_its_reason(
    vocab: Vocabulary, fourgram_arrays: dict[str, np.ndarray], name: str, change, reason: str
) -> None:
    table_of(fourgram_arrays, vocab)  # the undamaged arrays load
    with pytest.raises(NgramError, match=reason):
        table_of(_changed(fourgram_arrays, name, change), vocab)


def test_missing_or_mistyped_arrays_are_refused(
    vocab: Vocabulary, fourgram_arrays: dict[str, np.ndarray]
) -> None:
    missing = {k: v for k, v in fourgram_arrays.items() if k != "fourgram_count"}
    with pytest.raises(NgramError, match="has no fourgram_count"):
        table_of(missing, vocab)
    mistyped = dict(fourgram_arrays, trigram_total=fourgram_arrays["trigram_total"].astype(float))
    with pytest.raises(NgramError, match="trigram_total is float64"):
        table_of(mistyped, vocab)
    short = dict(fourgram_arrays, bigram_total=fourgram_arrays["bigram_total"][:-1])
    with pytest.raises(NgramError, match="bigram arrays disagree in length"):
        table_of(short, vocab)


def test_a_fourgram_without_its_trigram_is_refused(vocab: Vocabulary) -> None:
    v, size = vocab.index, len(vocab)
    arrays = count_ngrams([word_ids(vocab, "the ladies and gentlemen")] * 2, vocab, 64, order=4)
    # the 4-gram "the ladies and" -> "women": its tail "ladies and women" was never counted
    level = encode_level(
        np.asarray([(v["the"] * size + v["ladies"]) * size + v["and"]]), np.asarray([2]),
        np.asarray([1]), np.asarray([v["women"]]), np.asarray([2]), vocab.n_words,
    )  # fmt: skip
    arrays |= {f"fourgram_{part}": values for part, values in level.items()}
    with pytest.raises(NgramError, match="a fourgram's last words are not a kept trigram"):
        table_of(arrays, vocab)


def test_a_damaged_archive_is_one_line_error(
    tmp_path: Path, vocab: Vocabulary, fourgram_arrays: dict[str, np.ndarray]
) -> None:
    stream = io.BytesIO()
    np.savez_compressed(stream, **fourgram_arrays)
    whole = stream.getvalue()
    good = tmp_path / FILE_NAME
    good.write_bytes(whole)
    assert len(load_ngrams(good, len(vocab), vocab.n_words).levels) == 3
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(NgramError, match=f"^{FILE_NAME} is (not a readable archive|damaged)"):
        load_ngrams(cut, len(vocab), vocab.n_words)
    # a flipped byte inside a compressed member: zipfile finds the checksum wrong
    with zipfile.ZipFile(io.BytesIO(whole)) as archive:
        member = archive.getinfo("fourgram_next.npy")
    header = member.header_offset
    name_length, extra_length = np.frombuffer(whole[header + 26 : header + 30], "<u2").tolist()
    flipped = bytearray(whole)
    flipped[header + 30 + name_length + extra_length + member.compress_size // 2] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(NgramError) as raised:
        load_ngrams(bad, len(vocab), vocab.n_words)
    assert "\n" not in str(raised.value) and str(raised.value).startswith(FILE_NAME)
