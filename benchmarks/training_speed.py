"""Training cost of continuous vs softmax output at vocabulary sizes 20k, 50k and 200k.

For each vocabulary size and output kind, the same network (the exporter's `Predictor`, the
default bundle's shape) trains for the same wall-clock budget on the same sequence of batches of
the corpus's training split, with the exporter's loss (`token_loss`: cosine to frozen
MiniLM-static target vectors, or cross-entropy), optimiser (Adam) and clipping. Reported:
training tokens per second (time of the steps only) and the exporter's dev figures at the end of
the budget (next-word top-1/top-6 and KSR@6 on dev text, the same decoding for both heads): the
quality each output reaches in the same time.

The corpus has fewer distinct words than 200k (69,623 here): the 200k vocabulary is padded with
entries that never occur, so its output layer has the full size. That run measures cost only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from nextword.exporter.data import (
    IGNORE_INDEX,
    TokenizedCorpus,
    VocabConfig,
    batch_arrays,
    build_vocabulary,
    epoch_batches,
    make_chunks,
    provisional_to_vocab,
    tokenize_corpus,
)
from nextword.exporter.evaluate import evaluate, token_loss
from nextword.exporter.losses import LossConfig
from nextword.exporter.model import Predictor, PredictorConfig
from nextword.exporter.targets import minilm_static, random_targets
from nextword.server.model.vocab import Vocabulary

log = logging.getLogger("benchmarks.training")

_PAD = "\U000f0000pad"  # private-use prefix: sorts after every real word, never typed


@dataclass
class TrainingSpeedConfig:
    corpus: list[Path]
    vocab_sizes: tuple[int, ...] = (20_000, 50_000, 200_000)
    seconds: float = 45.0
    """Training time per run (the steps' own time, not data preparation or evaluation)."""
    max_steps: int = 100_000
    batch_size: int = 32
    input_dim: int = 128
    hidden: int = 512
    max_context_tokens: int = 64
    dev_tokens: int = 4000
    threads: int = 1
    lr: float = 2e-3
    targets: str = "minilm-static"


@dataclass
class TrainingSpeedRow:
    vocab_size: int
    distinct_words: int
    output: str
    steps: int
    tokens: int
    seconds: float
    tokens_per_second: float
    dev_loss: float
    dev_top1: float
    dev_top6: float
    dev_ksr6: float


def dev_sample(chunks, max_tokens: int) -> np.ndarray:
    """Evenly spaced dev chunk indices (every corpus file represented), about max_tokens."""
    if chunks.n_tokens <= max_tokens:
        return np.arange(len(chunks))
    count = max(1, int(len(chunks) * max_tokens / chunks.n_tokens))
    return np.unique(np.linspace(0, len(chunks) - 1, count).astype(np.int64))


def padded_vocabulary(corpus: TokenizedCorpus, size: int) -> Vocabulary:
    vocab = build_vocabulary(corpus, VocabConfig(max_words=size, min_count=1))
    missing = size - vocab.n_words
    if missing <= 0:
        return vocab
    words = {vocab.folded[i]: (vocab.display[i], vocab.counts[i]) for i in range(vocab.n_words)}
    words.update({f"{_PAD}{i:07d}": (f"{_PAD}{i:07d}", 0) for i in range(missing)})
    symbols = {vocab.folded[i]: vocab.counts[i] for i in range(vocab.n_words, len(vocab))}
    return Vocabulary.build(words, symbols)


def target_table(vocab: Vocabulary, source: str) -> np.ndarray:
    if source == "minilm-static":
        return minilm_static(vocab)
    return random_targets(len(vocab), 384, 0)


def run_one(
    config: TrainingSpeedConfig, corpus: TokenizedCorpus, vocab: Vocabulary, output: str
) -> TrainingSpeedRow:
    lookup = provisional_to_vocab(corpus, vocab)
    train = make_chunks([lookup[p] for p in corpus.train], vocab, config.max_context_tokens)
    dev = make_chunks([lookup[p] for p in corpus.dev], vocab, config.max_context_tokens)
    word_length = np.asarray(
        [len(s) if k == "word" else 0 for s, k in zip(corpus.symbols, corpus.kinds)], np.int64
    )
    dev_lengths = np.concatenate([word_length[p] for p in corpus.dev])
    targets = None
    if output == "continuous":
        targets = torch.from_numpy(np.asarray(target_table(vocab, config.targets)))
    torch.manual_seed(0)
    model = Predictor(
        PredictorConfig(
            vocab_size=len(vocab), input_dim=config.input_dim, hidden_size=config.hidden,
            output=output, output_dim=384 if targets is not None else config.hidden,
        )
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_config = LossConfig("cosine")
    batches = epoch_batches(train, config.batch_size, 0, 0)
    model.train()
    tokens, seconds, step = 0, 0.0, 0
    while seconds < config.seconds and step < config.max_steps:
        inputs, target_ids = batch_arrays(train, batches[step % len(batches)], vocab.unknown_id)
        started = time.perf_counter()
        outputs, _ = model(torch.from_numpy(inputs))
        flat = torch.from_numpy(target_ids).reshape(-1)
        keep = flat != IGNORE_INDEX
        loss = token_loss(
            outputs.reshape(-1, outputs.shape[-1])[keep], flat[keep], targets, loss_config
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        seconds += time.perf_counter() - started
        tokens += int(keep.sum())
        step += 1
    # Small evaluation batches: a 200k-word softmax output is 0.8 GB per 16 sequences.
    figures = evaluate(
        model, dev, dev_lengths, dev_sample(dev, config.dev_tokens), vocab, targets, loss_config,
        batch_size=16,
    )  # fmt: skip
    real_words = sum(1 for w in vocab.folded[: vocab.n_words] if not w.startswith(_PAD))
    row = TrainingSpeedRow(
        len(vocab), real_words, output, step, tokens, seconds, tokens / seconds,
        figures.loss, 100 * figures.top1, 100 * figures.top6, 100 * figures.ksr6,
    )  # fmt: skip
    log.info("training %s vocab %d: %.0f tokens/s", output, len(vocab), row.tokens_per_second)
    return row


def run_training_speed(config: TrainingSpeedConfig) -> list[TrainingSpeedRow]:
    torch.set_num_threads(config.threads)
    corpus = tokenize_corpus(config.corpus, 20)
    rows: list[TrainingSpeedRow] = []
    for size in config.vocab_sizes:
        vocab = padded_vocabulary(corpus, size)
        for output in ("continuous", "softmax"):
            rows.append(run_one(config, corpus, vocab, output))
    return rows


def rows_to_json(rows: list[TrainingSpeedRow]) -> list[dict]:
    return [asdict(row) for row in rows]
