"""Corpus word counts (exporter/ngrams.py writes, server/model/ngrams.py reads), ranked."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    TINY_BUNDLE,
    assert_prefix_range_agrees,
    default_bundle_present,
    word_ids,
    word_vocab,
)

from nextword.exporter.ngrams import count_ngrams, sequences
from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.model.bundle import BundleError, load_bundle, write_manifest
from nextword.server.model.ngrams import (
    FILE_NAME,
    NgramError,
    NgramTable,
    load_ngrams,
    table_from_arrays,
)
from nextword.server.model.vocab import Vocabulary
from nextword.server.settings import Settings

WORDS = ["and", "gentlemen", "ladies", "the", "women"]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return word_vocab(WORDS)


def table_of(arrays: dict[str, np.ndarray]) -> NgramTable:
    """The table the server reads (every array checked), for the test vocabulary's arrays."""
    size = int(arrays["vocab_size"][0])
    return table_from_arrays(arrays, size, len(WORDS))


def test_sequences_put_each_chunk_behind_its_marker() -> None:
    tokens = np.asarray([5, 6, 7, 8, 9])
    flat = sequences(tokens, np.asarray([0, 3]), np.asarray([3, 2]), np.asarray([1, 2]))
    assert flat.tolist() == [1, 5, 6, 7, -1, 2, 8, 9, -1]


def test_counts_follow_the_networks_sequences(vocab: Vocabulary) -> None:
    paragraphs = [
        word_ids(vocab, "ladies and gentlemen , ladies and women"),
        word_ids(vocab, "ladies and gentlemen"),
        word_ids(vocab, "the ladies and gentlemen"),
    ]
    arrays = count_ngrams(paragraphs, vocab, max_context_tokens=64, min_count=1)
    table = table_of(arrays)
    v = vocab.index
    level = table.levels[0]
    row = level.find(v["and"])
    nexts = level.next_ids[level.offsets[row] : level.offsets[row + 1]].tolist()
    counts = level.counts[level.offsets[row] : level.offsets[row + 1]].tolist()
    assert dict(zip(nexts, counts)) == {v["gentlemen"]: 3, v["women"]: 1}
    assert int(level.total[row]) == 4
    # "gentlemen ," is not a word continuation: "gentlemen" is no context at all
    assert level.find(v["gentlemen"]) == -1
    # the paragraph marker is a context: <p> ladies (twice), <p> the
    trigrams = table.levels[1]
    row = trigrams.find(v["<p>"] * len(vocab) + v["ladies"])
    assert int(trigrams.total[row]) == 2
    # pruning keeps the totals, drops the rare continuation
    pruned = table_of(count_ngrams(paragraphs, vocab, 64, min_count=2)).levels[0]
    row = pruned.find(v["and"])
    assert int(pruned.total[row]) == 4
    assert pruned.offsets[row + 1] - pruned.offsets[row] == 1


def test_no_ngram_spans_a_context_reset(vocab: Vocabulary) -> None:
    paragraph = word_ids(vocab, "ladies and gentlemen ladies and gentlemen")
    bigrams = table_of(count_ngrams([paragraph], vocab, max_context_tokens=2)).levels[0]
    v = vocab.index
    # chunks: [<p> ladies and] [<cont> gentlemen ladies] [<cont> and gentlemen]
    row = bigrams.find(v["and"])
    assert row >= 0
    assert int(bigrams.total[row]) == 1  # "and gentlemen" inside the last chunk only
    assert bigrams.find(v["<cont>"]) >= 0


def test_the_mixture_is_a_distribution(vocab: Vocabulary) -> None:
    """explicit(w) + share * p_network(w) sums to one over all words, for any context."""
    paragraphs = [
        word_ids(vocab, "ladies and gentlemen , ladies and women the ladies"),
        word_ids(vocab, "the women and the ladies and gentlemen and the women"),
        word_ids(vocab, "and the and the and women"),
    ]
    rng = np.random.default_rng(0)
    n = vocab.n_words
    for min_count in (1, 2):
        table = table_of(count_ngrams(paragraphs, vocab, 64, min_count))
        for context in [("ladies", "and"), ("and", "the"), ("<p>", "the"), ("women", "women")]:
            key = tuple(vocab.index[word] for word in context)
            for discount in (0.0, 0.5, 0.9):
                network = rng.dirichlet(np.ones(n))
                evidence = table.evidence(key, 0, n, discount)
                total = evidence.explicit.sum() + evidence.network_share * network.sum()
                assert total == pytest.approx(1.0)
                assert_prefix_range_agrees(table, vocab, key, discount)


def test_counts_decide_an_unambiguous_phrase(vocab: Vocabulary) -> None:
    paragraphs = [word_ids(vocab, "ladies and gentlemen")] * 5 + [word_ids(vocab, "and women")] * 20
    table = table_of(count_ngrams(paragraphs, vocab, 64, min_count=2))
    key = (vocab.index["ladies"], vocab.index["and"])
    evidence = table.evidence(key, 0, vocab.n_words, 0.75)
    best = dict(zip(evidence.ids.tolist(), evidence.explicit.tolist()))
    assert max(best, key=best.get) == vocab.index["gentlemen"]
    # after "and" alone, "women" wins
    evidence = table.evidence(key[1:], 0, vocab.n_words, 0.75)
    best = dict(zip(evidence.ids.tolist(), evidence.explicit.tolist()))
    assert max(best, key=best.get) == vocab.index["women"]


def bundle_with_counts(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(TINY_BUNDLE, target)
    np.savez_compressed(target / FILE_NAME, **arrays)
    write_manifest(target, load_bundle(target).manifest)
    return target


def test_a_bundle_with_bad_counts_is_refused_by_name(tmp_path: Path) -> None:
    tiny = load_bundle(TINY_BUNDLE)
    paragraphs = [np.arange(min(6, tiny.vocab.n_words), dtype=np.int32)] * 3
    arrays = count_ngrams(paragraphs, tiny.vocab, 64, min_count=1)
    assert load_bundle(bundle_with_counts(tmp_path / "good", arrays)).ngrams is not None
    other = dict(arrays, vocab_size=np.asarray([len(tiny.vocab) + 1]))
    with pytest.raises(BundleError, match="ngrams.npz was counted for another vocabulary"):
        load_bundle(bundle_with_counts(tmp_path / "size", other))
    repeated = arrays["bigram_context"].copy()
    repeated[1] = 0  # the second context equals the first
    unsorted = dict(arrays, bigram_context=repeated)
    with pytest.raises(BundleError, match="contexts are not sorted"):
        load_bundle(bundle_with_counts(tmp_path / "order", unsorted))
    missing = {k: v for k, v in arrays.items() if k != "trigram_total"}
    with pytest.raises(BundleError, match="no trigram_total"):
        load_bundle(bundle_with_counts(tmp_path / "missing", missing))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(NgramError, match="not a readable archive"):
        load_ngrams(tmp_path / "junk.npz", len(tiny.vocab), tiny.vocab.n_words)


# -- the default bundle ---------------------------------------------------------------------------

needs_default = pytest.mark.skipif(
    not default_bundle_present() or not (load_bundle().ngrams if default_bundle_present() else 0),
    reason="no default bundle with counts",
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine()


@needs_default
def test_log_total_is_the_partition_of_the_exact_scores(engine: Engine) -> None:
    document = DocumentState.open("mem://z", "")
    for words in (["the"], ["ladies", "and"], ["it", "is", "a", "truth"]):
        prediction = engine.prediction(document, engine.context_key(words))
        scores = engine.search.rows() @ engine.search.query(prediction, engine.settings.ranking)[0]
        exact = float(np.log(np.exp(scores.astype(np.float64) - scores.max()).sum()))
        assert engine.search.log_total(prediction, engine.settings.ranking) == pytest.approx(
            exact + scores.max(), abs=1e-2
        )
        assert prediction.step is not None and prediction.step.log_total is not None


@needs_default
def test_ranking_equals_the_mixture_over_every_matching_word(engine: Engine) -> None:
    """The engine's best words are the best of (1 - l) p_network + l p_ngram over the whole
    prefix range, although it only scores the network's and the counts' shortlists."""
    document = DocumentState.open("mem://m", "")
    vocab = engine.vocab
    settings = engine.settings.ngrams
    for words, prefix in [
        (["ladies", "and"], ""), (["ladies", "and"], "g"), (["of", "the"], ""),
        (["the", "president", "of", "the"], "u"), (["it", "is", "a"], "t"),
    ]:  # fmt: skip
        prediction = engine.prediction(document, engine.context_key(words))
        lo, hi = vocab.prefix_range(prefix)
        network = (
            engine.search.rows()[lo:hi]
            @ engine.search.query(prediction, engine.settings.ranking)[0]
        )
        p_network = np.exp(
            network.astype(np.float64)
            - engine.search.log_total(prediction, engine.settings.ranking)
        )
        evidence = engine.ranker.ngrams.evidence(prediction.key, lo, hi, settings.discount)
        explicit = np.zeros(hi - lo)
        explicit[evidence.ids - lo] = evidence.explicit
        weight = settings.weight
        mixed = ((1 - weight) + weight * evidence.network_share) * p_network + weight * explicit
        expected = [vocab.folded[lo + i] for i in np.argsort(-mixed, kind="stable")[:6]]
        ranked = engine.rank(prediction, prefix, {}, limit=6)
        assert [candidate.folded for candidate in ranked] == expected, (words, prefix)


@needs_default
def test_counts_off_gives_the_network_alone(engine: Engine) -> None:
    document = DocumentState.open("mem://off", "Ladies and ")
    settings = Settings()
    settings.ngrams.enabled = False
    alone = load_engine(None, settings)
    words = [c.text for c in alone.complete(document, 0, 11)]
    assert "gentlemen" not in words
    assert [c.text for c in engine.complete(document, 0, 11)][0] == "gentlemen"


def test_a_trigram_without_its_bigram_is_refused(tmp_path: Path, vocab: Vocabulary) -> None:
    """`evidence` adds a trigram's count onto its bigram's in place, so load checks they pair
    (here in format 1: absolute ids and offsets, no `format` array)."""
    size, v = len(vocab), vocab.index
    arrays = {
        "vocab_size": np.asarray([size]),
        "bigram_context": np.asarray([v["and"]], np.uint32),
        "bigram_total": np.asarray([2], np.uint32),
        "bigram_offsets": np.asarray([0, 1], np.uint32),
        "bigram_next": np.asarray([v["women"]], np.uint16),
        "bigram_count": np.asarray([2], np.uint16),
        "trigram_context": np.asarray([v["ladies"] * size + v["and"]], np.uint32),
        "trigram_total": np.asarray([2], np.uint32),
        "trigram_offsets": np.asarray([0, 1], np.uint32),
        "trigram_next": np.asarray([v["gentlemen"]], np.uint16),
        "trigram_count": np.asarray([2], np.uint16),
    }
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(NgramError, match="not a kept bigram"):
        load_ngrams(tmp_path / "bad.npz", size, vocab.n_words)
    arrays["trigram_next"] = np.asarray([v["women"]], np.uint16)
    np.savez(tmp_path / "good.npz", **arrays)
    table = load_ngrams(tmp_path / "good.npz", size, vocab.n_words)
    evidence = table.evidence((v["ladies"], v["and"]), 0, vocab.n_words, 0.5)
    assert evidence.ids.tolist() == [v["women"]]
    # trigram (2 - 0.5) / 2 + backoff 0.25 * bigram (2 - 0.5) / 2
    assert evidence.explicit[0] == pytest.approx(0.75 + 0.25 * 0.75)
    assert evidence.network_share == pytest.approx(0.25 * 0.25)


def test_count_settings_are_checked() -> None:
    from nextword.server.settings import NgramSettings, parse_settings

    settings, problems = parse_settings(
        {"nextword": {"ngrams": {"weight": 1.5, "discount": 1.0, "enabled": False}}}
    )
    assert settings.ngrams.enabled is False
    defaults = NgramSettings()
    assert settings.ngrams.weight == defaults.weight and settings.ngrams.discount == 0.75
    assert len(problems) == 2
    assert "ngrams.weight = 1.5 is invalid (expected a number from 0 to 1)" in problems[0]
    settings, problems = parse_settings({"ngrams": {"weight": 1, "discount": 0}})
    assert (settings.ngrams.weight, settings.ngrams.discount, problems) == (1.0, 0.0, [])


def test_nextword_ngrams_leaves_the_bundle_whole_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    from nextword.exporter import ngrams as ngrams_command

    bundle = tmp_path / "bundle"
    shutil.copytree(TINY_BUNDLE, bundle)
    words = [line.split("\t")[0] for line in (bundle / "vocab.tsv").read_text().splitlines()]
    rng = random.Random(0)
    corpus = tmp_path / "corpus.txt"
    lines = [" ".join(rng.choice(words[:40]) for _ in range(12)) for _ in range(200)]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    arguments = ["--bundle", str(bundle), "--corpus", str(corpus)]
    assert ngrams_command.main([*arguments, "--min-count", "2"]) == 0
    before = {path.name: path.read_bytes() for path in bundle.iterdir()}
    assert "ngrams.npz" in before

    def disk_full(*args: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(ngrams_command, "write_manifest", disk_full)
    assert ngrams_command.main([*arguments, "--min-count", "1"]) == 1
    assert {path.name: path.read_bytes() for path in bundle.iterdir()} == before
    load_bundle(bundle)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bundle", "corpus.txt"]
